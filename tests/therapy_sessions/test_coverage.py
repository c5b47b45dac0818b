"""The coverage queue: a carve-out or unknown coverage confirms the session with no claim and
no journal entry, held for ops; ops bill it after a new benefit check (as completion would:
claim, entry, prior authorization visit, the date of service where the session took place),
or mark it self-pay or written off with a reason; once."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.eligibility import Benefits, CarveOut, Cents, TierBenefits
from services.core.clock import Clock
from services.core.settings import Settings
from services.eligibility import queries as eligibility_queries
from tests.authz import ROLES, headers_for, refusal
from tests.therapy_sessions.completion import Visit, arrange, authorize, completion_body

pytestmark = pytest.mark.usefixtures("clock")

CARVE_OUT = Benefits(
    status="active", trace="T1",
    carve_out=CarveOut(name="MH Partners", entity_code="VN", phone="8005551234"),
)  # fmt: skip
COPAY = Benefits(
    status="active", trace="T2",
    in_network=TierBenefits(covered=True, copay=Cents(cents=3000, source="MH")),
)  # fmt: skip
QUEUE = "/therapy-sessions/queues/coverage"


async def _check(db: asyncpg.Connection, clock: Clock, visit: Visit, benefits: Benefits) -> None:
    """A benefit check answered now (a minute after the last: the latest one counts)."""
    assert visit.client.client_id is not None
    clock.advance(timedelta(minutes=1))
    now = clock.now()
    await eligibility_queries.insert_check(
        db, policy_id=visit.policy_id, client_id=visit.client.client_id,
        provider_id=visit.provider.provider_id, service_date=now.date(), trace=benefits.trace,
        payload_id=uuid.uuid4(), status=benefits.status, benefits=benefits, request_x12="ISA~",
        response_x12="ISA~", requested_by=None, requested_at=now, completed_at=now,
        duration_ms=1,
    )  # fmt: skip


async def _held(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    clock: Clock,
    token: Any,
    visit: Visit,
    benefits: Benefits = CARVE_OUT,
    **fields: Any,
) -> dict[str, Any]:
    await _check(db, clock, visit, benefits)
    response = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete",
        json=completion_body(**fields),
        headers=token(visit.provider),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _settle(
    client: httpx.AsyncClient, token: Any, visit: Visit, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/therapy-sessions/{visit.session.id}/coverage-settlement",
        json=body,
        headers=token(visit.ops),
    )


async def _money(db: asyncpg.Connection, session_id: uuid.UUID) -> tuple[Any, ...]:
    """(claims of the session, the completion entry's lines as a set)."""
    claims = await db.fetchval(
        "SELECT count(*) FROM claims WHERE therapy_session_id = $1", session_id
    )
    rows = await db.fetch(
        """
        SELECT a.kind, l.side, l.amount_cents, l.claim_id IS NOT NULL AS on_claim
        FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id
        JOIN ledger_accounts a ON a.id = l.account_id
        WHERE e.idempotency_key = $1
        """,
        f"completion-{session_id}",
    )
    await db.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the balance trigger, now
    await db.execute("SET CONSTRAINTS ALL DEFERRED")
    return claims, {tuple(r) for r in rows}


async def test_a_carve_out_is_held_with_no_claim_nor_entry_and_queued_with_who_to_ask(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    clock: Clock,
) -> None:
    carved, unknown = await arrange(db, settings), await arrange(db, settings)
    body = await _held(client, db, clock, token, carved)
    assert (body["claim_id"], body["billing_hold"]) == (None, "carve_out")
    assert body["session"]["status"] == "confirmed"
    assert await _money(db, carved.session.id) == (0, set())
    unknown_check = Benefits(status="unknown", trace="T3")
    assert (await _held(client, db, clock, token, unknown, unknown_check))["billing_hold"] == (
        "unknown"
    )
    response = await client.get(QUEUE, headers=token(carved.ops))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["id"], i["billing_hold"], i["benefit_check_status"]) for i in items] == [
        (str(carved.session.id), "carve_out", "active"),
        (str(unknown.session.id), "unknown", "unknown"),
    ]
    assert items[0]["carve_out"] == {
        "name": "MH Partners", "entity_code": "VN", "identifier": None, "phone": "8005551234",
    }  # fmt: skip
    assert items[1]["carve_out"] is None
    assert items[1]["payer_id"] == str(unknown.payer.id)
    assert items[0]["held_since"] < items[1]["held_since"]
    reads = await db.fetch(
        "SELECT entity_id FROM audit_events WHERE actor_user_id = $1 AND action = 'read'"
        " AND entity = 'therapy_session'",
        carved.ops.user_id,
    )
    assert {r["entity_id"] for r in reads} == {carved.session.id, unknown.session.id}
    page = await client.get(QUEUE, params={"limit": 1}, headers=token(carved.ops))
    rest = await client.get(
        QUEUE, params={"limit": 1, "cursor": page.json()["next_cursor"]}, headers=token(carved.ops)
    )
    assert [i["id"] for i in page.json()["items"] + rest.json()["items"]] == [
        str(carved.session.id), str(unknown.session.id),
    ]  # fmt: skip
    assert rest.json()["next_cursor"] is None
    bad = await client.get(QUEUE, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=token(carved.ops))
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_cursor")


async def test_billing_a_held_session_after_a_new_check_books_it_as_completion_would(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    clock: Clock,
) -> None:
    visit = await arrange(db, settings, prior_auth_cpt_codes=["90837"])
    authorization = await authorize(db, visit, "PA1", 3)
    # Taken in Hawaii late in the evening: the date of service is that day, not UTC's.
    started = (clock.now() - timedelta(hours=7)).astimezone(timezone(timedelta(hours=-10)))
    assert started.date() != started.astimezone(UTC).date()
    held = await _held(client, db, clock, token, visit, started_at=started.isoformat())
    visits = "SELECT visits_used FROM prior_authorizations WHERE id = $1"
    assert await db.fetchval(visits, authorization) == 0  # no claim, no visit used

    # Still carved out: refused, nothing changes.
    still = await _settle(client, token, visit, outcome="billed")
    assert (still.status_code, still.json()["code"]) == (409, "coverage_not_confirmed")
    assert await _money(db, visit.session.id) == (0, set())

    await _check(db, clock, visit, COPAY)
    keyed = {"Idempotency-Key": "settle-1", **token(visit.ops)}
    path = f"/therapy-sessions/{visit.session.id}/coverage-settlement"
    response = await client.post(path, json={"outcome": "billed"}, headers=keyed)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["billing_hold"], body["reason"]) == ("billed", "carve_out", None)
    claim = await db.fetchrow("SELECT * FROM claims WHERE id = $1", uuid.UUID(body["claim_id"]))
    assert claim is not None
    assert (claim["service_date"], claim["allowed_cents"], claim["status"]) == (
        started.date(), 15000, "ready",
    )  # fmt: skip
    assert claim["prior_authorization_id"] == authorization
    assert await db.fetchval(visits, authorization) == 1
    # allowed 15000, copay 3000, provider rate 11000: completion's own entry.
    assert await _money(db, visit.session.id) == (1, {
        ("client_receivable", "debit", 3000, False),
        ("payer_receivable", "debit", 12000, True),
        ("provider_payable", "credit", 11000, False),
        ("platform_revenue", "credit", 4000, False),
    })  # fmt: skip
    occurred = await db.fetchval(
        "SELECT occurred_at FROM journal_entries WHERE idempotency_key = $1",
        f"completion-{visit.session.id}",
    )
    assert occurred.isoformat()[:19] == held["session"]["confirmed_at"][:19]
    assert (await client.get(QUEUE, headers=token(visit.ops))).json()["items"] == []
    # A retry with the Idempotency-Key gets the first answer; without one, a refusal.
    retry = await client.post(path, json={"outcome": "billed"}, headers=keyed)
    assert (retry.status_code, retry.json()) == (200, body)
    again = await _settle(client, token, visit, outcome="written_off", reason="twice")
    assert (again.status_code, again.json()["code"]) == (409, "therapy_session_not_on_hold")
    assert await db.fetchval(visits, authorization) == 1
    updates = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE actor_user_id = $1 AND action = 'update'"
        " AND entity = 'therapy_session' AND entity_id = $2",
        visit.ops.user_id,
        visit.session.id,
    )
    assert updates == 1


async def test_self_pay_books_the_self_pay_rate_and_written_off_books_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    clock: Clock,
) -> None:
    paying, waived = await arrange(db, settings), await arrange(db, settings)
    await _held(client, db, clock, token, paying)
    await _held(client, db, clock, token, waived, Benefits(status="unknown", trace="T3"))
    no_reason = await _settle(client, token, paying, outcome="self_pay")
    assert (no_reason.status_code, no_reason.json()["errors"][0]["field"]) == (422, "reason")
    assert await _money(db, paying.session.id) == (0, set())

    response = await _settle(client, token, paying, outcome="self_pay", reason="client agreed")
    assert response.status_code == 200, response.text
    assert (response.json()["claim_id"], response.json()["reason"]) == (None, "client agreed")
    fee = (19000 * settings.platform_fee_bps + 5000) // 10000
    assert await _money(db, paying.session.id) == (0, {
        ("client_receivable", "debit", 19000, False),
        ("provider_payable", "credit", 19000 - fee, False),
        ("platform_revenue", "credit", fee, False),
    })  # fmt: skip

    response = await _settle(
        client, token, waived, outcome="written_off", reason="MH Partners denied: no contract"
    )
    assert response.status_code == 200, response.text
    assert await _money(db, waived.session.id) == (0, set())
    row = await db.fetchrow(
        "SELECT billing_settlement, billing_settlement_reason, billing_settled_by"
        " FROM therapy_sessions WHERE id = $1",
        waived.session.id,
    )
    assert tuple(row) == ("written_off", "MH Partners denied: no contract", waived.ops.user_id)
    assert (await client.get(QUEUE, headers=token(paying.ops))).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "paid"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": "self_pay", "reason": "x" * 501}, "reason"),
        ({"outcome": "self_pay", "reason": "nul\x00"}, "reason"),
        ({"outcome": "billed", "note": "?"}, "note"),
    ],
)
async def test_a_bad_settlement_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    clock: Clock,
    body: dict[str, Any],
    field: str,
) -> None:
    visit = await arrange(db, settings)
    await _held(client, db, clock, token, visit)
    response = await _settle(client, token, visit, **body)
    assert response.status_code == 400, response.text
    assert field in str(response.json().get("errors", response.json()))
    assert (await client.get(QUEUE, headers=token(visit.ops))).json()["items"] != []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("obj", ["held", "not_held", "unknown"])
async def test_settlement_matrix(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    clock: Clock,
    role: str,
    obj: str,
) -> None:
    visit = await arrange(db, settings)
    await _held(client, db, clock, token, visit)
    other = await arrange(db, settings)  # completed normally: nothing to settle
    done = await client.post(
        f"/therapy-sessions/{other.session.id}/complete",
        json=completion_body(),
        headers=token(other.provider),
    )
    assert done.status_code == 200, done.text
    target = {"held": visit.session.id, "not_held": other.session.id}.get(obj, uuid.uuid4())
    actor = {"provider": visit.provider, "client": visit.client, "ops": visit.ops}.get(role)
    response = await client.post(
        f"/therapy-sessions/{target}/coverage-settlement",
        json={"outcome": "written_off", "reason": "probe"},
        headers=headers_for(token, actor),
    )
    expected = refusal(role, ("ops",)) or {"held": 200, "not_held": 409, "unknown": 404}[obj]
    assert response.status_code == expected, response.text
    queue = await client.get(QUEUE, headers=headers_for(token, actor))
    assert queue.status_code == (refusal(role, ("ops",)) or 200)
    settled = await db.fetchval(
        "SELECT count(*) FROM therapy_sessions WHERE billing_settlement IS NOT NULL"
    )
    assert settled == (1 if expected == 200 else 0)
