"""The payments domain's SQL: Stripe customers, card setups, cards, charges, refunds, Stripe
events. Reads the claims table (a claim's session, to find the completion charge a true-up
refunds)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from schemas.payments import (
    ChargeKind,
    ChargeRow,
    ChargeStatus,
    PaymentMethodOut,
    RefundRow,
    RefundStatus,
)


async def insert_customer(conn: asyncpg.Connection, client_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO stripe_customers (client_id, created_at, updated_at) VALUES ($1, $2, $2)
        ON CONFLICT (client_id) DO NOTHING
        """,
        client_id,
        now,
    )


async def lock_customer(conn: asyncpg.Connection, client_id: uuid.UUID) -> tuple[str | None, int]:
    """(Stripe's customer id or None, the attempt its creation is on)."""
    row = await conn.fetchrow(
        "SELECT stripe_customer_id, attempt FROM stripe_customers WHERE client_id = $1 FOR UPDATE",
        client_id,
    )
    assert row is not None, "insert_customer first"
    return row["stripe_customer_id"], row["attempt"]


async def get_customer(conn: asyncpg.Connection, client_id: uuid.UUID) -> str | None:
    customer: str | None = await conn.fetchval(
        "SELECT stripe_customer_id FROM stripe_customers WHERE client_id = $1", client_id
    )
    return customer


async def get_client_of_customer(conn: asyncpg.Connection, customer: str) -> uuid.UUID | None:
    client_id: uuid.UUID | None = await conn.fetchval(
        "SELECT client_id FROM stripe_customers WHERE stripe_customer_id = $1", customer
    )
    return client_id


async def update_customer_id(
    conn: asyncpg.Connection, client_id: uuid.UUID, customer: str, now: datetime
) -> str:
    """Stores the id unless one is stored already; the stored one."""
    stored: str = await conn.fetchval(
        """
        UPDATE stripe_customers
        SET stripe_customer_id = coalesce(stripe_customer_id, $2), updated_at = $3
        WHERE client_id = $1 RETURNING stripe_customer_id
        """,
        client_id,
        customer,
        now,
    )
    return stored


async def update_customer_attempt(
    conn: asyncpg.Connection, client_id: uuid.UUID, attempt: int, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE stripe_customers SET attempt = greatest(attempt, $2), updated_at = $3
        WHERE client_id = $1 AND stripe_customer_id IS NULL
        """,
        client_id,
        attempt,
        now,
    )


async def insert_setup(
    conn: asyncpg.Connection, client_id: uuid.UUID, version: str, now: datetime
) -> uuid.UUID:
    setup_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO payment_setups (client_id, consent_version, consented_at, created_at)
        VALUES ($1, $2, $3, $3) RETURNING id
        """,
        client_id,
        version,
        now,
    )
    return setup_id


async def update_setup_intent(conn: asyncpg.Connection, setup_id: uuid.UUID, intent: str) -> None:
    await conn.execute(
        "UPDATE payment_setups SET setup_intent_id = $2 WHERE id = $1", setup_id, intent
    )


async def update_setup_succeeded(
    conn: asyncpg.Connection, intent: str, now: datetime
) -> uuid.UUID | None:
    setup_id: uuid.UUID | None = await conn.fetchval(
        """
        UPDATE payment_setups SET succeeded_at = coalesce(succeeded_at, $2)
        WHERE setup_intent_id = $1 RETURNING id
        """,
        intent,
        now,
    )
    return setup_id


async def insert_method(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    setup_intent: str,
    card: tuple[str, str, str, int, int],
    saved_at: datetime,
    now: datetime,
) -> bool:
    """The card once (a replayed event changes nothing); whether it was new."""
    method_id, brand, last4, exp_month, exp_year = card
    inserted = await conn.fetchval(
        """
        INSERT INTO payment_methods
            (id, client_id, setup_intent_id, brand, last4, exp_month, exp_year, saved_at,
             setup_seq, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                coalesce((SELECT seq FROM payment_setups WHERE setup_intent_id = $3), 0), $9)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        method_id, client_id, setup_intent, brand, last4, exp_month, exp_year, saved_at, now,
    )  # fmt: skip
    return bool(inserted)


async def update_default_method(conn: asyncpg.Connection, client_id: uuid.UUID) -> None:
    """The newest card not removed becomes the default (two statements: the one-default index
    is checked row by row)."""
    await conn.execute(
        "UPDATE payment_methods SET is_default = false WHERE client_id = $1 AND is_default",
        client_id,
    )
    await conn.execute(
        """
        UPDATE payment_methods SET is_default = true
        WHERE id = (SELECT id FROM payment_methods WHERE client_id = $1 AND removed_at IS NULL
                    ORDER BY setup_seq DESC, saved_at DESC, id DESC LIMIT 1)
        """,
        client_id,
    )


async def list_methods(conn: asyncpg.Connection, client_id: uuid.UUID) -> list[PaymentMethodOut]:
    rows = await conn.fetch(
        """
        SELECT id, brand, last4, exp_month, exp_year, is_default, saved_at FROM payment_methods
        WHERE client_id = $1 AND removed_at IS NULL ORDER BY setup_seq DESC, saved_at DESC, id DESC
        """,
        client_id,
    )
    return [msgspec.convert(dict(r), PaymentMethodOut) for r in rows]


async def get_method(
    conn: asyncpg.Connection, client_id: uuid.UUID, method_id: str
) -> PaymentMethodOut | None:
    row = await conn.fetchrow(
        """
        SELECT id, brand, last4, exp_month, exp_year, is_default, saved_at FROM payment_methods
        WHERE client_id = $1 AND id = $2 AND removed_at IS NULL
        """,
        client_id,
        method_id,
    )
    return None if row is None else msgspec.convert(dict(row), PaymentMethodOut)


async def get_default_method(conn: asyncpg.Connection, client_id: uuid.UUID) -> str | None:
    method: str | None = await conn.fetchval(
        "SELECT id FROM payment_methods WHERE client_id = $1 AND is_default", client_id
    )
    return method


async def update_method_removed(
    conn: asyncpg.Connection, client_id: uuid.UUID, method_id: str, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE payment_methods SET removed_at = coalesce(removed_at, $3), is_default = false
        WHERE client_id = $1 AND id = $2
        """,
        client_id,
        method_id,
        now,
    )


async def insert_charge(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    kind: ChargeKind,
    source: tuple[str, uuid.UUID],
    amount_cents: int,
    status: ChargeStatus,
    failure_code: str | None,
    now: datetime,
) -> uuid.UUID | None:
    """The charge once per (kind, source); None when it exists already."""
    charge_id: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO client_charges
            (client_id, kind, source_table, source_id, amount_cents, status, failure_code,
             created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
        ON CONFLICT ON CONSTRAINT client_charges_once DO NOTHING RETURNING id
        """,
        client_id, kind, source[0], source[1], amount_cents, status, failure_code, now,
    )  # fmt: skip
    return charge_id


async def lock_charge(conn: asyncpg.Connection, charge_id: uuid.UUID) -> ChargeRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, client_id, kind, source_table, source_id, amount_cents, status, attempt,
               lease_until, payment_method_id, payment_intent_id, fee_cents, failure_code,
               decline_code, created_at, credit_applied_cents
        FROM client_charges WHERE id = $1 FOR UPDATE
        """,
        charge_id,
    )
    return None if row is None else msgspec.convert(dict(row), ChargeRow)


async def list_charges_of_source(conn: asyncpg.Connection, source_id: uuid.UUID) -> list[ChargeRow]:
    rows = await conn.fetch(
        """
        SELECT id, client_id, kind, source_table, source_id, amount_cents, status, attempt,
               lease_until, payment_method_id, payment_intent_id, fee_cents, failure_code,
               decline_code, created_at, credit_applied_cents
        FROM client_charges WHERE source_id = $1 ORDER BY created_at, id
        """,
        source_id,
    )
    return [msgspec.convert(dict(r), ChargeRow) for r in rows]


async def update_claimed(
    conn: asyncpg.Connection,
    charge_id: uuid.UUID,
    attempt: int,
    lease_until: datetime,
    method: str,
    now: datetime,
) -> None:
    await conn.execute(
        """
        UPDATE client_charges SET status = 'submitting', attempt = $2, lease_until = $3,
            payment_method_id = $4, updated_at = $5
        WHERE id = $1
        """,
        charge_id, attempt, lease_until, method, now,
    )  # fmt: skip


async def update_intent(
    conn: asyncpg.Connection, charge_id: uuid.UUID, intent: str, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE client_charges SET payment_intent_id = coalesce(payment_intent_id, $2),
            updated_at = $3
        WHERE id = $1
        """,
        charge_id,
        intent,
        now,
    )


async def update_lease(
    conn: asyncpg.Connection, charge_id: uuid.UUID, status: ChargeStatus, lease: datetime | None,
    failure_code: str | None, now: datetime,
) -> None:  # fmt: skip
    """Back to pending after Stripe answered an error, or submitting with the lease given up
    (outcome unknown): the next run looks the intent up first."""
    await conn.execute(
        """
        UPDATE client_charges SET status = $2, lease_until = $3, failure_code = $4,
            updated_at = $5
        WHERE id = $1
        """,
        charge_id, status, lease, failure_code, now,
    )  # fmt: skip


async def update_succeeded(
    conn: asyncpg.Connection,
    charge_id: uuid.UUID,
    intent: str,
    stripe_charge: str,
    fee_cents: int,
    card: tuple[str | None, str | None, str | None],
    now: datetime,
) -> None:
    """Paid; `card` (method, brand, last4) is the card Stripe charged (None: kept as sent)."""
    await conn.execute(
        """
        UPDATE client_charges SET status = 'succeeded', payment_intent_id = $2,
            stripe_charge_id = $3, fee_cents = $4, succeeded_at = $5, lease_until = NULL,
            failure_code = NULL, decline_code = NULL, updated_at = $5,
            payment_method_id = coalesce($6, payment_method_id), card_brand = $7,
            card_last4 = $8
        WHERE id = $1
        """,
        charge_id, intent, stripe_charge, fee_cents, now, *card,
    )  # fmt: skip


async def update_failed(
    conn: asyncpg.Connection,
    charge_id: uuid.UUID,
    status: ChargeStatus,
    intent: str | None,
    codes: tuple[str, str | None],
    now: datetime,
) -> None:
    """A charge that did not go through: failed (Stripe refused it) or balance_due (never sent)."""
    await conn.execute(
        """
        UPDATE client_charges SET status = $2, payment_intent_id = coalesce(payment_intent_id, $3),
            failure_code = $4, decline_code = $5, failed_at = $6, lease_until = NULL,
            updated_at = $6
        WHERE id = $1
        """,
        charge_id, status, intent, codes[0], codes[1], now,
    )  # fmt: skip


async def insert_event(
    conn: asyncpg.Connection, event_id: str, kind: str, object_id: str | None, now: datetime
) -> bool:
    inserted = await conn.fetchval(
        """
        INSERT INTO stripe_events (id, type, object_id, received_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO NOTHING RETURNING true
        """,
        event_id,
        kind,
        object_id,
        now,
    )
    return bool(inserted)


async def get_event(conn: asyncpg.Connection, event_id: str) -> tuple[str, str | None] | None:
    """(type, object id) of a stored event."""
    row = await conn.fetchrow("SELECT type, object_id FROM stripe_events WHERE id = $1", event_id)
    return None if row is None else (row["type"], row["object_id"])


async def update_event_handled(
    conn: asyncpg.Connection, event_id: str, outcome: str, now: datetime
) -> None:
    await conn.execute(
        "UPDATE stripe_events SET handled_at = $3, outcome = $2 WHERE id = $1",
        event_id,
        outcome[:200],
        now,
    )


async def lock_completion_of_claim(
    conn: asyncpg.Connection, claim_id: uuid.UUID
) -> ChargeRow | None:
    """The completion charge of the claim's session, locked (a true-up's refund goes to it)."""
    row = await conn.fetchrow(
        """
        SELECT ch.id, ch.client_id, ch.kind, ch.source_table, ch.source_id, ch.amount_cents,
               ch.status, ch.attempt, ch.lease_until, ch.payment_method_id,
               ch.payment_intent_id, ch.fee_cents, ch.failure_code, ch.decline_code,
               ch.created_at, ch.credit_applied_cents
        FROM client_charges ch JOIN claims cl ON cl.therapy_session_id = ch.source_id
        WHERE cl.id = $1 AND ch.kind = 'completion' FOR UPDATE OF ch
        """,
        claim_id,
    )
    return None if row is None else msgspec.convert(dict(row), ChargeRow)


async def lock_charge_of_true_up(
    conn: asyncpg.Connection, true_up_id: uuid.UUID
) -> ChargeRow | None:
    """The true-up's own charge, locked (a final reversal of it refunds that charge)."""
    charge_id: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM client_charges WHERE kind = 'true_up' AND source_id = $1", true_up_id
    )
    return None if charge_id is None else await lock_charge(conn, charge_id)


async def sum_refunds_of_charge(
    conn: asyncpg.Connection, charge_id: uuid.UUID, statuses: tuple[RefundStatus, ...]
) -> int:
    total: int = await conn.fetchval(
        """
        SELECT coalesce(sum(amount_cents), 0)::bigint FROM client_refunds
        WHERE charge_id = $1 AND status = ANY ($2::text[])
        """,
        charge_id,
        list(statuses),
    )
    return total


async def insert_refund(
    conn: asyncpg.Connection, charge: ChargeRow, true_up_id: uuid.UUID, amount_cents: int,
    status: RefundStatus, now: datetime,
) -> uuid.UUID | None:  # fmt: skip
    """The refund once per true-up; None when it exists already."""
    refund_id: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO client_refunds
            (client_id, charge_id, true_up_id, amount_cents, status, succeeded_at, created_at,
             updated_at)
        VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)
        ON CONFLICT ON CONSTRAINT client_refunds_once DO NOTHING RETURNING id
        """,
        charge.client_id, charge.id, true_up_id, amount_cents, status, now,
    )  # fmt: skip
    return refund_id


async def lock_refund(conn: asyncpg.Connection, refund_id: uuid.UUID) -> RefundRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, client_id, charge_id, true_up_id, amount_cents, status, attempt, lease_until,
               stripe_refund_id, created_at
        FROM client_refunds WHERE id = $1 FOR UPDATE
        """,
        refund_id,
    )
    return None if row is None else msgspec.convert(dict(row), RefundRow)


async def lock_refund_by_stripe_id(conn: asyncpg.Connection, stripe_id: str) -> RefundRow | None:
    refund_id: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM client_refunds WHERE stripe_refund_id = $1", stripe_id
    )
    return None if refund_id is None else await lock_refund(conn, refund_id)


async def get_intent_of_charge(conn: asyncpg.Connection, charge_id: uuid.UUID) -> str | None:
    intent: str | None = await conn.fetchval(
        "SELECT payment_intent_id FROM client_charges WHERE id = $1", charge_id
    )
    return intent


async def update_refund(
    conn: asyncpg.Connection, refund_id: uuid.UUID, status: RefundStatus, *, attempt: int,
    lease: datetime | None, stripe_id: str | None, failure_code: str | None, now: datetime,
) -> None:  # fmt: skip
    """The refund's state: claimed (submitting, a lease), back to pending after an error, or
    its outcome (succeeded, failed) stamped; a Stripe id once known is kept."""
    await conn.execute(
        """
        UPDATE client_refunds SET status = $2, attempt = $3, lease_until = $4,
            stripe_refund_id = coalesce(stripe_refund_id, $5), failure_code = $6,
            succeeded_at = CASE WHEN $2 = 'succeeded' THEN $7::timestamptz END,
            failed_at = CASE WHEN $2 = 'failed' THEN $7::timestamptz END, updated_at = $7
        WHERE id = $1
        """,
        refund_id, status, attempt, lease, stripe_id, failure_code, now,
    )  # fmt: skip
