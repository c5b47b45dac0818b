"""The true-ups ops read and decide, the client's own, and the settle_true_up job's body.

A true-up waiting in ops_review carries a PR reason no rule may charge on its own (27, 96,
119, 204 ...). Confirm: the client owes it, the whole true-up is ready. Refuse: the platform
carries the other-PR part (client_receivable -> claim_losses) and the rest is ready, or the
true-up is closed when nothing is left. `ready` queues settle_true_up in the same transaction.

The settle_true_up job is payments' (services/payments/true_ups.py): it reads a ready true-up
through `lock_ready` and moves it only through `mark_settled` (charged, refunded, balance_due,
credit, and a settled one's later outcome), so client_true_ups stays this domain's table.
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from schemas.true_ups import TrueUpDecision, TrueUpOut, TrueUpStatus
from services.core import audit, clock
from services.core.auth import SYSTEM, Actor
from services.core.pagination import Page, page_of
from services.remittance import true_up
from services.remittance.errors import TrueUpNotFound, TrueUpNotInReview
from services.remittance.queries import true_ups as q

ENTITY = "client_true_up"


def _shown(actor: Actor, row: TrueUpOut) -> TrueUpOut:
    """Ops' note and name are for ops: the client sees the figures and the reason."""
    if actor.role in ("ops", "system"):
        return row
    return msgspec.structs.replace(row, decision_note=None, decided_by=None)


async def audit_created(
    conn: asyncpg.Connection, actor: Actor, true_up_ids: list[uuid.UUID]
) -> None:
    """The create audit rows of the true-ups a payment's claims made (called by the posting
    with what `true_up.record_true_ups` returned)."""
    await audit.record(conn, actor, "create", ENTITY, true_up_ids)


async def list_true_ups(
    conn: asyncpg.Connection,
    actor: Actor,
    status: TrueUpStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[TrueUpOut]:
    """True-ups oldest first, of one status or all (ops)."""
    page = await page_of(lambda after, n: q.list_true_ups(conn, status, after, n), cursor, limit)
    await audit.record(conn, actor, "read", ENTITY, [t.id for t in page.items])
    return page


async def get_true_up(conn: asyncpg.Connection, actor: Actor, true_up_id: uuid.UUID) -> TrueUpOut:
    """One true-up: any for ops, a client's own for that client; others are not found."""
    if actor.role in ("ops", "system"):
        row = await q.get_true_up(conn, true_up_id, None)
    elif actor.role == "client" and actor.client_id is not None:
        row = await q.get_true_up(conn, true_up_id, actor.client_id)
    else:
        row = None
    if row is None:
        raise TrueUpNotFound("true-up not found")
    await audit.record(conn, actor, "read", ENTITY, [row.id])
    return _shown(actor, row)


async def decide_true_up(
    conn: asyncpg.Connection,
    actor: Actor,
    true_up_id: uuid.UUID,
    decision: TrueUpDecision,
    note: str,
) -> TrueUpOut:
    """Ops confirm (the client owes it all) or refuse (the platform carries the other-PR
    part) a true-up in ops_review; 409 in any other status."""
    row = await q.lock_true_up(conn, true_up_id)
    if row is None:
        raise TrueUpNotFound("true-up not found")
    if row.status != "ops_review":
        raise TrueUpNotInReview(
            f"the true-up is {row.status.replace('_', ' ')}, not waiting for ops",
            field="true_up_id",
        )
    carried = row.review_cents if decision == "refused" else 0
    left = row.delta_cents - carried + row.netted_cents
    status: TrueUpStatus = "ready" if left else "closed"
    now = clock.now()
    decided = await q.update_decided(conn, row.id, decision, note, actor.user, carried, status, now)
    await true_up.carry(conn, decided, carried, "refused")
    if status == "ready":
        await true_up.queue_settle(conn, row.id)
    await audit.record(conn, actor, "update", ENTITY, [row.id])
    return decided


async def lock_ready(conn: asyncpg.Connection, true_up_id: uuid.UUID) -> TrueUpOut | None:
    """The true-up locked when it waits for its settlement (ready), else None: payments'
    settle_true_up job reads it through this to charge or refund it."""
    row = await q.lock_true_up(conn, true_up_id)
    return row if row is not None and row.status == "ready" else None


# What a settled true-up may still become: a balance due the client paid afterwards (on-session,
# or charged once they saved a card) is charged; a refund the card returned after it succeeded
# leaves the client a credit again; a credit left by a refund the card returned is refunded
# once ops paid it another way (a check, a bank transfer).
_LATER: dict[TrueUpStatus, frozenset[TrueUpStatus]] = {
    "balance_due": frozenset({"charged"}),
    "refunded": frozenset({"credit"}),
    "credit": frozenset({"refunded"}),
}


async def mark_settled(
    conn: asyncpg.Connection, true_up_id: uuid.UUID, status: TrueUpStatus
) -> bool:
    """A ready true-up settled by payments (charged, refunded, balance_due, credit), or a
    settled one's later outcome (`_LATER`), stamped; whether it moved (a repeat changes
    nothing)."""
    row = await q.lock_true_up(conn, true_up_id)
    if row is None or row.status == status:
        return False
    if row.status != "ready" and status not in _LATER.get(row.status, frozenset()):
        return False
    await q.update_settled(conn, row.id, row.status, status, clock.now())
    await audit.record(conn, SYSTEM, "update", ENTITY, [row.id])
    return True
