"""/providers: profiles (ops onboard), licences, service locations, self-pay rates."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import TypeAlias

import asyncpg
from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from schemas.providers import (
    LicenceIn,
    LicenceOut,
    LocationIn,
    LocationOut,
    LocationPatchIn,
    ProviderIn,
    ProviderOnboardedOut,
    ProviderOut,
    ProviderPatchIn,
    SelfPayRateIn,
    SelfPayRateOut,
)
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn, OpenConn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.providers import details, service

OPS = [allow("ops")]
OPS_OR_SELF = [allow("ops", "provider")]

# The provider named in the path, once the caller may act on it (ops, or the provider themself).
Owner: TypeAlias = NamedDependency[uuid.UUID]


async def provide_owned_conn(
    provider_id: FromPath[uuid.UUID], open_conn: OpenConn, actor: Caller
) -> AsyncGenerator[asyncpg.Connection, None]:
    """The request's transaction, after the caller was found to own the path's provider.

    The check runs inside the generator that holds the connection, so its 404 closes it:
    Litestar 2 leaves open a generator dependency it already opened when a later one raises.
    """
    async with open_conn() as conn:
        await service.require_provider(conn, actor, provider_id)
        yield conn


async def provide_owner(provider_id: FromPath[uuid.UUID], conn: Conn) -> uuid.UUID:
    """The path's provider id, checked: taking `conn` orders this after provide_owned_conn."""
    return provider_id


class ProviderController(Controller):
    path = "/providers"
    tags = ["providers"]

    @post("/", guards=OPS, operation_id="onboard_provider", status_code=201)
    async def onboard(
        self, data: JSONBody[ProviderIn], conn: Conn, settings: AppSettings, actor: Caller
    ) -> ProviderOnboardedOut:
        """Onboard a provider: profile, user and a one-time invitation token."""
        return await service.onboard_provider(conn, settings, actor, data)

    @get("/", guards=OPS, operation_id="list_providers")
    async def list_providers(
        self, conn: Conn, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
    ) -> Page[ProviderOut]:
        """Every provider, oldest first."""
        return await service.list_providers(conn, limit, cursor)

    @get("/me", guards=[allow("provider")], operation_id="get_my_provider")
    async def me(self, conn: Conn, actor: Caller) -> ProviderOut:
        """The calling provider's own profile."""
        return await service.get_own_provider(conn, actor)

    @get("/{provider_id:uuid}", guards=OPS_OR_SELF, operation_id="get_provider")
    async def get_provider(
        self, provider_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> ProviderOut:
        """One provider's profile (ops, or the provider themself)."""
        return await service.get_provider(conn, actor, provider_id)

    @patch("/{provider_id:uuid}", guards=OPS_OR_SELF, operation_id="update_provider")
    async def update_provider(
        self,
        provider_id: FromPath[uuid.UUID],
        data: JSONBody[ProviderPatchIn],
        conn: Conn,
        settings: AppSettings,
        actor: Caller,
    ) -> ProviderOut:
        """Change names and taxonomy (ops or self); NPI and tax id (ops only)."""
        return await service.update_provider(conn, settings, actor, provider_id, data)


class ProviderDetailsController(Controller):
    path = "/providers/{provider_id:uuid}"
    tags = ["providers"]
    dependencies = {"conn": Provide(provide_owned_conn), "owner": Provide(provide_owner)}

    @post("/licences", guards=OPS_OR_SELF, operation_id="add_licence", status_code=201)
    async def add_licence(self, data: JSONBody[LicenceIn], conn: Conn, owner: Owner) -> LicenceOut:
        """Add a state licence."""
        return await details.add_licence(conn, owner, data)

    @get("/licences", guards=OPS_OR_SELF, operation_id="list_licences")
    async def list_licences(
        self,
        conn: Conn,
        owner: Owner,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[LicenceOut]:
        """The provider's licences."""
        return await details.list_licences(conn, owner, limit, cursor)

    @delete("/licences/{licence_id:uuid}", guards=OPS_OR_SELF, operation_id="delete_licence")
    async def delete_licence(
        self,
        licence_id: FromPath[uuid.UUID],
        conn: Conn,
        owner: Owner,
    ) -> None:
        """Remove a licence."""
        await details.delete_licence(conn, owner, licence_id)

    @post("/locations", guards=OPS_OR_SELF, operation_id="add_location", status_code=201)
    async def add_location(
        self,
        data: JSONBody[LocationIn],
        conn: Conn,
        owner: Owner,
    ) -> LocationOut:
        """Add a service location (place of service 02, 10 or 11)."""
        return await details.add_location(conn, owner, data)

    @get("/locations", guards=OPS_OR_SELF, operation_id="list_locations")
    async def list_locations(
        self,
        conn: Conn,
        owner: Owner,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[LocationOut]:
        """The provider's service locations."""
        return await details.list_locations(conn, owner, limit, cursor)

    @patch("/locations/{location_id:uuid}", guards=OPS_OR_SELF, operation_id="update_location")
    async def update_location(
        self,
        location_id: FromPath[uuid.UUID],
        data: JSONBody[LocationPatchIn],
        conn: Conn,
        owner: Owner,
    ) -> LocationOut:
        """Change a service location."""
        return await details.update_location(conn, owner, location_id, data)

    @delete("/locations/{location_id:uuid}", guards=OPS_OR_SELF, operation_id="delete_location")
    async def delete_location(
        self,
        location_id: FromPath[uuid.UUID],
        conn: Conn,
        owner: Owner,
    ) -> None:
        """Remove a service location."""
        await details.delete_location(conn, owner, location_id)

    @put("/self-pay-rates/{cpt_code:str}", guards=OPS_OR_SELF, operation_id="set_self_pay_rate")
    async def set_self_pay_rate(
        self,
        cpt_code: FromPath[str],
        data: JSONBody[SelfPayRateIn],
        conn: Conn,
        owner: Owner,
    ) -> SelfPayRateOut:
        """Set the full rate an out-of-network client pays for a CPT code."""
        return await details.set_self_pay_rate(conn, owner, cpt_code, data.amount_cents)

    @get("/self-pay-rates", guards=OPS_OR_SELF, operation_id="list_self_pay_rates")
    async def list_self_pay_rates(
        self,
        conn: Conn,
        owner: Owner,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[SelfPayRateOut]:
        """The provider's self-pay rates."""
        return await details.list_self_pay_rates(conn, owner, limit, cursor)
