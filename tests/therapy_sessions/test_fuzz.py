"""Whatever a caller sends, the answer is never a 5xx."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.settings import Settings
from tests.clients.helpers import make_world, session_body

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [
    "provider_id", "client_id", "policy_id", "starts_at", "duration_minutes", "place_of_service",
    "first_name", "date_of_birth", "address", "phone", "payer_id", "member_id", "priority",
    "relationship", "subscriber", "patient_member_id", "effective_from", "effective_to", "reason",
]  # fmt: skip


@settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(field=st.sampled_from(FIELDS), value=JSON, route=st.integers(0, 4))
async def test_mutated_bodies_never_5xx(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    field: str,
    value: Any,
    route: int,
) -> None:
    w = _worlds.get(id(db)) or await _world(db, settings)
    me = w.clients[0]
    policy = f"/clients/{me.client_id}/policies"
    method, path, body = [
        ("POST", "/therapy-sessions", session_body(w.providers[0])),
        ("PATCH", f"/clients/{me.client_id}", {"first_name": "Ada"}),
        ("POST", policy, {"payer_id": str(w.payer), "member_id": "M1", "priority": "secondary",
                          "relationship": "self", "effective_from": "2024-01-01"}),
        ("PATCH", f"{policy}/{w.policies[0]}", {}),
        ("POST", f"/therapy-sessions/{w.sessions[0].id}/cancel", {"reason": "x"}),
    ][route]  # fmt: skip
    response = await client.request(method, path, json=body | {field: value}, headers=token(me))
    assert response.status_code < 500, response.text


_worlds: dict[int, Any] = {}


async def _world(db: asyncpg.Connection, settings: Settings) -> Any:
    _worlds.clear()
    _worlds[id(db)] = await make_world(db, settings)
    return _worlds[id(db)]
