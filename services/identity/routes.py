"""/auth: login, refresh, logout, invitations, password, me; /users: ops disable and enable."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from schemas.identity import (
    AcceptInviteIn,
    ChangePasswordIn,
    LoginIn,
    MeOut,
    RefreshIn,
    TokenPair,
    UserStatusOut,
    VerifyEmailIn,
)
from services.core.addresses import client_address
from services.core.auth import BEARER, PUBLIC, ROLES, allow
from services.core.deps import AppSettings, Caller, Conn, RedisClient, Transactions
from services.identity import service, verification


def _address(request: Request[Any, Any, Any]) -> str:
    return client_address(request)


class AuthController(Controller):
    path = "/auth"
    tags = ["identity"]

    @post("/login", opt=PUBLIC, operation_id="login", status_code=200)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginIn],
        transactions: Transactions,
        settings: AppSettings,
        redis: RedisClient,
    ) -> TokenPair:
        """Exchange email and password for an access token and a refresh token."""
        return await service.login(
            transactions, redis, settings, data.email, data.password, _address(request)
        )

    @post("/refresh", opt=PUBLIC, operation_id="refresh_token", status_code=200)
    async def refresh(
        self, data: JSONBody[RefreshIn], conn: Conn, settings: AppSettings
    ) -> TokenPair:
        """Rotate a refresh token: the old one is spent, a new pair is returned."""
        return await service.refresh(conn, settings, data.refresh_token)

    @post("/logout", opt=PUBLIC, operation_id="logout", status_code=204)
    async def logout(self, data: JSONBody[RefreshIn], conn: Conn) -> None:
        """Revoke the refresh token's whole family."""
        await service.logout(conn, data.refresh_token)

    @post("/invites/accept", opt=PUBLIC, operation_id="accept_invite", status_code=200)
    async def accept_invite(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AcceptInviteIn],
        transactions: Transactions,
        settings: AppSettings,
        redis: RedisClient,
    ) -> TokenPair:
        """Set a password with an invitation token, and sign in."""
        # Per address: each attempt costs an argon2 hash and guesses a token.
        await verification.limit_address(
            redis,
            settings,
            "invite_accept",
            _address(request),
            settings.invite_accept_max_per_address,
        )
        return await service.accept_invite(transactions, settings, data.token, data.password)

    @post("/verify-email", opt=PUBLIC, operation_id="verify_email", status_code=200)
    async def verify_email(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[VerifyEmailIn],
        transactions: Transactions,
        settings: AppSettings,
        redis: RedisClient,
    ) -> TokenPair:
        """Confirm a signup's email address with the mailed token, and sign in."""
        await verification.limit_address(
            redis,
            settings,
            "verify_email",
            _address(request),
            settings.verify_email_max_per_address,
        )
        return await service.verify_email(transactions, settings, data.token, data.password)

    @post(
        "/password",
        guards=[allow(*ROLES)],
        security=BEARER,
        operation_id="change_password",
        status_code=200,
    )
    async def change_password(
        self,
        data: JSONBody[ChangePasswordIn],
        transactions: Transactions,
        settings: AppSettings,
        redis: RedisClient,
        actor: Caller,
    ) -> TokenPair:
        """Change the caller's password; every other session is signed out."""
        return await service.change_password(
            transactions, redis, settings, actor, data.current_password, data.new_password
        )

    @get("/me", guards=[allow(*ROLES)], security=BEARER, operation_id="get_me")
    async def me(self, conn: Conn, actor: Caller) -> MeOut:
        """Who the token belongs to."""
        return await service.get_me(conn, actor)


class UsersController(Controller):
    path = "/users"
    tags = ["identity"]

    @post(
        "/{user_id:uuid}/disable",
        guards=[allow("ops")],
        operation_id="disable_user",
        status_code=200,
    )
    async def disable(
        self, user_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> UserStatusOut:
        """Stop a user signing in; their access and refresh tokens stop working at once."""
        return await service.set_user_disabled(conn, actor, user_id, disabled=True)

    @post(
        "/{user_id:uuid}/enable",
        guards=[allow("ops")],
        operation_id="enable_user",
        status_code=200,
    )
    async def enable(
        self, user_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> UserStatusOut:
        """Let a disabled user sign in again (their old tokens stay ended)."""
        return await service.set_user_disabled(conn, actor, user_id, disabled=False)
