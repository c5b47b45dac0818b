"""Access tokens, the authentication middleware and role guards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

import jwt
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from services.core.errors import Forbidden, Unauthorized
from services.core.settings import Settings

Role = Literal["provider", "client", "ops"]
ROLES: tuple[Role, ...] = ("provider", "client", "ops")
PUBLIC = {"public": True}  # route opt: no token needed
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]  # OpenAPI security of every guarded route
_ALGORITHM = "HS256"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hearth"'}


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: the user, their role, and the profile that role owns."""

    user_id: uuid.UUID
    role: Role
    provider_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None


class _Claims(msgspec.Struct, kw_only=True):
    sub: uuid.UUID
    role: Role
    pid: uuid.UUID | None = None
    cid: uuid.UUID | None = None


def issue_access_token(actor: Actor, settings: Settings, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": str(actor.user_id),
        "role": actor.role,
        "iss": settings.jwt_issuer,
        "iat": issued,
        "exp": issued + settings.access_token_ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if actor.provider_id:
        claims["pid"] = str(actor.provider_id)
    if actor.client_id:
        claims["cid"] = str(actor.client_id)
    return jwt.encode(claims, settings.jwt_secret, algorithm=_ALGORITHM)


def decode_access_token(token: str, settings: Settings) -> Actor:
    try:
        payload = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[_ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        claims = msgspec.convert(payload, _Claims, strict=False)
    except (jwt.PyJWTError, msgspec.ValidationError) as exc:
        raise Unauthorized("the access token is invalid or expired", headers=_CHALLENGE) from exc
    return Actor(user_id=claims.sub, role=claims.role, provider_id=claims.pid, client_id=claims.cid)


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    """Bearer access tokens; routes with opt public=True skip it."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer access token is required", headers=_CHALLENGE)
        settings: Settings = connection.app.state.settings
        actor = decode_access_token(token.strip(), settings)
        return AuthenticationResult(user=actor, auth=token)


def allow(*roles: Role) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """Guard: the caller's role must be one of `roles` (403 otherwise)."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
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
