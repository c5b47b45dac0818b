"""Who may pay a charge on-session or read its payment: the client who owes it and ops; no
token 401, a provider 403 (even the client's own), another client or an unknown charge 404. A
refusal calls no one and writes nothing; bad input is a 4xx naming the field."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import make_client
from tests.payments import recovery_world as r
from tests.payments import world as w

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

CASES = [
    ("none", "own", 401),
    ("provider", "own", 403),
    ("other_client", "own", 404),
    ("client", "unknown", 404),
    ("ops", "unknown", 404),
    ("client", "own", 200),
    ("ops", "own", 200),
]


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize(("who", "whose", "expected"), CASES)
async def test_charge_payment_authz(
    charging: w.Charging, method: str, who: str, whose: str, expected: int
) -> None:
    c = charging
    charge = await r.declined(c, "stolen_card")
    visit = charge["visit"]
    actors = {"provider": visit.provider, "client": visit.client, "ops": visit.ops,
              "other_client": await make_client(c.db, c.settings)}  # fmt: skip
    headers = {} if who == "none" else c.token(actors[who])
    charge_id = charge["id"] if whose == "own" else uuid.uuid4()
    audits = await c.db.fetchval("SELECT count(*) FROM audit_events")
    response = await c.api.request(method, f"/client-charges/{charge_id}/payment",
                                   headers=headers)  # fmt: skip
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await c.db.fetchval("SELECT count(*) FROM audit_events") == audits
    else:
        assert response.json()["payment_intent_id"] == charge["payment_intent_id"]


async def test_bad_input_names_the_field(charging: w.Charging) -> None:
    c = charging
    charge = await r.declined(c, "stolen_card")
    headers = c.token(charge["visit"].client)
    url = f"/client-charges/{charge['id']}/payment"
    for body, field in (({"payment_method_id": "card_1"}, "payment_method_id"),
                        ({"payment_method_id": "pm_notmine"}, "payment_method_id"),
                        ({"surprise": 1}, "surprise")):  # fmt: skip
        response = await c.api.post(url, json=body, headers=headers)
        assert 400 <= response.status_code < 500, response.text
        assert field in response.text
    response = await c.api.post("/client-charges/not-a-uuid/payment", headers=headers)
    assert response.status_code in (400, 404)
