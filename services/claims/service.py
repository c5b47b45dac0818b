"""Claims: the claim a confirmed in-network session becomes (status `ready`), read back.

Submission, acknowledgements, corrections and the 837P are later slices (issue 15 items 4-7).
"""

from __future__ import annotations

import string
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

import asyncpg

from schemas.claims import (
    ClaimDetailOut,
    ClaimIn,
    ClaimLineIn,
    ClaimLineOut,
    ClaimOut,
    ClaimStatus,
    ClaimSummaryOut,
    ClaimVersionOut,
    NeedsOpsClaimOut,
    OpsResolutionIn,
    OpsResolutionOut,
    RejectedClaimOut,
    SessionClaimOut,
)
from schemas.ops import ClaimQueuesOut
from services.claims import queries
from services.claims.errors import (
    ChargeBelowAllowed,
    ClaimExists,
    ClaimNotFlagged,
    ClaimNotFound,
    ClaimNotReady,
    NoPlatformCharge,
)
from services.claims.queries import reads
from services.claims.submission import queue_payer_submission
from services.core import audit, clock
from services.core.auth import Actor
from services.core.pagination import After, Page, page_of
from services.core.scope import owner_scope

ENTITY = "claim"
_DIGITS = string.digits + string.ascii_uppercase
# CLM01 = claim number (C + 9 base-36 digits: 36^9 claims) + version (2 base-36 digits).
_NUMBER_DIGITS, _VERSION_DIGITS = 9, 2


def base36(value: int, width: int) -> str:
    """`value` in base 36 (0-9A-Z), left-padded with zeros to `width` digits."""
    if value < 0 or value >= 36**width:
        raise ValueError(f"{value} does not fit {width} base-36 digits")
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits.append(_DIGITS[digit])
    return "".join(reversed(digits))


def claim_number(sequence: int) -> str:
    return "C" + base36(sequence, _NUMBER_DIGITS)


def clm01(number: str, version: int) -> str:
    """CLM01 of one version: A-Z 0-9, 12 characters (at most 17), unique per version."""
    return number + base36(version, _VERSION_DIGITS)


def price_lines(
    lines: list[ClaimLineIn], charges: dict[str, int], service_date: date, prefix: str
) -> list[ClaimLineOut]:
    """The lines at the platform's `charges` on the date of service (DESIGN.md "Rates"), each
    with its line control number (REF*6R) `{prefix}L{n}`."""
    priced = []
    for n, line in enumerate(lines, start=1):
        charge = charges.get(line.cpt_code)
        if charge is None:
            raise NoPlatformCharge(
                f"the platform has no charge for {line.cpt_code} on {service_date}",
                field=f"lines[{n - 1}].cpt_code",
            )
        if charge < line.allowed_cents:
            # Billing below the allowed amount would lose the difference for good.
            raise ChargeBelowAllowed(
                f"the platform's charge for {line.cpt_code} is below the payer's allowed amount",
                field=f"lines[{n - 1}].cpt_code",
            )
        priced.append(
            ClaimLineOut(
                line_number=n,
                cpt_code=line.cpt_code,
                modifiers=line.modifiers,
                charge_cents=charge,
                allowed_cents=line.allowed_cents,
                provider_rate_cents=line.provider_rate_cents,
                units=1,
                diagnosis_pointers=line.diagnosis_pointers,
                line_control_number=f"{prefix}L{n}",
            )
        )
    return priced


async def priced_lines(
    conn: asyncpg.Connection, lines: list[ClaimLineIn], service_date: date, prefix: str
) -> list[ClaimLineOut]:
    """price_lines at the charges in force on the date of service."""
    charges = await queries.get_charges(conn, [line.cpt_code for line in lines], service_date)
    return price_lines(lines, charges, service_date, prefix)


async def create_claim(conn: asyncpg.Connection, actor: Actor, data: ClaimIn) -> uuid.UUID:
    """The session's claim with this payer, `ready`, version 1 (frequency 1), with history;
    its id (the caller has what it would read back)."""
    sequence, charges = await queries.next_claim_number_and_charges(
        conn, [line.cpt_code for line in data.lines], data.service_date
    )
    number = claim_number(sequence)
    lines = price_lines(data.lines, charges, data.service_date, number)
    claim_id = await queries.insert_new_claim(
        conn, data, number, lines, clm01(number, 1),
        ("session confirmed", actor.user, clock.now()), audit.author(actor),
    )  # fmt: skip
    if claim_id is None:
        raise ClaimExists("the session already has a claim with this payer")
    return claim_id


async def queue_submission(conn: asyncpg.Connection, payer_id: uuid.UUID, hold: timedelta) -> None:
    """The payer's submission row, due when the hold of a claim made ready just now ends (in
    the caller's transaction), so the batch takes it then rather than at the next cron. Read
    after the claim's history row was stamped, the clock is never behind its ready time."""
    await queue_payer_submission(conn, payer_id, clock.now() + hold)


async def lock_claim_of_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> ClaimOut | None:
    """The session's claim, locked (the submission job skips it until the caller commits)."""
    claim_id = await queries.lock_claim_of_session(conn, session_id)
    return None if claim_id is None else await _claim(conn, claim_id)


async def rewrite_claim(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID, data: ClaimIn
) -> ClaimOut:
    """A `ready` claim rewritten in place from its edited session: same number and version
    (it was never sent), lines priced again at the service date's charges."""
    claim = await _claim(conn, claim_id)
    if claim.status != "ready":
        raise ClaimNotReady(f"the claim is {claim.status}: it was submitted", field="status")
    if claim.clm01 != clm01(claim.claim_number, 1):
        # A corrected version waiting to be resent: the earlier one went out, so the coding is
        # changed through a correction (a new version), never in place.
        raise ClaimNotReady("the claim was submitted before: correct it instead", field="status")
    lines = await priced_lines(conn, data.lines, data.service_date, claim.claim_number)
    total = sum(line.charge_cents for line in lines)
    await queries.update_claim_coding(conn, claim_id, data, total, clock.now())
    await queries.delete_lines(conn, claim_id)
    await queries.insert_lines(conn, claim_id, lines)
    await audit.record(conn, actor, "update", ENTITY, [claim_id])
    return await _claim(conn, claim_id)


async def _claim(conn: asyncpg.Connection, claim_id: uuid.UUID) -> ClaimOut:
    found = await queries.get_claim(conn, claim_id)
    if found is None:
        raise ClaimNotFound("claim not found")
    return found


async def get_claim_of_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> ClaimOut | None:
    """The claim a session became, if any (no audit: callers read it for their own use)."""
    claim_id = await queries.get_claim_of_session(conn, session_id)
    return None if claim_id is None else await _claim(conn, claim_id)


# The claims API (issue 15 item 9). Every read of a claim is a read of PHI (its diagnoses, its
# client): each claim returned writes an audit row.


async def list_claims(
    conn: asyncpg.Connection,
    actor: Actor,
    status: ClaimStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[ClaimSummaryOut]:
    """The claims the caller may see (a provider: theirs; ops: every one), filtered."""
    scope = owner_scope(actor)
    page = await page_of(
        lambda after, n: reads.list_claims(conn, scope, status, after, n), cursor, limit
    )
    await audit.record(conn, actor, "read", ENTITY, [c.id for c in page.items])
    return page


async def get_claim_detail(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID
) -> ClaimDetailOut:
    """One claim with lines and history; another owner's claim is not found."""
    summary = await _visible(conn, actor, claim_id)
    await audit.record(conn, actor, "read", ENTITY, [claim_id])
    return ClaimDetailOut(
        claim=await _claim(conn, claim_id),
        filing_deadline=summary.filing_deadline,
        filing_flagged_at=summary.filing_flagged_at,
        history=await reads.list_history(conn, claim_id),
    )


async def list_versions(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID
) -> list[ClaimVersionOut]:
    """A claim's versions, oldest first (at most 1295: CLM01's two base-36 digits)."""
    await _visible(conn, actor, claim_id)
    # Each version names its batch and that batch's files (the 837P it went out in, the 999
    # and 277CA that answered): GET /claim-batches/{id}/files/{file_id} reads them.
    versions = await reads.list_versions(conn, claim_id)
    await audit.record(conn, actor, "read", ENTITY, [claim_id])
    return versions


async def list_rejected(
    conn: asyncpg.Connection, actor: Actor, cursor: str | None, limit: int
) -> Page[RejectedClaimOut]:
    """Ops' queue of rejected claims, each with its latest rejection's reason."""
    page = await page_of(lambda after, n: reads.list_rejected(conn, after, n), cursor, limit)
    await audit.record(conn, actor, "read", ENTITY, [c.id for c in page.items])
    return page


def _deadline_key(claim: ClaimSummaryOut) -> After:
    # The cursor holds an instant: the deadline's midnight UTC stands for the day.
    return datetime.combine(claim.filing_deadline, time(), UTC), claim.id


def _deadline_after(after: After | None) -> tuple[date, uuid.UUID] | None:
    return None if after is None else (after[0].astimezone(UTC).date(), after[1])


async def list_filing_deadlines(
    conn: asyncpg.Connection, actor: Actor, cursor: str | None, limit: int
) -> Page[ClaimSummaryOut]:
    """Ops' queue of flagged claims not yet accepted, soonest deadline first."""
    page = await page_of(
        lambda after, n: reads.list_filing_deadlines(conn, _deadline_after(after), n),
        cursor,
        limit,
        key=_deadline_key,
    )
    await audit.record(conn, actor, "read", ENTITY, [c.id for c in page.items])
    return page


def _ops_key(claim: NeedsOpsClaimOut) -> After:
    return claim.ops_since, claim.id


async def list_needs_ops(
    conn: asyncpg.Connection, actor: Actor, cursor: str | None, limit: int
) -> Page[NeedsOpsClaimOut]:
    """Ops' queue of flagged claims with what raised each flag, longest waiting first."""
    page = await page_of(
        lambda after, n: reads.list_needs_ops(conn, after, n), cursor, limit, key=_ops_key
    )
    await audit.record(conn, actor, "read", ENTITY, [c.id for c in page.items])
    return page


async def resolve_ops_flag(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID, data: OpsResolutionIn
) -> OpsResolutionOut:
    """Ops lower a claim's flag with a note, kept in its history (whatever raised it)."""
    await _visible(conn, actor, claim_id)
    now = clock.now()
    lowered = await queries.clear_ops_flag(
        conn, claim_id, kinds=None, submission_id=None, event="resolved", reason=data.note,
        actor_user_id=actor.user, at=now,
    )  # fmt: skip
    if lowered is None:
        raise ClaimNotFlagged("the claim is not flagged for ops", field="claim_id")
    await audit.record(conn, actor, "update", ENTITY, [claim_id])
    return OpsResolutionOut(
        claim_id=claim_id,
        kind=lowered.kind,
        reason=lowered.reason,
        flagged_since=lowered.since,
        note=data.note,
        resolved_by=actor.user,
        resolved_at=now,
    )


async def get_session_claims(
    conn: asyncpg.Connection, actor: Actor, session_id: uuid.UUID
) -> list[SessionClaimOut]:
    """Where a session's claims stand; a session not the caller's (or with none) is 404."""
    found = await reads.list_session_claims(conn, owner_scope(actor), session_id)
    if not found:
        raise ClaimNotFound("the session has no claim")
    await audit.record(conn, actor, "read", ENTITY, [c.claim_id for c in found])
    return found


async def flag_filing_deadlines(
    conn: asyncpg.Connection, today: date, warn_days: int
) -> list[uuid.UUID]:
    """Flag, once, the claims not yet accepted whose filing deadline is near (daily job)."""
    return await queries.update_flag_filing_deadlines(conn, today, warn_days, clock.now())


async def _visible(conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID) -> ClaimSummaryOut:
    found = await reads.get_visible_claim(conn, owner_scope(actor), claim_id)
    if found is None:
        raise ClaimNotFound("claim not found")
    return found


# A claim the 835 finds here keeps its status: a correction or void waits to be sent (`ready`),
# or the payer confirmed the void (`voided`); the remittance row keeps what the 835 said.
_REMITTANCE_KEEPS = frozenset({"ready", "voided"})


class RemittanceEvent(NamedTuple):
    """What one CLP of an 835 made of a claim, as `record_remittances` takes it."""

    claim_id: uuid.UUID
    submission_id: uuid.UUID | None
    to: ClaimStatus
    reason: str
    payer_claim_number: str | None


async def record_remittances(conn: asyncpg.Connection, events: list[RemittanceEvent]) -> None:
    """What an 835 payment made of its claims (paid, partially_paid, denied, reversed), in file
    order, each CLP07 the version's payer claim number: every claim locked in one statement
    (ordered by id), then one UPDATE per table and the history rows in one INSERT."""
    if not events:
        return
    statuses = await queries.lock_claim_statuses(conn, sorted({e.claim_id for e in events}))
    numbers: dict[uuid.UUID, str] = {}
    history: list[tuple[uuid.UUID, str, str, str]] = []
    changed: dict[uuid.UUID, str] = {}
    for event in events:
        status = statuses.get(event.claim_id)
        if status is None:
            raise ClaimNotFound("claim not found")
        if event.submission_id is not None and event.payer_claim_number:
            numbers[event.submission_id] = event.payer_claim_number
        if status in _REMITTANCE_KEEPS or status == event.to:
            continue
        history.append((event.claim_id, status, event.to, event.reason[:500]))
        statuses[event.claim_id] = changed[event.claim_id] = event.to
    if numbers:
        await queries.update_remitted_submissions(conn, numbers)
    if changed:
        now = clock.now()
        await queries.update_claim_statuses(conn, changed, now)
        await queries.insert_histories(conn, history, now)


async def summarize_open_work(
    conn: asyncpg.Connection, actor: Actor, day: date, within_days: int, listed: int
) -> ClaimQueuesOut:
    """The ops digest's claims part: the ops and rejected queues now, and the claims not yet
    accepted whose filing deadline falls on or before `day` + `within_days` (the soonest few)."""
    flagged, rejected = await reads.count_open_work(conn)
    near, soonest = await reads.list_deadlines_near(conn, day + timedelta(days=within_days), listed)
    await audit.record(conn, actor, "read", ENTITY, [c.claim_id for c in soonest])
    return ClaimQueuesOut(
        needs_ops=flagged, rejected=rejected, deadlines_within_days=within_days,
        deadlines_near=near, soonest=soonest,
    )  # fmt: skip
