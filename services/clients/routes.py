"""/clients: signup, profiles, and insurance policies."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody

from schemas.clients import (
    ClientCreateIn,
    ClientInvitedOut,
    ClientOut,
    ClientPatchIn,
    PolicyEndIn,
    PolicyIn,
    PolicyOut,
    PolicyPatchIn,
    SignupAcceptedOut,
    SignupIn,
)
from services.clients import policies, service, signup
from services.core.addresses import client_address
from services.core.auth import PUBLIC, allow
from services.core.deps import AppSettings, Caller, Conn, RedisClient
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page


class ClientController(Controller):
    path = "/clients"
    tags = ["clients"]

    @post("/signup", opt=PUBLIC, operation_id="sign_up_client", status_code=202)
    async def sign_up(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SignupIn],
        conn: Conn,
        settings: AppSettings,
        redis: RedisClient,
    ) -> SignupAcceptedOut:
        """Start a client signup; the same answer for every address, the rest goes by email
        (a verification link for a new address, a notice for a registered one)."""
        return await signup.sign_up(conn, redis, settings, data, client_address(request))

    @post("/", guards=[allow("ops")], operation_id="create_client", status_code=201)
    async def create(
        self, data: JSONBody[ClientCreateIn], conn: Conn, settings: AppSettings, actor: Caller
    ) -> ClientInvitedOut:
        """Create a client without a password; the answer carries their invitation token."""
        return await service.create_client(conn, settings, actor, data)

    @get("/", guards=[allow("ops", "provider")], operation_id="list_clients")
    async def list_(
        self,
        conn: Conn,
        actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[ClientOut]:
        """Clients the caller may see: all for ops, a provider's own clients."""
        return await service.list_clients(conn, actor, cursor, limit)

    @get(
        "/{client_id:uuid}", guards=[allow("ops", "provider", "client")], operation_id="get_client"
    )
    async def get_one(self, client_id: FromPath[uuid.UUID], conn: Conn, actor: Caller) -> ClientOut:
        """One client's profile."""
        return await service.get_client(conn, actor, client_id)

    @patch("/{client_id:uuid}", guards=[allow("ops", "client")], operation_id="update_client")
    async def update(
        self,
        client_id: FromPath[uuid.UUID],
        data: JSONBody[ClientPatchIn],
        conn: Conn,
        actor: Caller,
    ) -> ClientOut:
        """Change a client's profile (the client themself or ops)."""
        return await service.update_client(conn, actor, client_id, data)


class PolicyController(Controller):
    path = "/clients/{client_id:uuid}/policies"
    tags = ["clients"]

    @post("/", guards=[allow("ops", "client")], operation_id="add_policy", status_code=201)
    async def add(
        self, client_id: FromPath[uuid.UUID], data: JSONBody[PolicyIn], conn: Conn, actor: Caller
    ) -> PolicyOut:
        """Add an insurance policy to a client."""
        return await policies.add_policy(conn, actor, client_id, data)

    @get("/", guards=[allow("ops", "client", "provider")], operation_id="list_policies")
    async def list_(
        self,
        client_id: FromPath[uuid.UUID],
        conn: Conn,
        actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[PolicyOut]:
        """A client's insurance policies, ended ones included."""
        return await policies.list_policies(conn, actor, client_id, cursor, limit)

    @get(
        "/{policy_id:uuid}",
        guards=[allow("ops", "client", "provider")],
        operation_id="get_policy",
    )
    async def get_one(
        self,
        client_id: FromPath[uuid.UUID],
        policy_id: FromPath[uuid.UUID],
        conn: Conn,
        actor: Caller,
    ) -> PolicyOut:
        """One insurance policy."""
        return await policies.get_policy(conn, actor, client_id, policy_id)

    @patch("/{policy_id:uuid}", guards=[allow("ops", "client")], operation_id="update_policy")
    async def update(
        self,
        client_id: FromPath[uuid.UUID],
        policy_id: FromPath[uuid.UUID],
        data: JSONBody[PolicyPatchIn],
        conn: Conn,
        actor: Caller,
    ) -> PolicyOut:
        """Correct an insurance policy."""
        return await policies.update_policy(conn, actor, client_id, policy_id, data)

    @post(
        "/{policy_id:uuid}/end",
        guards=[allow("ops", "client")],
        operation_id="end_policy",
        status_code=200,
    )
    async def end(
        self,
        client_id: FromPath[uuid.UUID],
        policy_id: FromPath[uuid.UUID],
        data: JSONBody[PolicyEndIn],
        conn: Conn,
        actor: Caller,
    ) -> PolicyOut:
        """End an insurance policy on a date (policies are never deleted)."""
        return await policies.end_policy(conn, actor, client_id, policy_id, data)
