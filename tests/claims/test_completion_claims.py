"""Completion's claim and journal entry: in network, self-pay, out of network, refusals, and
one transaction (a failure midway leaves nothing behind)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.eligibility import Benefits, CarveOut, Cents, TierBenefits
from schemas.ledger import AccountRef, EntryIn, Line
from services.claims.service import base36, claim_number, clm01
from services.core.settings import Settings
from services.ledger.service import post_entry
from tests.factories import make_payer
from tests.therapy_sessions.completion import (
    Visit,
    arrange,
    authorize,
    benefit_check,
    completion_body,
    session_row,
)

pytestmark = pytest.mark.usefixtures("clock")


async def _complete(
    client: httpx.AsyncClient, token: Any, visit: Visit, **fields: Any
) -> httpx.Response:
    return await client.post(
        f"/therapy-sessions/{visit.session.id}/complete",
        json=completion_body(**fields),
        headers=token(visit.provider),
    )


async def _entry_lines(db: asyncpg.Connection, session_id: uuid.UUID) -> set[tuple[Any, ...]]:
    rows = await db.fetch(
        """
        SELECT a.kind, a.owner_id, l.side, l.amount_cents, l.claim_id
        FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id
        JOIN ledger_accounts a ON a.id = l.account_id
        WHERE e.idempotency_key = $1
        """,
        f"completion-{session_id}",
    )
    # The balance trigger is deferred to COMMIT: run it now, inside the test's transaction.
    await db.execute("SET CONSTRAINTS ALL IMMEDIATE")
    await db.execute("SET CONSTRAINTS ALL DEFERRED")
    return {tuple(r) for r in rows}


def test_clm01_is_base_36_with_a_version_suffix() -> None:
    assert base36(35, 2) == "0Z"
    assert claim_number(36**2 + 1) == "C000000101"
    number = claim_number(1_000_000)
    assert number == "C" + base36(1_000_000, 9)
    assert len(number) == 10
    assert clm01(number, 1) == number + "01"
    assert clm01(number, 36) == number + "10"
    assert len(clm01(claim_number(36**9 - 1), 36**2 - 1)) == 12
    with pytest.raises(ValueError, match="does not fit"):
        claim_number(36**9)


async def test_in_network_without_a_benefit_check_bills_the_payer_the_allowed_amount(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    response = await _complete(client, token, visit)
    assert response.status_code == 200, response.text
    claim_id = uuid.UUID(response.json()["claim_id"])
    claim = await db.fetchrow("SELECT * FROM claims WHERE id = $1", claim_id)
    assert claim is not None
    assert (claim["status"], claim["therapy_session_id"], claim["payer_id"]) == (
        "ready", visit.session.id, visit.payer.id,
    )  # fmt: skip
    assert (claim["total_charge_cents"], claim["allowed_cents"]) == (38000, 15000)
    assert claim["claim_number"].startswith("C")
    assert len(claim["claim_number"]) == 10
    assert claim["diagnosis_codes"] == ["F411"]
    [version] = await db.fetch("SELECT * FROM claim_submissions WHERE claim_id = $1", claim_id)
    assert (version["version"], version["frequency"]) == (1, "1")
    assert version["clm01"] == claim["claim_number"] + "01"
    [line] = await db.fetch("SELECT * FROM claim_lines WHERE claim_id = $1", claim_id)
    assert (line["cpt_code"], line["charge_cents"], line["units"]) == ("90837", 38000, 1)
    assert line["line_control_number"] == claim["claim_number"] + "L1"
    [history] = await db.fetch("SELECT * FROM claim_status_history WHERE claim_id = $1", claim_id)
    assert (history["from_status"], history["to_status"]) == (None, "ready")
    assert await _entry_lines(db, visit.session.id) == {
        ("payer_receivable", visit.payer.id, "debit", 15000, claim_id),
        ("provider_payable", visit.provider.provider_id, "credit", 11000, None),
        ("platform_revenue", None, "credit", 4000, None),
    }


async def test_in_network_the_client_owes_the_estimated_share_and_add_ons_are_lines(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    copay = TierBenefits(covered=True, copay=Cents(cents=3000, source="MH"))
    await benefit_check(db, visit, Benefits(status="active", trace="T1", in_network=copay))
    response = await _complete(
        client,
        token,
        visit,
        place_of_service="10",
        lines=[
            {"cpt_code": "90837", "modifiers": ["95"], "diagnosis_pointers": [1]},
            {"cpt_code": "90785", "modifiers": ["95"], "diagnosis_pointers": [1]},
        ],
    )
    assert response.status_code == 200, response.text
    claim_id = uuid.UUID(response.json()["claim_id"])
    lines = await db.fetch(
        "SELECT cpt_code, modifiers, charge_cents, allowed_cents, provider_rate_cents"
        " FROM claim_lines WHERE claim_id = $1 ORDER BY line_number",
        claim_id,
    )
    # Each line keeps the fee schedule's provider rate for its code (a recoupment's cap).
    assert [tuple(x) for x in lines] == [
        ("90837", ["95"], 38000, 15000, 11000),
        ("90785", ["95"], 6000, 1500, 1200),
    ]
    # allowed 16500, copay 3000; provider rate 11000 + 1200.
    assert await _entry_lines(db, visit.session.id) == {
        ("client_receivable", visit.client.client_id, "debit", 3000, None),
        ("payer_receivable", visit.payer.id, "debit", 13500, claim_id),
        ("provider_payable", visit.provider.provider_id, "credit", 12200, None),
        ("platform_revenue", None, "credit", 4300, None),
    }


async def test_a_self_pay_session_has_no_claim_and_the_platform_keeps_its_fee(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings, insured=False)
    response = await _complete(client, token, visit)
    assert response.status_code == 200, response.text
    assert response.json()["claim_id"] is None
    count = "SELECT count(*) FROM claims WHERE therapy_session_id = $1"
    assert await db.fetchval(count, visit.session.id) == 0
    fee = (19000 * settings.platform_fee_bps + 5000) // 10000
    assert await _entry_lines(db, visit.session.id) == {
        ("client_receivable", visit.client.client_id, "debit", 19000, None),
        ("provider_payable", visit.provider.provider_id, "credit", 19000 - fee, None),
        ("platform_revenue", None, "credit", fee, None),
    }


async def test_out_of_network_by_the_benefit_check_bills_the_client_the_self_pay_rate(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    only_oon = TierBenefits(covered=True, coinsurance=None)
    await benefit_check(db, visit, Benefits(status="active", trace="T1", out_of_network=only_oon))
    response = await _complete(client, token, visit)
    assert response.status_code == 200, response.text
    assert response.json()["claim_id"] is None
    kinds = {row[0] for row in await _entry_lines(db, visit.session.id)}
    assert kinds == {"client_receivable", "provider_payable", "platform_revenue"}


@pytest.mark.parametrize(
    "benefits",
    [
        Benefits(status="active", trace="T1",
                 carve_out=CarveOut(name="MH Partners", entity_code="VN")),
        Benefits(status="unknown", trace="T1"),
    ],
)  # fmt: skip
async def test_a_carve_out_or_unknown_coverage_is_held_with_no_claim_and_no_entry(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    benefits: Benefits,
) -> None:
    """DESIGN.md "Money": no charge and no claim; the session is confirmed, held for ops."""
    visit = await arrange(db, settings)
    await benefit_check(db, visit, benefits)
    response = await _complete(client, token, visit)
    assert response.status_code == 200, response.text
    body = response.json()
    hold = "carve_out" if benefits.carve_out else "unknown"
    assert (body["claim_id"], body["billing_hold"]) == (None, hold)
    assert (await session_row(db, visit.session.id))["status"] == "confirmed"
    count = "SELECT count(*) FROM claims WHERE therapy_session_id = $1"
    assert await db.fetchval(count, visit.session.id) == 0
    assert await _entry_lines(db, visit.session.id) == set()


@pytest.mark.parametrize(("insured", "rule"), [(True, "no_fee_schedule"),
                                               (False, "no_self_pay_rate")])  # fmt: skip
async def test_a_session_without_prices_is_refused(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    insured: bool,
    rule: str,
) -> None:
    visit = await arrange(db, settings, insured=insured, priced=False)
    response = await _complete(client, token, visit)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["errors"][0]["field"]) == (
        rule, "lines[0].cpt_code",
    )  # fmt: skip


async def test_a_ledger_refusal_midway_leaves_nothing_behind(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    """The ledger refuses the completion's entry (its key was taken with other lines) after
    the session, its lines, the authorization's visit and the claim were written: the
    request's one transaction undoes them all."""
    visit = await arrange(db, settings, prior_auth_cpt_codes=["90837"])
    await authorize(db, visit, "PA1", 3)
    await post_entry(
        db,
        EntryIn(
            kind="completion",
            idempotency_key=f"completion-{visit.session.id}",
            source_table="therapy_sessions",
            source_id=visit.session.id,
            lines=(
                Line(account=AccountRef(kind="bank"), side="debit", amount_cents=1),
                Line(account=AccountRef(kind="platform_revenue"), side="credit", amount_cents=1),
            ),
        ),
    )
    claims_before = await db.fetchval("SELECT count(*) FROM claims")
    response = await _complete(client, token, visit)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "journal_key_reused"
    row = await session_row(db, visit.session.id)
    assert (row["status"], row["confirmed_at"], row["lines"]) == ("scheduled", None, 0)
    assert await db.fetchval("SELECT count(*) FROM claims") == claims_before
    assert await db.fetchval("SELECT visits_used FROM prior_authorizations") == 0


async def test_a_payer_receivable_line_names_a_real_claim(db: asyncpg.Connection) -> None:
    payer = (await make_payer(db)).id
    entry = EntryIn(
        kind="completion",
        idempotency_key="no-such-claim",
        source_table="therapy_sessions",
        source_id=uuid.uuid4(),
        lines=(
            Line(account=AccountRef(kind="payer_receivable", owner_id=payer), side="debit",
                 amount_cents=100, claim_id=uuid.uuid4()),
            Line(account=AccountRef(kind="platform_revenue"), side="credit", amount_cents=100),
        ),
    )  # fmt: skip
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="journal_lines_claim_fk"):
        async with db.transaction():
            await post_entry(db, entry)
