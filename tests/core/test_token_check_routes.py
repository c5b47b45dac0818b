"""No route that needs a token can skip checking it against its user.

Walks every route of the app: a token that is signed correctly and not expired, but whose user
is unknown, disabled, at a newer token version, or whose sign-in was logged out, is 401 on each,
while a current token of the same kind passes authentication (whatever the route then says).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from services.app import create_app
from services.core import clock
from services.core.auth import Actor
from services.core.settings import Settings
from tests.factories import make_ops

_PARAM = re.compile(r"\{(\w+):(\w+)\}")
_SAMPLE = {
    "uuid": lambda: str(uuid.uuid4()),
    "str": lambda: "X",
    "int": lambda: "1",
    "date": lambda: "2026-01-01",
}


def _guarded_routes(settings: Settings) -> list[tuple[str, str]]:
    app = create_app(settings)
    routes = []
    for route in app.routes:
        if route.path.startswith(("/schema", "/health")):
            continue
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("public") is True:
                continue
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                url = _PARAM.sub(lambda m: _SAMPLE[m.group(2)](), route.path)
                routes.append((method, url))
    return routes


async def _revoked_tokens(db: asyncpg.Connection, token: Any) -> dict[str, dict[str, str]]:
    """Ops tokens (ops passes every role guard) each ended a different way."""
    unknown = token(Actor(user_id=uuid.uuid4(), role="ops"))
    disabled = await make_ops(db)
    await db.execute(
        "UPDATE users SET disabled_at = $2 WHERE id = $1", disabled.user_id, clock.now()
    )
    bumped = await make_ops(db)
    await db.execute("UPDATE users SET token_version = 1 WHERE id = $1", bumped.user_id)
    logged_out = await make_ops(db)
    family = uuid.uuid4()
    await db.execute(
        """
        INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, revoked_at)
        VALUES ($1, $2, $3, $4, $5)
        """,
        logged_out.user_id,
        family,
        uuid.uuid4().bytes,
        clock.now() + timedelta(days=1),
        clock.now(),
    )
    return {
        "unknown user": unknown,
        "disabled user": token(disabled),
        "old token version": token(bumped),
        "logged-out sign-in": token(logged_out, session_id=family),
    }


async def test_every_guarded_route_refuses_a_revoked_token(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    routes = _guarded_routes(settings)
    assert len(routes) > 40  # the walk found the app's routes
    revoked = await _revoked_tokens(db, token)
    current = token(await make_ops(db))
    failures = []
    for method, url in routes:
        for why, headers in revoked.items():
            response = await client.request(method, url, headers=headers)
            if response.status_code != 401 or response.json()["code"] != "token_revoked":
                failures.append((method, url, why, response.status_code))
        # The same route with a current token gets past authentication.
        passed = await client.request(method, url, headers=current)
        if passed.status_code == 401:
            failures.append((method, url, "current token", passed.status_code))
    assert failures == []
