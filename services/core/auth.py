"""Access tokens, the authentication middleware and role guards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import jwt
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from services.core.errors import Forbidden, Unauthorized
from services.core.settings import Settings

# A user's role, the only roles a token can carry (TokenClaims refuses any other: a 401).
Role = Literal["provider", "client", "ops"]
ROLES: tuple[Role, ...] = ("provider", "client", "ops")
PUBLIC = {"public": True}  # route opt: no token needed
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]  # OpenAPI security of every guarded route
_ALGORITHM = "HS256"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hearth"'}


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who is asking: a user, their role and the profile that role owns; or SYSTEM (a job)."""

    user_id: uuid.UUID | None  # None: SYSTEM, no one else
    role: Role | Literal["system"]
    provider_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None

    @property
    def user(self) -> uuid.UUID:
        """The user's id, for what only a user asks (a route's actor always has one)."""
        if self.user_id is None:
            raise TypeError("the system actor is not a user")
        return self.user_id


# The jobs' actor: it sees what ops see, and its audit rows name the system (no user). No
# token can carry it: a token's role is a user's Role.
SYSTEM = Actor(user_id=None, role="system")


class TokenClaims(msgspec.Struct, frozen=True, kw_only=True):
    sub: uuid.UUID
    role: Role
    pid: uuid.UUID | None = None
    cid: uuid.UUID | None = None
    # The user's token version when signed: a password change or disabling bumps it.
    ver: int
    # The sign-in (refresh-token family) the token belongs to: logout revokes it.
    sid: uuid.UUID

    def actor(self) -> Actor:
        return Actor(user_id=self.sub, role=self.role, provider_id=self.pid, client_id=self.cid)


# Set on app.state by create_app (core knows no domain): is a signed token still current, that
# is, its user exists, is active, still has that role and profile, at that token version, and
# its sign-in was not revoked? Takes app.state for the connection to ask with.
AccessCheck = Callable[[Any, TokenClaims], Awaitable[bool]]


def issue_access_token(
    actor: Actor,
    settings: Settings,
    *,
    version: int,
    session_id: uuid.UUID,
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": str(actor.user_id),
        "role": actor.role,
        "iss": settings.jwt_issuer,
        "iat": issued,
        "exp": issued + settings.access_token_ttl_s,
        "jti": uuid.uuid4().hex,
        "ver": version,
        "sid": str(session_id),
    }
    if actor.provider_id:
        claims["pid"] = str(actor.provider_id)
    if actor.client_id:
        claims["cid"] = str(actor.client_id)
    return jwt.encode(claims, settings.jwt_secret, algorithm=_ALGORITHM)


def decode_access_token(token: str, settings: Settings) -> TokenClaims:
    """The claims of a token we signed and that has not expired (not yet whether it is current)."""
    try:
        payload = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[_ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "ver", "sid"]},
        )
        return msgspec.convert(payload, TokenClaims, strict=False)
    except (jwt.PyJWTError, msgspec.ValidationError) as exc:
        raise Unauthorized("the access token is invalid or expired", headers=_CHALLENGE) from exc


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    """Bearer access tokens, checked against the user on every request; opt public=True skips it.

    The check lives here, not in a dependency, so no guarded route can forget to ask for it.
    No cache: logout, a password change or disabling a user must end their tokens at once, and
    the check is one primary-key read.
    """

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer access token is required", headers=_CHALLENGE)
        state = connection.app.state
        claims = decode_access_token(token.strip(), state.settings)
        check: AccessCheck = state.check_access
        if not await check(state, claims):
            # One answer for unknown, disabled, changed role, old version and logged out.
            raise Unauthorized(
                "the access token is no longer valid",
                code="token_revoked",
                headers=_CHALLENGE,
            )
        return AuthenticationResult(user=claims.actor(), auth=token)


def allow(
    *roles: Role,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """Guard: the caller's role must be one of `roles` (403 otherwise)."""
    allowed = frozenset(roles)

    # async: Litestar runs a sync guard in a worker thread, a thread hop on every request.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = connection.scope.get("user")
        if not isinstance(actor, Actor):
            raise Unauthorized("a bearer access token is required", headers=_CHALLENGE)
        if actor.role not in allowed:
            raise Forbidden(f"this route is not open to the {actor.role} role")

    guard.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the route-matrix test
    return guard


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    actor = request.scope.get("user")
    if not isinstance(actor, Actor):
        raise Unauthorized("a bearer access token is required", headers=_CHALLENGE)
    return actor
