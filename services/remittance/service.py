"""Posting 835 files and reading back what they posted (issue 16 items 2 and 3).

`post_file` validates the whole file first (a refused file posts nothing: 422 naming the
segment and its position), then posts it in one database transaction: a file is what ops
upload and what the worker fetches, and its answer ("what was posted") is only true if the
whole file committed or none of it did. A crash mid-file rolls everything back, and the re-run
posts it from the start; a payment (trace) another file posted is skipped ("already posted").
Two imports of one file at once: the second waits on the file's UNIQUE SHA-256 (then on each
payment's UNIQUE trace) until the first commits, then finds it posted.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import datetime

import asyncpg

from schemas.ops import EraDayOut, RemittanceQueuesOut
from schemas.remittance import Claim, Remittance
from schemas.remittance_posting import (
    AdjustmentOut,
    ClaimRemittanceItem,
    ClaimRemittanceOut,
    PaymentDetailOut,
    PostedPaymentOut,
    PostingStatus,
    RemittanceFileDetailOut,
    RemittanceFileOut,
    RemittanceFileRow,
    RemittanceSource,
    RemittanceTotals,
    RemittedClaimOut,
    RemittedClaimQueued,
    RemittedClaimRow,
)
from schemas.true_ups import TrueUpOut, TrueUpStatus
from services.core import audit, clock
from services.core.auth import Actor
from services.core.db import transaction
from services.core.pagination import Page, page_of
from services.core.scope import owner_scope
from services.remittance import batch, codes, posting, true_up, true_up_ops
from services.remittance.errors import Refused835, RemittanceNotFound
from services.remittance.queries import digest, reads
from services.remittance.queries import posting as q
from services.remittance.x835 import X835Error, read_835

FILE_ENTITY = "remittance_file"
CLAIM_ENTITY = "remitted_claim"


def carc_words(code: str) -> str:
    """A CARC in words ("the insurer does not consider the service medically necessary"),
    for other domains (a provider's payout statement); an unknown code named as such."""
    return codes.reason_text(code)


async def post_file(
    pool: asyncpg.Pool, raw: bytes, source: RemittanceSource, actor: Actor
) -> tuple[RemittanceFileOut, bool]:
    """Validate and post one 835 file in its own transaction; True when anything was posted."""
    async with transaction(pool) as conn:
        return await post_file_on(conn, raw, source, actor)


async def post_file_on(
    conn: asyncpg.Connection, raw: bytes, source: RemittanceSource, actor: Actor
) -> tuple[RemittanceFileOut, bool]:
    """`post_file` on the caller's transaction (the request's, or a job's)."""
    try:
        summary, remittances = read_835(io.BytesIO(raw))
    except X835Error as exc:
        raise Refused835(str(exc), field="body") from exc
    except UnicodeDecodeError as exc:
        raise Refused835(f"the body is not text at byte {exc.start}", field="body") from exc
    digest = hashlib.sha256(raw).hexdigest()
    # Files post one at a time (their transactions are short; a payer's day is a few files).
    await q.lock_file_postings(conn)
    now = clock.now()
    file_id = await q.insert_file(
        conn, digest, source, now, actor.user_id, len(raw), summary.transactions,
        summary.claims, summary.payment_cents,
    )  # fmt: skip
    if file_id is None:  # this very file was posted before: its answer, nothing changed
        found = await q.get_file_id(conn, digest)
        assert found is not None
        file = await _file(conn, found)
        payments = await reads.list_payments_of_file(conn, found)
        before = [PostedPaymentOut(status="already_posted", payment=p) for p in payments]
        await audit.record(conn, actor, "read", FILE_ENTITY, [found])
        return RemittanceFileOut(status="already_posted", file=file, payments=before), False
    results = [await _post_payment(conn, actor, file_id, r) for r in remittances]
    await audit.record(conn, actor, "create", FILE_ENTITY, [file_id])
    anything = any(r.status == "posted" for r in results)
    status: PostingStatus = "posted" if anything else "already_posted"
    out = RemittanceFileOut(status=status, file=await _file(conn, file_id), payments=results)
    return out, anything


async def _file(conn: asyncpg.Connection, file_id: uuid.UUID) -> RemittanceFileRow:
    file = await reads.get_file(conn, file_id)
    if file is None:
        raise RemittanceNotFound("remittance file not found")
    return file


async def _post_payment(
    conn: asyncpg.Connection, actor: Actor, file_id: uuid.UUID, r: Remittance
) -> PostedPaymentOut:
    ids = [ref.value for ref in r.payer.references if ref.qualifier == "2U"]
    payer_id = await q.get_payer_id(conn, ids + ([r.payer.id] if r.payer.id else []))
    trace = (r.trace_number, r.trace_originator)
    payment_id = await q.insert_payment(
        conn, file_id, r.position, r.handling, r.totals.payment_cents, r.payment_method,
        r.payment_date, trace, (r.payer.name[:60], payer_id), r.payee.id, len(r.claims),
        r.totals.paid_cents, r.totals.provider_adjustment_cents, clock.now(),
    )  # fmt: skip
    if payment_id is None:
        found = await q.get_payment_id(conn, *trace)
        return PostedPaymentOut(
            status="already_posted", payment=await reads.get_payment(conn, found)
        )
    # BPR01 H is a notification: no money moves, BPR02 is 0. Its claims and PLBs still post
    # (a denial, a reversal netted against its correction or deferred by a WO): their
    # payer_clearing lines net to 0. One that says H with a payment is kept for ops.
    moves = not (r.notification_only and r.totals.payment_cents != 0)
    key = posting.payment_key(r)
    notes: list[str] = []
    if not moves:
        notes.append("a notification (BPR01 H) with a payment: nothing was posted")
    staged = await batch.read_batch(conn, payment_id, payer_id, r)
    created = [
        await _post_claim(staged, key, n, clp, r.trace_number, moves)
        for n, clp in enumerate(r.claims, start=1)
    ]
    await _store_lines(staged, r.claims, created)
    await batch.flush_claims(staged)
    # The true-ups read and write rows of their own that name the remitted claims: after
    # those are written, in file order (a reversal's, then its correction's, which nets it).
    true_ups = await true_up.record_true_ups(conn, r.claims, created)
    await audit.record(conn, actor, "create", CLAIM_ENTITY, [p.id for p in created])
    await true_up_ops.audit_created(conn, actor, true_ups)
    plb_ops = False
    for n, plb in enumerate(r.provider_adjustments if moves else (), start=1):
        plb_ops |= await posting.post_provider_adjustment(staged, key, payment_id, n, plb)
    await batch.flush(staged)
    if plb_ops:
        notes.append("a PLB went to unapplied cash (an unknown code or claim)")
    if notes:
        await q.update_payment_ops(conn, payment_id, "; ".join(notes))
    return PostedPaymentOut(status="posted", payment=await reads.get_payment(conn, payment_id))


async def _post_claim(  # noqa: C901 - the CLP's cases, in DESIGN.md's order
    staged: batch.Batch,
    key: str,
    n: int,
    clp: Claim,
    trace: str,
    moves: bool,
) -> posting.Posted:
    """One CLP decided and staged; what it made."""
    key = f"{key}-c{n}"
    posted = posting.Posted(id=uuid.uuid4(), outcome="unmatched")
    match = staged.matches.get(clp.patient_control_number)
    if match is not None:
        posted.claim_id, posted.submission_id = match.claim_id, match.submission_id
    original = None
    if not moves:
        posted.notes.append("a notification (BPR01 H) with a payment")
    elif clp.status == "22":
        original = staged.original(
            clp.payer_claim_number, clp.patient_control_number, staged.payer_id
        )
        if original is None:
            await posting.to_unapplied(staged, key, posted, clp.paid_cents,
                                       "a reversal of a payment never posted here")  # fmt: skip
        else:
            if posted.claim_id is None:
                posted.claim_id = original.claim_id
            await posting.post_reversal(staged, key, clp, posted, original)
    elif clp.status not in posting.PROCESSED | posting.FORWARDED:
        why = f'claim status {clp.status}: ops decide (DESIGN.md "Denial")'
        await posting.to_unapplied(staged, key, posted, clp.paid_cents, why)
    elif match is None:
        await posting.to_unapplied(staged, key, posted, clp.paid_cents,
                                   "no claim of ours has this patient control number")  # fmt: skip
    elif posting.is_duplicate(clp):
        posted.outcome = "duplicate"  # CO-18: the original stands, nothing changes
        if clp.paid_cents:
            await posting.to_unapplied(staged, key, posted, clp.paid_cents, "a CO-18 with money")
        elif staged.standing(match.claim_id) is None:
            # Not a repeat of this claim's own adjudication: the payer holds another claim of
            # ours for the same service, so this one was billed twice (ops void or correct it).
            posted.notes.append("CO-18: the payer adjudicated this service on another claim")
    elif staged.standing(match.claim_id) is not None:
        await posting.to_unapplied(staged, key, posted, clp.paid_cents,
                                   "the claim was remitted before and not reversed")  # fmt: skip
    else:
        await posting.post_adjudication(staged, key, clp, posted, match)
    if posted.outcome == "unmatched" and posted.claim_id is not None:
        posted.outcome = "ops"
    _store_claim(staged, n, clp, posted)
    if original is not None:
        staged.reverse(original, posted.id)
    await posting.record_claim_status(staged, clp, posted, trace)
    return posted


def _store_claim(staged: batch.Batch, n: int, clp: Claim, posted: posting.Posted) -> None:
    notes = "; ".join(posted.notes)
    staged.claims.append({
        "id": posted.id, "payment_id": staged.payment_id, "ordinal": n, "position": clp.position,
        "patient_control_number": clp.patient_control_number[:38],
        "status_code": clp.status[:2], "charge_cents": clp.charge_cents,
        "paid_cents": clp.paid_cents,
        "patient_responsibility_cents": clp.patient_responsibility_cents,
        "patient_adjustments_cents": clp.patient_adjustments_cents,
        "payer_claim_number": clp.payer_claim_number[:50], "claim_id": posted.claim_id,
        "submission_id": posted.submission_id, "outcome": posted.outcome,
        "reversal_of": posted.reversal_of, "contractual_cents": posted.contractual,
        "loss_cents": posted.loss, "true_up_cents": posted.true_up,
        "estimated_share_cents": posted.estimate,
        "remark_codes": list(clp.remark_codes), "needs_ops": bool(notes),
        "ops_reason": notes[:500] or None,
    })  # fmt: skip
    staged.adjustments += [
        (posted.id, None, a.group, a.reason, a.amount_cents, a.quantity, list(clp.remark_codes))
        for a in clp.adjustments
    ]
    if (
        posted.claim_id is not None and posted.reversal_of is None
        and posted.outcome in ("paid", "partially_paid", "denied")
    ):  # fmt: skip
        match = staged.matches.get(clp.patient_control_number)
        staged.stands(q.Remitted(
            id=posted.id, claim_id=posted.claim_id, paid_cents=clp.paid_cents,
            payer_claim_number=clp.payer_claim_number[:50],
            patient_control_number=clp.patient_control_number[:38],
            payer_id=match.payer_id if match is not None else None,
        ))  # fmt: skip


async def _store_lines(
    staged: batch.Batch, clps: tuple[Claim, ...], posted: list[posting.Posted]
) -> None:
    """Every CLP's lines (SVC), matched to its claim's lines by REF*6R in one statement."""
    matched = [(clp, p) for clp, p in zip(clps, posted, strict=True) if p.claim_id is not None]
    wanted = {
        line.control_number for clp, _ in matched for line in clp.lines if line.control_number
    }
    numbers: dict[tuple[uuid.UUID, str], int] = {}
    if wanted:
        numbers = await q.list_claims_lines(
            staged.conn, sorted({p.claim_id for _, p in matched if p.claim_id}), sorted(wanted)
        )
    for clp, p in zip(clps, posted, strict=True):
        for m, line in enumerate(clp.lines, start=1):
            number = numbers.get((p.claim_id, line.control_number or "")) if p.claim_id else None
            line_id = uuid.uuid4()
            staged.lines.append((
                line_id, p.id, m, line.position, line.procedure.code[:48], line.charge_cents,
                line.paid_cents, line.control_number, p.claim_id if number else None, number,
                list(line.remark_codes),
            ))  # fmt: skip
            staged.adjustments += [
                (p.id, line_id, a.group, a.reason, a.amount_cents, a.quantity,
                 list(line.remark_codes))
                for a in line.adjustments
            ]  # fmt: skip


async def list_files(
    conn: asyncpg.Connection, actor: Actor, limit: int, cursor: str | None
) -> Page[RemittanceFileRow]:
    """The files received, newest first."""
    page = await page_of(lambda after, n: reads.list_files(conn, after, n), cursor, limit)
    await audit.record(conn, actor, "read", FILE_ENTITY, [f.id for f in page.items])
    return page


async def list_needs_ops(
    conn: asyncpg.Connection, actor: Actor, limit: int, cursor: str | None
) -> Page[RemittedClaimQueued]:
    """The remittance ops queue, longest waiting first."""
    page = await page_of(lambda after, n: reads.list_needs_ops(conn, after, n), cursor, limit)
    await audit.record(conn, actor, "read", CLAIM_ENTITY, [c.id for c in page.items])
    return page


async def list_adjustments_of(
    conn: asyncpg.Connection, remitted_claim_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[AdjustmentOut]]:
    """Each remitted claim's adjustments (claim and line level, with their RARCs), file order,
    their codes in plain words."""
    by_claim: dict[uuid.UUID, list[AdjustmentOut]] = {i: [] for i in remitted_claim_ids}
    for owner, adjustment in await reads.list_adjustments(conn, remitted_claim_ids):
        by_claim[owner].append(codes.worded(adjustment))
    return by_claim


async def with_adjustments(
    conn: asyncpg.Connection, claims: list[RemittedClaimRow]
) -> list[RemittedClaimOut]:
    """Each remitted claim with its adjustments, their codes in plain words."""
    by_claim = await list_adjustments_of(conn, [c.id for c in claims])
    return [RemittedClaimOut(claim=c, adjustments=by_claim[c.id]) for c in claims]


def standing(claims: list[RemittedClaimRow]) -> list[RemittedClaimRow]:
    """The remittances that stand: adjudications neither reversed nor reversals."""
    return [
        c for c in claims if c.reversed_by is None and c.reversal_of is None
        and c.outcome in ("paid", "partially_paid", "denied")
    ]  # fmt: skip


async def get_file(
    conn: asyncpg.Connection, actor: Actor, file_id: uuid.UUID
) -> RemittanceFileDetailOut:
    """A file's payments, each with its claims (matched or not) and PLBs, and its totals."""
    file = await _file(conn, file_id)
    payments = await reads.list_payments_of_file(conn, file_id)
    claims = await with_adjustments(
        conn, await reads.list_claims_of_payments(conn, [p.id for p in payments])
    )
    details = [
        PaymentDetailOut(
            payment=p,
            claims=[c for c in claims if c.claim.payment_id == p.id],
            provider_adjustments=await reads.list_provider_adjustments(conn, p.id),
        )
        for p in payments
    ]
    rows = [c.claim for c in claims]
    totals = RemittanceTotals(
        claims_matched=sum(1 for c in rows if c.claim_id is not None),
        claims_unmatched=sum(1 for c in rows if c.claim_id is None),
        claims_for_ops=sum(1 for c in rows if c.needs_ops),
        paid_cents=sum(c.paid_cents for c in rows),
        patient_responsibility_cents=sum(c.patient_adjustments_cents for c in rows),
        contractual_cents=sum(c.contractual_cents for c in rows),
        loss_cents=sum(c.loss_cents for c in rows),
    )
    await audit.record(conn, actor, "read", FILE_ENTITY, [file_id])
    await audit.record(conn, actor, "read", CLAIM_ENTITY, [c.id for c in rows])
    return RemittanceFileDetailOut(file=file, payments=details, totals=totals)


async def get_claim_remittance(
    conn: asyncpg.Connection, actor: Actor, claim_id: uuid.UUID
) -> ClaimRemittanceOut:
    """A claim's remittances for ops and its provider; another's claim is not found."""
    scope = owner_scope(actor)
    if actor.role not in ("ops", "provider") or not await reads.claim_visible(
        conn, claim_id, scope.provider_id
    ):
        raise RemittanceNotFound("claim not found")
    found = await reads.list_claims_of_claim(conn, claim_id)
    full = await with_adjustments(conn, [row for _, _, row in found])
    items = [
        ClaimRemittanceItem(trace_number=trace, payment_date=day, remitted=out)  # type: ignore[arg-type]
        for (trace, day, _), out in zip(found, full, strict=True)
    ]
    stands = standing([c.claim for c in full])
    await audit.record(conn, actor, "read", CLAIM_ENTITY, [c.claim.id for c in full])
    return ClaimRemittanceOut(
        claim_id=claim_id,
        paid_cents=sum(c.paid_cents for c in stands),
        patient_responsibility_cents=sum(c.patient_adjustments_cents for c in stands),
        items=items,
    )


async def summarize_day(
    conn: asyncpg.Connection, start: datetime, end: datetime, correction_days: int
) -> tuple[EraDayOut, RemittanceQueuesOut]:
    """The ops digest's remittance part: the 835s received in [start, end), the queues now."""
    queues = await digest.get_queues(conn, clock.now(), correction_days)
    return await digest.get_era_day(conn, start, end), queues


async def lock_ready_true_up(conn: asyncpg.Connection, true_up_id: uuid.UUID) -> TrueUpOut | None:
    """A true-up waiting for its settlement, locked (payments charge or refund it)."""
    return await true_up_ops.lock_ready(conn, true_up_id)


async def settle_true_up_as(
    conn: asyncpg.Connection, true_up_id: uuid.UUID, status: TrueUpStatus
) -> bool:
    """A ready true-up's settlement as payments made it (charged, refunded, balance_due,
    credit); False when it was no longer ready."""
    return await true_up_ops.mark_settled(conn, true_up_id, status)
