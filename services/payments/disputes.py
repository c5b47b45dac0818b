"""Disputes (chargebacks) of our charges: the webhook job's part and the ops queue (issue 17
item 6; DESIGN.md "Money": Dispute).

The charge.dispute.* job re-reads the dispute from Stripe with its balance transactions and,
under the dispute row's lock, books each transaction once (its id in the entry's key), so
events in any order and any number of times book each entry once:
- money taken (net < 0): dispute_opened, Dr client_receivable (the amount), Dr processing_fees
  (the dispute fee, read from the transaction, never computed), Cr stripe_balance (net);
- money given back (net > 0, a won dispute): dispute_won, Dr stripe_balance (net), Cr
  client_receivable (up to the disputed amount), Cr processing_fees (the rest: the fee, when
  Stripe returns it; the simulator does, inside the amount, and Stripe itself as a negative
  fee; when Stripe keeps it the net is the amount alone and the fee stays an expense).
The row keeps Stripe's status and figures, never lowered by a stale read; a closed dispute
never reopens.

A lost dispute: the bank sided with the cardholder and the money stays with them, so the
amount stays on the client's receivable (they still owe for the session) and waits for ops:
`collect` makes it a balance due (a `balance` charge row written balance_due: never charged to
the card by itself, since charging the card that was just charged back invites a second
chargeback), `write_off` books it as bad debt (Dr bad_debt, Cr client_receivable). The dispute
fee is the platform's cost, never passed to the client; the provider's pay is untouched.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import cast, get_args

import asyncpg
import msgspec

from schemas.ledger import AccountRef, EntryIn, EntryKind, Line
from schemas.payments import (
    DISPUTE_CLOSED,
    DisputeOut,
    DisputeResolutionIn,
    DisputeStatus,
)
from services.core import audit, clock
from services.core.auth import SYSTEM, Actor
from services.core.errors import Conflict
from services.core.pagination import Page
from services.ledger.service import post_entry
from services.payments import queries as q
from services.payments.errors import DisputeNotFound
from services.payments.gateway import Disputed, DisputeFunds
from services.payments.problems import already_resolved, audited_page
from services.payments.queries import disputes as dq

log = logging.getLogger(__name__)

ENTITY = "client_dispute"
STATUSES: tuple[str, ...] = get_args(DisputeStatus)


async def _our_charge(
    conn: asyncpg.Connection, found: Disputed, hearth_charge_id: str | None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The disputed charge: by its intent or Stripe charge id, else by the intent's metadata
    (our row may not have stored the intent's id yet: a run that crashed)."""
    charge = await dq.get_charge_of_stripe(conn, found.payment_intent_id, found.charge_id)
    if charge is None and hearth_charge_id is not None:
        try:
            row = await q.lock_charge(conn, uuid.UUID(hearth_charge_id))
        except ValueError:
            row = None
        charge = None if row is None else (row.id, row.client_id)
    return charge


def _entry(dispute: DisputeOut, txn: DisputeFunds, amount: int) -> EntryIn | None:
    """The entry of one balance transaction of the dispute; None: it moves nothing we book."""
    receivable = AccountRef(kind="client_receivable", owner_id=dispute.client_id)
    kind: EntryKind
    if txn.net < 0:
        kind, taken = "dispute_opened", -txn.amount
        lines = [Line(account=receivable, side="debit", amount_cents=taken),
                 Line(account=AccountRef(kind="processing_fees"), side="debit",
                      amount_cents=txn.fee),
                 Line(account=AccountRef(kind="stripe_balance"), side="credit",
                      amount_cents=-txn.net)]  # fmt: skip
    elif txn.net > 0:
        kind, back = "dispute_won", min(txn.net, amount)
        lines = [Line(account=AccountRef(kind="stripe_balance"), side="debit",
                      amount_cents=txn.net),
                 Line(account=receivable, side="credit", amount_cents=back),
                 Line(account=AccountRef(kind="processing_fees"), side="credit",
                      amount_cents=txn.net - back)]  # fmt: skip
    else:
        return None
    return EntryIn(
        kind=kind,
        idempotency_key=f"{kind}-{txn.id}",
        source_table="client_disputes",
        source_id=dispute.id,
        lines=tuple(line for line in lines if line.amount_cents > 0),
        memo=f"dispute {'funds withdrawn' if txn.net < 0 else 'funds reinstated'}",
        occurred_at=clock.now(),
    )


def _adds_up(txn: DisputeFunds) -> bool:
    """Stripe's own invariant (net = amount - fee) and the signs a dispute's money has."""
    if txn.net != txn.amount - txn.fee:
        return False
    return txn.net >= 0 or (txn.amount <= 0 and txn.fee >= 0)


def _figures(found: Disputed) -> tuple[int, int, int, int]:
    """(withdrawn, fee, reinstated, fee returned) from the dispute's balance transactions."""
    withdrawn = fee = back = fee_back = 0
    for txn in found.funds:
        if txn.net < 0:
            withdrawn, fee = withdrawn - txn.amount, fee + txn.fee
        elif txn.net > 0:
            part = min(txn.net, found.amount)
            back, fee_back = back + part, fee_back + txn.net - part
    return withdrawn, fee, back, fee_back


def _status(stripe_status: str) -> DisputeStatus | None:
    """Stripe's status when it is one we know (a new one waits for a later read)."""
    return cast(DisputeStatus, stripe_status) if stripe_status in STATUSES else None


def _merged(row: DisputeOut, found: Disputed, now: datetime) -> DisputeOut:
    """The row with what Stripe says now; a stale read (an older answer) lowers nothing and
    reopens nothing."""
    status = row.status
    if row.status not in DISPUTE_CLOSED:
        status = _status(found.status) or row.status
    withdrawn, fee, back, fee_back = _figures(found)
    closed = status in DISPUTE_CLOSED
    due = found.evidence_due_by
    return msgspec.structs.replace(
        row,
        status=status,
        reason=found.reason or row.reason,
        amount_cents=found.amount if found.amount > 0 else row.amount_cents,
        evidence_due_by=datetime.fromtimestamp(due, UTC) if due else row.evidence_due_by,
        funds_withdrawn_cents=max(row.funds_withdrawn_cents, withdrawn),
        fee_cents=max(row.fee_cents, fee),
        funds_reinstated_cents=max(row.funds_reinstated_cents, back),
        fee_returned_cents=max(row.fee_returned_cents, fee_back),
        outcome=row.outcome or (status if closed else None),
        closed_at=row.closed_at or (now if closed else None),
    )


async def apply_dispute(
    conn: asyncpg.Connection, found: Disputed, hearth_charge_id: str | None
) -> str:
    """A dispute as Stripe has it now (any charge.dispute.* event): its row written or brought
    up to date, each of its balance transactions booked once."""
    charge = await _our_charge(conn, found, hearth_charge_id)
    if charge is None:
        return "not our charge"
    now = clock.now()
    opened = (_status(found.status) or "needs_response", found.reason, found.amount)
    await dq.insert_dispute(conn, found.id, charge, opened, now)
    row = await dq.lock_dispute_by_stripe_id(conn, found.id)
    for txn in found.funds:
        if not _adds_up(txn):
            log.error("dispute funds do not add up", extra={"outcome": txn.id})
            continue
        if (entry := _entry(row, txn, found.amount)) is not None:
            await post_entry(conn, entry)
    updated = _merged(row, found, now)
    if updated != row:
        await dq.update_dispute(conn, msgspec.structs.replace(updated, updated_at=now))
        await audit.record(conn, SYSTEM, "update", ENTITY, [row.id])
    return f"dispute {updated.status}"


async def list_disputes(
    conn: asyncpg.Connection, actor: Actor, status: DisputeStatus | None, cursor: str | None,
    limit: int,
) -> Page[DisputeOut]:  # fmt: skip
    """Disputes, newest first, by Stripe's status when given (ops)."""
    return await audited_page(
        conn, actor, ENTITY, lambda after, n: dq.list_disputes(conn, status, after, n), cursor,
        limit,
    )  # fmt: skip


async def get_dispute(conn: asyncpg.Connection, actor: Actor, dispute_id: uuid.UUID) -> DisputeOut:
    dispute = await dq.get_dispute(conn, dispute_id)
    if dispute is None:
        raise DisputeNotFound("dispute not found", field="dispute_id")
    await audit.record(conn, actor, "read", ENTITY, [dispute.id])
    return dispute


async def resolve_dispute(
    conn: asyncpg.Connection, actor: Actor, dispute_id: uuid.UUID, data: DisputeResolutionIn
) -> DisputeOut:
    """A lost dispute's amount collected (a balance due) or written off (bad debt), once."""
    dispute = await dq.lock_dispute(conn, dispute_id)
    if dispute is None:
        raise DisputeNotFound("dispute not found", field="dispute_id")
    if already_resolved(dispute.resolution, data.action):
        return dispute
    if dispute.outcome != "lost":
        raise Conflict("only a lost dispute's amount is collected or written off", field="action")
    owed = dispute.funds_withdrawn_cents - dispute.funds_reinstated_cents
    if owed <= 0:
        raise Conflict("the dispute took no money from the platform", field="action")
    now = clock.now()
    balance_id = None
    if data.action == "collect":
        balance_id = await q.insert_charge(
            conn, dispute.client_id, "balance", ("client_disputes", dispute.id), owed,
            "balance_due", "dispute_lost", now,
        )  # fmt: skip
        await audit.record(
            conn, actor, "create", "client_charge", [balance_id] if balance_id else []
        )
    else:
        receivable = AccountRef(kind="client_receivable", owner_id=dispute.client_id)
        await post_entry(conn, EntryIn(
            kind="bad_debt", idempotency_key=f"bad_debt-dispute-{dispute.id}",
            source_table="client_disputes", source_id=dispute.id,
            lines=(Line(account=AccountRef(kind="bad_debt"), side="debit", amount_cents=owed),
                   Line(account=receivable, side="credit", amount_cents=owed)),
            memo="lost dispute written off", occurred_at=now,
        ))  # fmt: skip
    await dq.update_dispute_resolved(conn, dispute.id, data.action, data.note, actor.user,
                                     balance_id, now)  # fmt: skip
    await audit.record(conn, actor, "update", ENTITY, [dispute.id])
    resolved = await dq.get_dispute(conn, dispute.id)
    assert resolved is not None
    return resolved
