"""A sent batch's acknowledgements fetched and applied (DESIGN.md "Acknowledgements").

The 999 (or a TA1 when the interchange was refused) first, then the 277CA, each fetched by a
retrieval whose Payload is the batch's PayloadID, each with a PayloadID of its own (a receiver
answers a repeated one with its first answer, which would say "no file yet" for ever). "No
file yet" changes nothing: the job comes back later. Each file is applied once (the batch
records when), and each transition checks the claim's status under its lock, so applying the
same file twice changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from schemas.claims import BatchMember, ClaimBatchRow, FetchClaimResultsJob
from services.claims import queries
from services.claims.acks import ClaimAnswer, read_277ca, read_999, read_ta1
from services.claims.queries import batches
from services.clearinghouse.client import (
    NO_ACK_FILE,
    NO_RESULTS_FILE,
    PAYLOAD_277,
    PAYLOAD_999,
    PAYLOAD_TA1,
    RETRIEVE_277,
    RETRIEVE_999,
    ClearinghouseAdapter,
)
from services.clearinghouse.errors import ClearinghouseUnavailable
from services.core import clock, outbox
from services.core.db import transaction
from services.core.settings import Settings
from services.core.x12 import X12Error

RETRY_AFTER = timedelta(minutes=5)
_OPEN = ("submitted", "acknowledged")
_NO_999, _NO_277 = "no 999 yet", "no 277CA yet"
_WAITING = (_NO_999, _NO_277)
_WAITED = ("no_999", "no_277ca")


async def fetch_claim_results(
    pool: asyncpg.Pool, clearinghouse: ClearinghouseAdapter, settings: Settings, outbox_id: int
) -> str:
    """One batch's 999/TA1 and 277CA; safe to run twice or concurrently."""
    async with transaction(pool) as conn:
        job = await outbox.lock(conn, outbox_id, FetchClaimResultsJob)
        batch = None if job is None else await batches.get_batch(conn, job.batch_id)
    if batch is None:
        return "done already"
    try:
        outcome = await _fetch_and_apply(pool, clearinghouse, batch)
    except ClearinghouseUnavailable as exc:
        outcome = exc.detail
    async with transaction(pool) as conn:
        if outcome == "applied":
            await outbox.complete(conn, outbox_id)
            return outcome
        await outbox.record_failure(conn, outbox_id, outcome, RETRY_AFTER)
        overdue = timedelta(hours=settings.claim_ack_timeout_hours)
        now = clock.now()
        if outcome in _WAITING and batch.sent_at and now - batch.sent_at > overdue:
            # Still polled, but no rule waits for ever: ops look at the claims meanwhile. The
            # flag goes up once per version; after ops resolve it, again only once another
            # full timeout has passed without the file.
            reason = f"{outcome} {settings.claim_ack_timeout_hours} h after submission"
            kind = "no_999" if outcome == _NO_999 else "no_277ca"
            for member in await batches.lock_batch_members(conn, batch.id):
                if member.status in _OPEN:
                    await queries.flag_for_ops(
                        conn, member.claim_id, kind, reason, now, member.submission_id,
                        unless_resolved_after=now - overdue,
                    )  # fmt: skip
    return outcome


async def _fetch_and_apply(
    pool: asyncpg.Pool, clearinghouse: ClearinghouseAdapter, batch: ClaimBatchRow
) -> str:
    if batch.ack_applied_at is None:
        kind, text = await _retrieve(pool, clearinghouse, batch, RETRIEVE_999)
        if kind == NO_ACK_FILE:
            return _NO_999
        async with transaction(pool) as conn:
            if not await _apply_ack(conn, batch.id, kind, text):
                return "applied"  # a TA1 refused the interchange: no 277CA will come
    if batch.results_applied_at is None:
        kind, text = await _retrieve(pool, clearinghouse, batch, RETRIEVE_277)
        if kind == NO_RESULTS_FILE:
            return _NO_277
        async with transaction(pool) as conn:
            await _apply_277ca(conn, batch.id, kind, text)
    return "applied"


async def _retrieve(
    pool: asyncpg.Pool, clearinghouse: ClearinghouseAdapter, batch: ClaimBatchRow, kind: str
) -> tuple[str, str]:
    """The retrieval's answer (PayloadType, Payload), both envelopes stored."""
    request_id = uuid.uuid4()
    payload = str(batch.payload_id)
    answer = await clearinghouse.batch(kind, payload, payload_id=request_id)
    now = clock.now()
    error = (answer.error_code, answer.error_message) if answer.is_envelope_error else None
    async with transaction(pool) as conn:
        await batches.insert_batch_file(conn, batch.id, "sent", kind, request_id, payload, now)
        await batches.insert_batch_file(
            conn, batch.id, "received", answer.payload_type, request_id, answer.payload, now,
            error,
        )  # fmt: skip
    if error is not None:
        raise ClearinghouseUnavailable(f"the clearinghouse refused the retrieval: {error[0]}")
    return answer.payload_type, answer.payload


async def _apply_ack(conn: asyncpg.Connection, batch_id: uuid.UUID, kind: str, text: str) -> bool:
    """Apply the 999 (or TA1); False when the interchange was refused (nothing more comes)."""
    batch = await batches.lock_batch(conn, batch_id)
    if batch is None or batch.ack_applied_at is not None:
        return batch is not None and batch.results_applied_at is None
    now = clock.now()
    members = await batches.lock_batch_members(conn, batch_id)
    if kind == PAYLOAD_TA1 or kind != PAYLOAD_999:
        refused = kind == PAYLOAD_TA1 and _ta1_refused(text)
        for member in members:
            if not refused:
                await _to_ops(
                    conn, member, "ack_unexpected", f"unexpected acknowledgement {kind}", now
                )
                continue
            await _clear(conn, member, ("no_999",), "a TA1 answered the interchange", now)
            if member.status in _OPEN:
                note = f"TA1:R:{read_ta1(text).note}"
                await _move(conn, member, "rejected", f"interchange refused ({note})", [note], now)
        await batches.update_batch_applied(conn, batch_id, ack=now, results=now)
        return False
    ack = read_999(text, batch.group_control, batch.transaction_control)
    for member in members:
        await _clear(conn, member, ("no_999",), "the 999 came", now)
        codes = ack.set_codes + ack.claim_codes.get(member.clm01, [])
        if ack.decision == "ops":
            reason = f"999 not understood: {' '.join(codes)}"
            await _to_ops(conn, member, "ack_unreadable", reason, now)
        elif member.status == "submitted" and ack.decision in ("acknowledged", "rejected"):
            reason = f"999 {' '.join(codes) or 'IK5:A'}"
            await _move(conn, member, ack.decision, reason, codes, now)
    await batches.update_batch_applied(conn, batch_id, ack=now, results=None)
    return True


def _ta1_refused(text: str) -> bool:
    try:
        return read_ta1(text).refused
    except X12Error:
        return False


async def _apply_277ca(conn: asyncpg.Connection, batch_id: uuid.UUID, kind: str, text: str) -> None:
    batch = await batches.lock_batch(conn, batch_id)
    if batch is None or batch.results_applied_at is not None:
        return
    now = clock.now()
    members = await batches.lock_batch_members(conn, batch_id)
    if kind != PAYLOAD_277:
        for member in members:
            reason = f"unexpected claim acknowledgement {kind}"
            await _to_ops(conn, member, "ack_unexpected", reason, now)
    else:
        result = read_277ca(text)
        for member in members:
            # Whatever it says, the 277CA came: a flag raised for waiting on it is over.
            await _clear(conn, member, _WAITED, "the 277CA came", now)
            if member.status not in _OPEN:
                continue
            answer = result.claims.get(member.clm01)
            if answer is None and result.all_rejected:
                answer = ClaimAnswer("rejected", tuple(result.all_rejected))
            await _apply_claim_answer(conn, member, answer, now)
    await batches.update_batch_applied(conn, batch_id, ack=None, results=now)


async def _apply_claim_answer(
    conn: asyncpg.Connection, member: BatchMember, answer: ClaimAnswer | None, now: datetime
) -> None:
    if answer is None:
        await _to_ops(conn, member, "claim_unnamed", "the 277CA does not name the claim", now)
        return
    codes = list(answer.codes)
    reason = f"277CA {' '.join(codes)}"
    if answer.decision == "ops":
        undecided = f"277CA code no rule decides: {' '.join(codes)}"
        await _to_ops(conn, member, "code_undecided", undecided, now)
        return
    # The 277CA decided the claim: a 999 nobody could read no longer matters.
    await _clear(conn, member, ("ack_unreadable",), f"the 277CA decided: {reason}", now)
    if answer.decision == "accepted" and member.frequency == "8":
        # The payer accepted the void: the claim is withdrawn (its 277CA gives the void a
        # claim number of its own, kept on the version).
        await _move(conn, member, "voided", reason, codes, now, answer)
    elif answer.decision in ("accepted", "rejected"):
        await _move(conn, member, answer.decision, reason, codes, now, answer)
    else:  # A0/A1: still with the payer; keep the codes, the claim stays submitted
        await batches.update_submission_ack(conn, member.submission_id, codes, None, None)


async def _move(
    conn: asyncpg.Connection,
    member: BatchMember,
    to: str,
    reason: str,
    codes: list[str],
    now: datetime,
    answer: ClaimAnswer | None = None,
) -> None:
    await queries.update_claim_status(conn, member.claim_id, to, now)
    await queries.insert_history(conn, member.claim_id, member.status, to, reason[:500], None, now)
    number = answer.payer_claim_number if answer else None
    proof = answer.proof_date if answer else None
    await batches.update_submission_ack(conn, member.submission_id, codes, number, proof)


async def _to_ops(
    conn: asyncpg.Connection, member: BatchMember, kind: str, reason: str, now: datetime
) -> None:
    await queries.flag_for_ops(conn, member.claim_id, kind, reason, now, member.submission_id)


async def _clear(
    conn: asyncpg.Connection,
    member: BatchMember,
    kinds: tuple[str, ...],
    reason: str,
    now: datetime,
) -> None:
    """Lower the member's flag if one of `kinds` went up for this very version."""
    await queries.clear_ops_flag(
        conn, member.claim_id, kinds=kinds, submission_id=member.submission_id,
        event="cleared", reason=reason, actor_user_id=None, at=now,
    )  # fmt: skip
