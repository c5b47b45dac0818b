"""The client true-up an 835 makes (issue 16 item 6; DESIGN.md "Denial", "Charging clients").

The posting has already moved the 835's patient responsibility less the estimate between
payer_receivable and client_receivable; this module records what that means for the client,
from what the posting computed, in the posting's transaction:

- An adjudication whose share differs from the estimate (or that carries a PR reason other
  than 1/2/3) is a true-up: `ready` at once with PR-1/2/3 only, else `ops_review`.
- A reversal takes back what its original's true-up made the client owe and waits for the
  correction (`awaiting_correction`); the correction's row nets it (`netted`), so the client is
  charged or refunded only the net, whether the correction is in the same 835 or a later one.
  Netting by folding the reversal into the next adjudication's row keeps one settlement, one
  card movement, per net change, and leaves each CLP's own figures on its own row.
- A reversal of a claim we voided (the payer accepted our frequency-8 void: `voided`) is final:
  no correction will come, so it waits for none. What its original made the client owe is
  taken back at once: an original not yet settled is folded into the reversal's row (both
  cancel, nothing is charged), a settled one leaves the reversal `ready` to refund (or charge
  back) what was settled.
- `ready` queues `settle_true_up` through the outbox in the same transaction.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from schemas.remittance import Claim
from schemas.true_ups import SettleTrueUpJob, TrueUpOut, TrueUpStatus
from services.core import clock, outbox
from services.remittance import posting
from services.remittance.queries import true_ups as q

_WORDS = {"1": "deductible", "2": "coinsurance", "3": "copay"}


def usd(cents: int) -> str:
    """$12.34, with a minus for a negative amount."""
    whole, part = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}${whole:,}.{part:02d}"


def _review_cents(clp: Claim) -> int:
    """Σ PR adjustments other than deductible, coinsurance and copay: ops decide them."""
    return sum(
        a.amount_cents
        for a in posting.every_adjustment(clp)
        if a.group == "PR" and a.reason not in posting.PATIENT_CODES
    )


def _share_words(clp: Claim) -> str:
    """Each PR reason's total, in words where the reason has a common name."""
    totals: Counter[str] = Counter()
    for a in posting.every_adjustment(clp):
        if a.group == "PR":
            totals[a.reason] += a.amount_cents
    parts = [f"{_WORDS.get(code, 'PR-' + code)} {usd(c)}" for code, c in sorted(totals.items())]
    return f" ({', '.join(parts)})" if parts else ""


def _owes(amount: int) -> str:
    if amount > 0:
        return f"the client owes {usd(amount)} more"
    if amount < 0:
        return f"the client is owed {usd(-amount)} back"
    return "nothing changes for the client"


def _settle(true_up_id: uuid.UUID) -> tuple[SettleTrueUpJob, str]:
    return SettleTrueUpJob(true_up_id=true_up_id), f"settle-true-up-{true_up_id}"


async def queue_settle(conn: asyncpg.Connection, true_up_id: uuid.UUID) -> None:
    """The outbox row the payments side turns into a charge or a refund (one per true-up)."""
    job, key = _settle(true_up_id)
    await outbox.add(conn, job, dedupe_key=key)


@dataclass
class _Payment:
    """A payment's true-ups as they are recorded in file order. The adjudications with no
    reversal to net (nearly all) are staged and written together by `flush`; the cases that
    lock other rows are written at once. `awaiting`: the claims that may have a reversal
    waiting (read once for the payment's claims, or made by a reversal earlier in it)."""

    awaiting: set[uuid.UUID]
    voided: set[uuid.UUID]  # claims whose void the payer accepted: their reversals are final
    remitted: set[uuid.UUID]  # this payment's remitted claims
    originals: dict[uuid.UUID, TrueUpOut]  # earlier payments' rows it reverses, locked
    staged: list[tuple[q.NewTrueUp, datetime]] = field(default_factory=list)
    staged_remitted: set[uuid.UUID] = field(default_factory=set)
    ids: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # every row, by remitted claim
    ready: list[uuid.UUID] = field(default_factory=list)  # remitted claims, in file order

    def stage(self, new: q.NewTrueUp) -> None:
        self.staged.append((new, clock.now()))
        self.staged_remitted.add(new.remitted_claim_id)

    async def flush(self, conn: asyncpg.Connection) -> None:
        self.ids.update(await q.insert_true_ups(conn, self.staged))
        self.staged.clear()
        self.staged_remitted.clear()


async def record_true_ups(
    conn: asyncpg.Connection, claims: Sequence[Claim], posted: Sequence[posting.Posted]
) -> list[uuid.UUID]:
    """The true-up each of a payment's CLPs makes, if it changes what the client owes, in file
    order: a reversal earlier in the payment waits for its correction later in it, which nets
    it. The true-ups its reversals negate are locked together first (each is touched by its
    own reversal only), but for one made earlier in this payment. The staged rows are written
    in one statement, and the settle jobs of the ready ones queued together at the end, in the
    same transaction. The ids of the rows it wrote."""
    ids = sorted({p.claim_id for p in posted if p.claim_id is not None})
    remitted = {p.id for p in posted}
    earlier = [
        p.reversal_of
        for p in posted
        if p.claim_id is not None and p.outcome == "reversed"
        and p.reversal_of is not None and p.reversal_of not in remitted
    ]  # fmt: skip
    reversals = any(p.outcome == "reversed" for p in posted)
    payment = _Payment(
        awaiting=await q.list_claims_awaiting(conn, ids) if ids else set(),
        voided=await q.list_voided_claims(conn, ids) if ids and reversals else set(),
        remitted=remitted,
        originals=await q.lock_of_remitted_many(conn, earlier) if earlier else {},
    )
    for clp, made in zip(claims, posted, strict=True):
        await _record(conn, payment, clp, made)
    await payment.flush(conn)
    await outbox.add_many(conn, [_settle(payment.ids[r]) for r in payment.ready])
    return list(payment.ids.values())


async def _record(
    conn: asyncpg.Connection, payment: _Payment, clp: Claim, posted: posting.Posted
) -> None:
    claim_id = posted.claim_id
    if claim_id is None:
        return
    if posted.outcome == "reversed" and (of := posted.reversal_of) is not None:
        await _record_reversal(conn, payment, clp, posted.id, (claim_id, of))
        return
    if posted.estimate is None:  # not adjudicated: a duplicate, held for ops, unmatched
        return
    waiting = await q.lock_awaiting(conn, claim_id) if claim_id in payment.awaiting else []
    new = _adjudication(clp, posted, claim_id, posted.estimate, waiting)
    if new is None:
        return
    if waiting:
        row = await q.insert_true_up(conn, new, clock.now())
        await q.update_netted(conn, [w.id for w in waiting], row.id, clock.now())
        payment.ids[posted.id] = row.id
        payment.awaiting.discard(claim_id)  # every reversal it waited for is netted
    else:
        payment.stage(new)
    if new.status == "ready":
        payment.ready.append(posted.id)


async def _record_reversal(
    conn: asyncpg.Connection,
    payment: _Payment,
    clp: Claim,
    remitted_id: uuid.UUID,
    claim_and_original: tuple[uuid.UUID, uuid.UUID],
) -> None:
    """A reversal's row: final for a voided claim, else waiting for its correction."""
    claim_id, of = claim_and_original
    if of in payment.remitted:  # its original is earlier in this payment
        if of in payment.staged_remitted:
            await payment.flush(conn)
        original = await q.lock_of_remitted(conn, of)
    else:
        original = payment.originals.get(of)
    if claim_id in payment.voided:
        await _reverse_final(conn, payment, clp, remitted_id, original)
        return
    row = await _reverse(conn, clp, remitted_id, claim_id, original)
    if row is not None:
        payment.ids[remitted_id] = row.id
        payment.awaiting.add(claim_id)


def _adjudication(
    clp: Claim,
    posted: posting.Posted,
    claim_id: uuid.UUID,
    estimate: int,
    waiting: list[TrueUpOut],
) -> q.NewTrueUp | None:
    """The adjudication's row, netting the reversals waiting for it; None: nothing changes."""
    share, delta = clp.patient_adjustments_cents, posted.true_up
    review = _review_cents(clp)
    if delta == 0 and review == 0 and not waiting:
        return None
    netted = sum(w.amount_cents for w in waiting)
    amount = delta + netted
    status: TrueUpStatus = "ops_review" if review else ("ready" if amount else "closed")
    reason = f"the 835's patient responsibility is {usd(share)}{_share_words(clp)} against"
    reason += f" an estimate of {usd(estimate)}: {_owes(delta)}"
    if netted:
        reason += (
            f"; it nets the payer's reversal of an earlier adjudication ({usd(netted)}),"
            f" so {_owes(amount)} in all"
        )
    if review:
        reason += (
            f"; {usd(review)} of it is patient responsibility other than a deductible,"
            " coinsurance or copay: ops confirm it before the client is charged"
        )
    return q.NewTrueUp(
        claim_id=claim_id, remitted_claim_id=posted.id, kind="adjudication", reverses_id=None,
        estimate_cents=estimate, share_cents=share, delta_cents=delta, review_cents=review,
        netted_cents=netted, status=status, reason=reason,
    )  # fmt: skip


async def _taken_back(conn: asyncpg.Connection, original: TrueUpOut) -> int:
    """What the reversal of `original` (locked) changes in what the client owes: its own
    delta less what the platform carried, taken back (the carrying undone); one never decided
    is closed, and only a reversal it netted still stands."""
    if original.status == "ops_review":
        # Never decided, never shown to the client: the reversal's entry already took its
        # movement back.
        reason = original.reason + "; closed: the payer reversed it before ops decided"
        await q.update_closed(conn, original.id, reason, clock.now())
        return original.netted_cents
    await carry(conn, original, -original.carried_cents, "reversed")
    return -(original.delta_cents - original.carried_cents)


async def _reverse_final(
    conn: asyncpg.Connection,
    payment: _Payment,
    clp: Claim,
    remitted_id: uuid.UUID,
    original: TrueUpOut | None,
) -> None:
    """The reversal of a voided claim's adjudication, final (no correction follows a void).
    An original still `ready` whose settlement has not begun is folded into this row (closed,
    netted into it; its settle job, if queued, finds nothing to settle), so only what it
    netted before stands; a settled one (or one whose charge or refund is under way) stays,
    and this row refunds or charges back what it settled."""
    if original is None:
        return
    delta = await _taken_back(conn, original)
    folded = original.status == "ready" and not await q.get_settlement_begun(conn, original.id)
    netted = original.amount_cents if folded else 0
    amount = delta + netted
    if delta == 0 and not folded:
        return
    reason = (
        "the payer reversed its adjudication of a claim we voided: no correction follows, so"
        f" the reversal is final; {_owes(delta)} by the reversal alone"
    )
    if folded:
        reason += f", netted with the adjudication's true-up not yet settled ({usd(netted)})"
    reason += f": {_owes(amount)} in all"
    new = q.NewTrueUp(
        claim_id=original.claim_id, remitted_claim_id=remitted_id, kind="reversal",
        reverses_id=original.id, estimate_cents=original.estimate_cents,
        share_cents=clp.patient_adjustments_cents, delta_cents=delta, review_cents=0,
        netted_cents=netted, status="ready" if amount else "closed", reason=reason,
    )  # fmt: skip
    row = await q.insert_true_up(conn, new, clock.now())
    payment.ids[remitted_id] = row.id
    if folded:
        await q.update_netted(conn, [original.id], row.id, clock.now())
        if original.remitted_claim_id in payment.ready:  # its settle job not yet queued
            payment.ready.remove(original.remitted_claim_id)
    if amount:
        payment.ready.append(remitted_id)


async def _reverse(
    conn: asyncpg.Connection,
    clp: Claim,
    remitted_id: uuid.UUID,
    claim_id: uuid.UUID,
    original: TrueUpOut | None,
) -> TrueUpOut | None:
    """What the reversed adjudication's true-up (`original`, locked) made the client owe,
    taken back, waiting for the correction that nets it."""
    if original is None:  # the original changed nothing for the client
        return None
    delta = await _taken_back(conn, original)
    if delta == 0:
        return None
    reason = (
        f"the payer reversed its adjudication: {_owes(delta)} by the reversal alone; it waits"
        " for the payer's correction and is netted against it"
    )
    new = q.NewTrueUp(
        claim_id=claim_id, remitted_claim_id=remitted_id, kind="reversal",
        reverses_id=original.id, estimate_cents=original.estimate_cents,
        share_cents=clp.patient_adjustments_cents, delta_cents=delta, review_cents=0,
        netted_cents=0, status="awaiting_correction", reason=reason,
    )  # fmt: skip
    return await q.insert_true_up(conn, new, clock.now())


async def carry(conn: asyncpg.Connection, row: TrueUpOut, cents: int, event: str) -> None:
    """The platform carries `cents` of the client's share (client_receivable -> claim_losses);
    negative: it stops carrying them (the adjudication was reversed)."""
    if cents == 0:
        return
    net: Counter[posting.Account] = Counter()
    net[("claim_losses", None, None)] += cents
    net[("client_receivable", row.client_id, None)] -= cents
    memo = f"true-up {event}: the platform carries the client's other patient responsibility"
    key = f"true-up-{row.id}-{event}"
    await posting.book_now(conn, "true_up_carried", key, ("client_true_ups", row.id), net, memo)
