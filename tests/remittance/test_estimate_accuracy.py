"""GET /remittances/estimate-accuracy on a hand-built set: exact share to the cent, mean
absolute error and the sum of errors, overall and per payer; the window and its refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance import true_ups as t
from tests.remittance.billed import bill

pytestmark = pytest.mark.usefixtures("clock")
DECEMBER = {"from": "2026-12-01", "to": "2026-12-31"}


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


def _renumbered(text: str) -> str:
    """Another payer claim number (CLP07) than `above`'s, which a reversal is matched by."""
    return text.replace("PCN0000000002", "PCN0000000022")


async def _hand_built_set(db: asyncpg.Connection, ops: Actor) -> tuple[object, object]:
    """Payer A: exact, +$70 (deductible above the estimate), -$20 (denied) and a claim whose
    adjudication was reversed and corrected (-$10 by its correction); payer B: one exact, and
    one paid in October (outside December)."""
    provider = await make_provider_actor(db)
    a, b = await make_payer(db, name="Alder Health"), await make_payer(db, name="Birch Care")
    exact, above, denied, corrected = [await bill(db, a.id, provider) for _ in range(4)]
    b_exact, b_october = await bill(db, b.id, provider), await bill(db, b.id, provider)
    notice = "BPR*H*0*C*NON************20261204~\n"
    claims = (
        t.ours(f.PAID, exact, "1") + t.ours(f.PARTLY_PAID, above, "2")
        + _renumbered(t.ours(f.PARTLY_PAID, corrected, "2"))
    )  # fmt: skip
    await t.post(db, ops, f.transaction(claims, paid="160"), control=101)
    await t.post(db, ops, f.transaction(t.ours(f.DENIED, denied, "6"), trace="EFT0002",
                                        bpr=notice), control=102)  # fmt: skip
    fix = _renumbered(
        t.ours(t.REVERSAL_OF_PARTLY_PAID + t.CORRECTION_OF_PARTLY_PAID, corrected, "2")
    )
    await t.post(db, ops, f.transaction(fix, paid="80", trace="EFT0003"), control=103)
    await t.post(db, ops, f.transaction(t.ours(f.PAID, b_exact, "1"), trace="EFT0004"),
                 control=104)  # fmt: skip
    october = f.transaction(t.ours(f.PARTLY_PAID, b_october, "2"), trace="EFT0005",
                            bpr=t.paid_on("20261015", "30"))  # fmt: skip
    await t.post(db, ops, october, control=105)
    return a.id, b.id


async def test_accuracy_overall_and_per_payer(client: httpx.AsyncClient, db, ops, token):
    a, b = await _hand_built_set(db, ops)
    response = await client.get(
        "/remittances/estimate-accuracy", params=DECEMBER, headers=token(ops)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["date_from"], body["date_to"]) == ("2026-12-01", "2026-12-31")
    # Errors: 0, +7000, -2000, -1000 (payer A), 0 (payer B): the reversed original counts not.
    assert body["overall"] == {
        "claims": 5, "exact": 2, "exact_percent": "40.00",
        "mean_absolute_error_cents": "2000.00", "error_sum_cents": 4000,
    }  # fmt: skip
    assert body["payers"] == [
        {"payer_id": str(a), "payer_name": "Alder Health", "figures": {
            "claims": 4, "exact": 1, "exact_percent": "25.00",
            "mean_absolute_error_cents": "2500.00", "error_sum_cents": 4000}},
        {"payer_id": str(b), "payer_name": "Birch Care", "figures": {
            "claims": 1, "exact": 1, "exact_percent": "100.00",
            "mean_absolute_error_cents": "0.00", "error_sum_cents": 0}},
    ]  # fmt: skip
    october = await client.get(
        "/remittances/estimate-accuracy",
        params={"from": "2026-10-01", "to": "2026-10-31"},
        headers=token(ops),
    )
    assert october.json()["overall"]["claims"] == 1
    assert october.json()["overall"]["error_sum_cents"] == 7000


async def test_the_default_window_is_the_last_90_days_by_the_clock(
    client: httpx.AsyncClient, db, ops, token, clock
):
    await _hand_built_set(db, ops)
    clock.freeze(datetime(2027, 1, 10, 12, tzinfo=UTC))
    response = await client.get("/remittances/estimate-accuracy", headers=token(ops))
    body = response.json()
    assert (body["date_from"], body["date_to"]) == ("2026-10-13", "2027-01-10")
    assert body["overall"]["claims"] == 6
    clock.freeze(datetime(2027, 3, 10, 12, tzinfo=UTC))
    later = await client.get("/remittances/estimate-accuracy", headers=token(ops))
    assert later.json()["overall"] == {
        "claims": 0, "exact": 0, "exact_percent": None, "mean_absolute_error_cents": None,
        "error_sum_cents": 0,
    }  # fmt: skip
    assert later.json()["payers"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"from": "2025-12-01", "to": "2026-12-31"}, "to"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
    ],
)
async def test_a_bad_window_is_400_naming_the_field(
    client: httpx.AsyncClient, ops, token, params, field
):
    response = await client.get("/remittances/estimate-accuracy", params=params, headers=token(ops))
    assert response.status_code == 400, response.text
    assert field in [e["field"] for e in response.json().get("errors", [])], response.text


async def test_a_year_is_the_longest_window(client: httpx.AsyncClient, ops, token):
    params = {"from": "2026-01-01", "to": "2026-12-31"}
    response = await client.get("/remittances/estimate-accuracy", params=params, headers=token(ops))
    assert response.status_code == 200
