"""The authorization matrix every domain's test_authz.py checks: role x object -> status.

A caller is one of ROLES ("none" has no token) and names an object that is its own, another
owner's ("foreign") or no row at all ("unknown"). The answer is 401 without a token, 403 for a
role the route does not admit, then 404 for what the caller may not see, else the route's
success. A domain either derives its statuses from the routes' admitted roles
(`expected_status`, `refusal`) or writes them out per route (`statuses`, `matrix_cases`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from services.core.auth import Actor

ROLES = ("none", "provider", "client", "ops")
OBJECTS = ("own", "foreign", "unknown")


def refusal(role: str, allowed: Collection[str]) -> int | None:
    """401 without a token, 403 for a role the route does not admit; None for an admitted role."""
    if role == "none":
        return 401
    if role not in allowed:
        return 403
    return None


def expected_status(role: str, obj: str, allowed: Collection[str], success: int) -> int:
    """The answer of a route whose objects have an owner, refusals first, then 404 for what the
    caller can't see.

    "own" is provider A's object, the provider in the matrix; ops may reach A's and B's alike.
    """
    if (refused := refusal(role, allowed)) is not None:
        return refused
    if obj == "unknown" or (obj == "foreign" and role != "ops"):
        return 404
    return success


def statuses(
    none: int,
    provider: tuple[int, int, int],
    client: tuple[int, int, int],
    ops: tuple[int, int, int],
) -> list[tuple[str, str, int]]:
    """(role, object, status) rows of a route's matrix, the statuses written out per OBJECTS."""
    rows = [("none", obj, none) for obj in OBJECTS]
    for role, expected in (("provider", provider), ("client", client), ("ops", ops)):
        rows += [(role, obj, s) for obj, s in zip(OBJECTS, expected, strict=True)]
    return rows


def matrix_cases(routes: dict[str, Any]) -> list[Any]:
    """pytest params (route, role, object, status) from {route: (request, statuses(...))}."""
    return [
        pytest.param(route, role, obj, status, id=f"{route}-{role}-{obj}")
        for route, (_, rows) in routes.items()
        for role, obj, status in rows
    ]


def headers_for(token: Any, actor: Actor | None) -> dict[str, str]:
    """The `token` fixture's headers for `actor`; none at all for the anonymous caller."""
    return {} if actor is None else token(actor)


def guarded_routes(app: Any, prefix: str) -> set[tuple[str, str, frozenset[str]]]:
    """(method, path as registered, admitted roles) of every route under `prefix`, each
    guarded by exactly one role list."""
    seen = set()
    for route in app.routes:
        if not route.path.startswith(prefix):
            continue
        for handler in route.route_handlers:
            roles = [g.allowed_roles for g in handler.guards or [] if hasattr(g, "allowed_roles")]
            for method in handler.http_methods - {"OPTIONS"}:
                assert len(roles) == 1, (method, route.path)
                seen.add((method, route.path, frozenset(roles[0])))
    return seen
