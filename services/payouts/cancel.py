"""Ops cancel a payout that never reached Stripe (POST /payouts/{id}/cancel; issue 18 item 5).

A failed payout (Stripe refused its transfer) or a held one keeps its money in
payouts_in_transit until ops re-run it, or cancel it here with a reason. Stripe is asked first,
with nothing held, for a transfer an earlier attempt may have made (by its id, else by transfer
group `payout_{id}`, as the transfer job looks): one found is recorded as the payout's (paid, as
the job would), never cancelled. Otherwise a second transaction locks the row and cancels it
only if nothing moved meanwhile (the same status and attempt: the transfer job raises the
attempt when it claims a payout, so a transfer started after the look is seen here and the
cancel refused); it books Dr payouts_in_transit / Cr provider_payable once (`payout_cancelled`),
so the provider is owed the amount again and the next payout pays it, as one line.

The cancelled payout keeps its lines (an entry is covered by one payout, ever): the next payout
covers the cancellation's entry, which carries the same money. The transfer job never sends a
cancelled payout (transfers.FINAL) and the database keeps it cancelled (0051).
"""

from __future__ import annotations

import uuid

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line
from schemas.payout_runs import CancelPayoutIn, PayoutDetailOut, PayoutRow
from services.core import audit, clock, idempotency
from services.core.auth import Actor
from services.core.transactions import Transactions
from services.ledger.service import post_entry
from services.payouts import runs
from services.payouts.connect import ConnectGateway, StripeFailed, StripeUnknown, Transfer
from services.payouts.errors import PayoutNotCancellable, PayoutNotFound, StripeUnavailable
from services.payouts.queries import cancel as cq
from services.payouts.queries import runs as q

# The transfer job's own rule for a transfer found at Stripe (its amount and destination
# checked, the id stored, paid booked once): a cancel that finds one records it the same way.
from services.payouts.transfers import _paid as record_found

ENTITY = "payout"
CANCELLABLE = ("failed", "held")


def _refuse(row: PayoutRow) -> None:
    if row.status not in CANCELLABLE or row.stripe_transfer_id is not None:
        raise PayoutNotCancellable(
            f"the payout is {row.status}: only a failed or held payout that never reached "
            "Stripe is cancelled", field="payout_id",
        )  # fmt: skip


async def _look_up(gateway: ConnectGateway, row: PayoutRow) -> Transfer | None:
    try:
        return await gateway.find_transfer(row.transfer_group, row.destination)
    except (StripeUnknown, StripeFailed) as exc:
        raise StripeUnavailable("Stripe did not say whether the payout's transfer was made: "
                                "try again") from exc  # fmt: skip


async def _record_found(
    conn: asyncpg.Connection, actor: Actor, seen: PayoutRow, transfer: Transfer
) -> str:
    row = await q.lock_payout(conn, seen.id)
    assert row is not None
    if row.status in CANCELLABLE and row.attempt == seen.attempt:
        await record_found(conn, row, transfer)
        await audit.record(conn, actor, "update", ENTITY, [row.id])
        row = await q.lock_payout(conn, seen.id)
        assert row is not None
    return row.status


async def _cancel(
    conn: asyncpg.Connection, actor: Actor, seen: PayoutRow, data: CancelPayoutIn
) -> PayoutDetailOut:
    row = await q.lock_payout(conn, seen.id)
    assert row is not None
    _refuse(row)
    if row.attempt != seen.attempt:
        raise PayoutNotCancellable("the payout was sent again while Stripe was asked: look at "
                                   "it again", field="payout_id")  # fmt: skip
    now = clock.now()
    assert await cq.update_cancelled(conn, row.id, data.reason, now)
    await post_entry(conn, EntryIn(
        kind="payout_cancelled", idempotency_key=f"payout_cancelled-{row.id}",
        source_table="payouts", source_id=row.id, occurred_at=now,
        memo=f"the payout of {row.run_date.isoformat()} was cancelled: owed again",
        lines=(Line(account=AccountRef(kind="payouts_in_transit"), side="debit",
                    amount_cents=row.amount_cents),
               Line(account=AccountRef(kind="provider_payable", owner_id=row.provider_id),
                    side="credit", amount_cents=row.amount_cents)),
    ))  # fmt: skip
    await audit.record(conn, actor, "update", ENTITY, [row.id])
    return await runs.get_payout(conn, actor, row.id)


async def cancel_payout(
    tx: Transactions, gateway: ConnectGateway, actor: Actor, payout_id: uuid.UUID,
    data: CancelPayoutIn, key: str | None,
) -> tuple[int, PayoutDetailOut]:  # fmt: skip
    """(status, the payout cancelled); a repeat under the same Idempotency-Key its first
    answer; 409 naming the state for any payout but a failed or held one with no transfer."""
    operation = f"cancel_payout:{payout_id}"
    async with tx() as conn:
        if (first := await idempotency.replay(conn, actor.user, key, operation, data,
                                              PayoutDetailOut)) is not None:  # fmt: skip
            return first
        seen = await q.get_payout(conn, payout_id)
        if seen is None:
            raise PayoutNotFound("payout not found")
        _refuse(seen)
    found = await _look_up(gateway, seen)
    if found is not None:
        async with tx() as conn:
            status = await _record_found(conn, actor, seen, found)
        raise PayoutNotCancellable(f"the payout's transfer reached Stripe ({found.id}): it is "
                                   f"{status}, not cancelled", field="payout_id")  # fmt: skip
    async with tx() as conn:
        return await idempotency.run_once(
            conn, actor.user, key, operation, data, 200,
            lambda: _cancel(conn, actor, seen, data), PayoutDetailOut,
        )  # fmt: skip
