"""The expected answer of an object route for a role and an object, shared by authz tests."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from services.core.auth import Actor

ROLES = ("none", "provider", "client", "ops")
OBJECTS = ("own", "foreign", "unknown")


def expected_status(role: str, obj: str, allowed: Collection[str], success: int) -> int:
    """401 without a token, 403 for a role the route refuses, 404 for what the caller can't see.

    "own" is provider A's object, the provider in the matrix; ops may reach A's and B's alike.
    """
    if role == "none":
        return 401
    if role not in allowed:
        return 403
    if obj == "unknown" or (obj == "foreign" and role != "ops"):
        return 404
    return success


def headers_for(token: Any, actor: Actor | None) -> dict[str, str]:
    """The `token` fixture's headers for `actor`; none at all for the anonymous caller."""
    return {} if actor is None else token(actor)
