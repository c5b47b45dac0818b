"""The facts a loss is decided on, read with the claim match: a session confirmed late (CO-29)
and a licence lapsed on the date of service (CO-B7, CO-185); the entries each decision books."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
import pytest

from services.core.auth import Actor
from services.ledger.service import get_trial_balance
from services.remittance.loss_facts import loss_facts
from services.remittance.queries.posting import get_claim_match
from services.remittance.service import post_file_on
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance.billed import PROVIDER_RATE_SHARE, Billed, balance, bill, receivable

pytestmark = pytest.mark.usefixtures("clock")
H_BPR = "BPR*H*0*C*NON************20261204~\n"
# The payer's window is 90 days (tests.factories.payer_in): from 1 June it closes on 30 August,
# and a confirmation after 23 August leaves the platform less than its 7-day margin.
SERVICE_DATE = date(2026, 6, 1)
ON_TIME = datetime.fromisoformat("2026-06-02T18:00:00+00:00")
LATE = datetime.fromisoformat("2026-08-27T18:00:00+00:00")
RATE = int(12000 * PROVIDER_RATE_SHARE)
# Denied: 150 charged, 30 over the allowed amount, the allowed 120 lost to one CARC.
DENIED_BY = """\
CLP*{clm01}*4*150*0*0*12*PCN0000000061*11*1~
NM1*QC*1*CHEN*RILEY****MI*M00000006~
SVC*HC:90837*150*0**1~
DTM*472*20260601~
CAS*CO*45*30**{code}*120~
REF*6R*{control}~
"""


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


@pytest.fixture
async def billed(db: asyncpg.Connection) -> Billed:
    provider = await make_provider_actor(db)
    found = await bill(db, (await make_payer(db)).id, provider)
    await db.execute(
        "UPDATE claims SET service_date = $2 WHERE id = $1", found.claim_id, SERVICE_DATE
    )
    return found


async def confirm(db: asyncpg.Connection, billed: Billed, at: datetime) -> None:
    """The claim's session confirmed by its provider at `at`, as completion leaves it."""
    await db.execute(
        """
        UPDATE therapy_sessions SET status = 'confirmed', confirmed_at = $2,
            confirmed_by = (SELECT user_id FROM providers WHERE id = provider_id),
            diagnosis_codes = '{F411}', started_at = starts_at, actual_minutes = 50,
            note_attested = true
        WHERE id = (SELECT therapy_session_id FROM claims WHERE id = $1)
        """,
        billed.claim_id,
        at,
    )


async def office(db: asyncpg.Connection, provider_id: uuid.UUID, state: str) -> None:
    await db.execute(
        """
        INSERT INTO provider_locations (provider_id, name, place_of_service, address_line1,
                                        city, state, zip)
        VALUES ($1, 'Office', '11', '1 Lake St', 'Somewhere', $2, '60601')
        """,
        provider_id,
        state,
    )


async def licence(db: asyncpg.Connection, provider_id: uuid.UUID, state: str, expires: str) -> None:
    await db.execute(
        """
        INSERT INTO provider_licences (provider_id, state, licence_type, number, expires_on)
        VALUES ($1, $2, 'LCSW', $3, $4)
        """,
        provider_id,
        state,
        uuid.uuid4().hex[:12],
        date.fromisoformat(expires),
    )


async def lapsed(db: asyncpg.Connection, billed: Billed) -> bool | None:
    match = await get_claim_match(db, billed.clm01)
    assert match is not None
    return match.licence_lapsed


async def deny(db: asyncpg.Connection, ops: Actor, billed: Billed, code: str) -> asyncpg.Record:
    """A notification-only 835 denying the claim's allowed amount with CO-`code`; its row."""
    body = DENIED_BY.format(clm01=billed.clm01, code=code, control=billed.line_controls[0])
    raw = f.interchange([f.transaction(body, bpr=H_BPR)]).encode()
    await post_file_on(db, raw, "upload", ops)
    assert await receivable(db, billed.claim_id) == 0
    assert (await get_trial_balance(db)).imbalance_cents == 0
    row: asyncpg.Record = await db.fetchrow(
        "SELECT id, outcome, loss_cents, needs_ops, ops_reason FROM remitted_claims"
        " WHERE claim_id = $1",
        billed.claim_id,
    )
    assert (row["outcome"], row["loss_cents"]) == ("denied", 12000)
    return row


async def recoupments(db: asyncpg.Connection, row: asyncpg.Record) -> list[asyncpg.Record]:
    """The recoupment entries of a remitted claim, each with its provider_payable debit."""
    return await db.fetch(
        """
        SELECT e.memo, l.amount_cents, l.side FROM journal_entries e
        JOIN journal_lines l ON l.entry_id = e.id
        JOIN ledger_accounts a ON a.id = l.account_id AND a.kind = 'provider_payable'
        WHERE e.kind = 'recoupment' AND e.source_id = $1
        """,
        row["id"],
    )


async def assert_recouped(
    db: asyncpg.Connection, billed: Billed, row: asyncpg.Record, words: str
) -> None:
    ((memo, amount, side),) = await recoupments(db, row)
    assert (amount, side) == (RATE, "debit")  # at most what the session earned the provider
    assert memo.startswith("Recouped from the provider: ")
    assert words in memo
    assert await balance(db, "provider_payable", billed.provider_id) == 0
    assert await balance(db, "claim_losses") == 12000 - RATE  # the platform's margin, its own
    assert not row["needs_ops"]


async def assert_absorbed(db: asyncpg.Connection, billed: Billed, row: asyncpg.Record) -> None:
    assert await recoupments(db, row) == []
    assert await balance(db, "provider_payable", billed.provider_id) == RATE
    assert await balance(db, "claim_losses") == 12000  # the platform's loss


async def test_co29_recoups_when_the_session_was_confirmed_late(db, ops, billed):
    await confirm(db, billed, LATE)
    row = await deny(db, ops, billed, "29")
    await assert_recouped(db, billed, row, "confirmed too late to file within")


async def test_co29_is_absorbed_when_the_session_was_confirmed_in_time(db, ops, billed):
    await confirm(db, billed, ON_TIME)
    row = await deny(db, ops, billed, "29")
    await assert_absorbed(db, billed, row)
    assert not row["needs_ops"]


async def test_co29_on_a_session_never_confirmed_is_absorbed_and_flagged(db, ops, billed):
    row = await deny(db, ops, billed, "29")
    await assert_absorbed(db, billed, row)
    assert row["needs_ops"]
    unknown = "when the session was confirmed against the payer's time limit is not known"
    assert unknown in row["ops_reason"]


@pytest.mark.parametrize("code", ["B7", "185"])
async def test_a_lapsed_licence_recoups_a_provider_not_eligible(db, ops, billed, code):
    await office(db, billed.provider_id, "IL")
    await licence(db, billed.provider_id, "IL", "2026-05-31")  # the day before the service
    await licence(db, billed.provider_id, "WI", "2030-01-01")  # current, in another state
    row = await deny(db, ops, billed, code)
    await assert_recouped(db, billed, row, "licence had lapsed on the date of service")
    assert f"(CO-{code})" in (await recoupments(db, row))[0]["memo"]


@pytest.mark.parametrize("code", ["B7", "185"])
async def test_a_current_licence_leaves_the_loss_with_the_platform(db, ops, billed, code):
    await office(db, billed.provider_id, "IL")
    await licence(db, billed.provider_id, "IL", "2026-06-01")  # valid through the service day
    row = await deny(db, ops, billed, code)
    await assert_absorbed(db, billed, row)
    assert not row["needs_ops"]


async def test_an_office_session_without_an_office_on_file_is_flagged(db, ops, billed):
    await licence(db, billed.provider_id, "IL", "2030-01-01")
    row = await deny(db, ops, billed, "B7")
    await assert_absorbed(db, billed, row)
    assert row["needs_ops"]
    assert "whether the provider's licence was current" in row["ops_reason"]


async def test_telehealth_reads_the_licence_of_the_clients_state(db, billed):
    # make_client_actor's client lives in MA; the provider's office is in IL.
    await db.execute("UPDATE claims SET place_of_service = '10' WHERE id = $1", billed.claim_id)
    await office(db, billed.provider_id, "IL")
    await licence(db, billed.provider_id, "IL", "2030-01-01")
    assert await lapsed(db, billed) is True
    await licence(db, billed.provider_id, "MA", "2030-01-01")
    assert await lapsed(db, billed) is False


async def test_the_match_reads_the_filing_window_and_the_confirmation(db, billed):
    match = await get_claim_match(db, billed.clm01)
    assert match is not None
    assert (match.service_date, match.timely_filing_days) == (SERVICE_DATE, 90)
    assert (match.confirmed_on, match.licence_lapsed) == (None, None)
    facts = loss_facts(match)
    assert (facts.authorization_recorded, facts.confirmed_late, facts.licence_lapsed) == (
        False, None, None,
    )  # fmt: skip
    await office(db, billed.provider_id, "IL")
    assert await lapsed(db, billed) is True  # no licence there at all


# The margin leaves 23 August as the last day in time; the day is the confirmation's UTC date,
# as completion's own filing check reads the clock.
@pytest.mark.parametrize(
    ("at", "late"),
    [
        ("2026-08-23T23:59:59+00:00", False),
        ("2026-08-24T00:00:00+00:00", True),
        ("2026-08-23T20:00:00-07:00", True),  # 24 August, 03:00 UTC
        ("2026-08-30T12:00:00+00:00", True),  # the window's last day
    ],
)
async def test_confirmed_late_at_the_margin(db, billed, at, late):
    await confirm(db, billed, datetime.fromisoformat(at))
    match = await get_claim_match(db, billed.clm01)
    assert match is not None
    assert loss_facts(match).confirmed_late is late
