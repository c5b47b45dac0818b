"""Failed-payment recovery's SQL: charge_recoveries, charge_attempts, and the client_charges
statements only recovery needs (a no-card balance due queued again, the on-session intent's
attempt). Reads payment_methods (a retry's card still saved)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from schemas.payments import (
    STRIPE_MINIMUM_CENTS,
    AttemptRow,
    AttemptStatus,
    DeclineClass,
    RecoveryRow,
    RecoveryStatus,
)

_RECOVERY = """charge_id, client_id, decline_class, status, failures, first_failed_at,
    written_off_cents, written_off_at"""
_ATTEMPT = "id, charge_id, payment_method_id, retry, call, status, lease_until, prior_charge"


async def get_failed_at(conn: asyncpg.Connection, charge_id: uuid.UUID) -> datetime | None:
    failed_at: datetime | None = await conn.fetchval(
        "SELECT failed_at FROM client_charges WHERE id = $1", charge_id
    )
    return failed_at


async def upsert_recovery(
    conn: asyncpg.Connection, charge_id: uuid.UUID, client_id: uuid.UUID,
    decline_class: DeclineClass, status: RecoveryStatus, failed_at: datetime, now: datetime,
) -> RecoveryRow:  # fmt: skip
    """The charge's recovery, new, or with one more failure counted (a charge that failed
    again after it was queued once more): its class and status those of this failure."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO charge_recoveries
            (charge_id, client_id, decline_class, status, first_failed_at, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $6)
        ON CONFLICT (charge_id) DO UPDATE SET decline_class = EXCLUDED.decline_class,
            status = CASE WHEN charge_recoveries.status = 'written_off' THEN 'written_off'
                          ELSE EXCLUDED.status END,
            failures = charge_recoveries.failures + 1, updated_at = EXCLUDED.updated_at
        RETURNING {_RECOVERY}
        """,  # noqa: S608 - column list only
        charge_id, client_id, decline_class, status, failed_at, now,
    )  # fmt: skip
    assert row is not None
    return msgspec.convert(dict(row), RecoveryRow)


async def lock_recovery(conn: asyncpg.Connection, charge_id: uuid.UUID) -> RecoveryRow | None:
    row = await conn.fetchrow(
        f"SELECT {_RECOVERY} FROM charge_recoveries WHERE charge_id = $1 FOR UPDATE",  # noqa: S608
        charge_id,
    )
    return None if row is None else msgspec.convert(dict(row), RecoveryRow)


async def update_recovery_status(
    conn: asyncpg.Connection, charge_id: uuid.UUID, status: RecoveryStatus, now: datetime
) -> None:
    """A written-off recovery keeps its status until paid (its write-off stands till then)."""
    await conn.execute(
        """
        UPDATE charge_recoveries SET status = $2, updated_at = $3,
            paid_at = CASE WHEN $2 = 'paid' THEN $3 ELSE paid_at END
        WHERE charge_id = $1 AND (status <> 'written_off' OR $2 = 'paid')
        """,
        charge_id,
        status,
        now,
    )


async def update_written_off(
    conn: asyncpg.Connection, charge_id: uuid.UUID, cents: int, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE charge_recoveries SET status = 'written_off', written_off_cents = $2,
            written_off_at = $3, updated_at = $3
        WHERE charge_id = $1
        """,
        charge_id,
        cents,
        now,
    )


async def insert_first_attempt(
    conn: asyncpg.Connection, client_id: uuid.UUID, charge_id: uuid.UUID, method: str,
    codes: tuple[str | None, str | None], at: datetime,
) -> None:  # fmt: skip
    """The declined first charge, once: it counts against the card's 30-day limit."""
    await conn.execute(
        """
        INSERT INTO charge_attempts
            (charge_id, client_id, payment_method_id, retry, status, failure_code, decline_code,
             attempted_at, updated_at)
        VALUES ($1, $2, $3, 0, 'declined', $4, $5, $6, $6)
        ON CONFLICT ON CONSTRAINT charge_attempts_once DO NOTHING
        """,
        charge_id, client_id, method, codes[0], codes[1], at,
    )  # fmt: skip


async def lock_attempt(
    conn: asyncpg.Connection, charge_id: uuid.UUID, retry: int
) -> AttemptRow | None:
    row = await conn.fetchrow(
        f"SELECT {_ATTEMPT} FROM charge_attempts WHERE charge_id = $1 AND retry = $2 FOR UPDATE",  # noqa: S608
        charge_id,
        retry,
    )
    return None if row is None else msgspec.convert(dict(row), AttemptRow)


async def insert_attempt(
    conn: asyncpg.Connection, client_id: uuid.UUID, charge_id: uuid.UUID, method: str,
    retry: int, lease: datetime, now: datetime,
) -> AttemptRow:  # fmt: skip
    """A retry claimed (submitting, a lease); the caller holds the charge's lock."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO charge_attempts
            (charge_id, client_id, payment_method_id, retry, status, lease_until, attempted_at,
             updated_at)
        VALUES ($1, $2, $3, $4, 'submitting', $5, $6, $6)
        RETURNING {_ATTEMPT}
        """,  # noqa: S608 - column list only
        charge_id, client_id, method, retry, lease, now,
    )  # fmt: skip
    assert row is not None
    return msgspec.convert(dict(row), AttemptRow)


async def update_attempt(
    conn: asyncpg.Connection, attempt_id: uuid.UUID, status: AttemptStatus, *, call: int,
    lease: datetime | None, codes: tuple[str | None, str | None], now: datetime,
) -> None:  # fmt: skip
    await conn.execute(
        """
        UPDATE charge_attempts SET status = $2, call = $3, lease_until = $4, failure_code = $5,
            decline_code = $6, updated_at = $7
        WHERE id = $1
        """,
        attempt_id, status, call, lease, codes[0], codes[1], now,
    )  # fmt: skip


async def update_prior_charge(
    conn: asyncpg.Connection, attempt_id: uuid.UUID, prior: str | None, now: datetime
) -> None:
    """The intent's latest charge before this retry's first confirm (kept from then on)."""
    await conn.execute(
        """
        UPDATE charge_attempts SET prior_charge = coalesce(prior_charge, $2), updated_at = $3
        WHERE id = $1
        """,
        attempt_id,
        prior,
        now,
    )


async def get_card_attempts(
    conn: asyncpg.Connection, client_id: uuid.UUID, method: str, since: datetime
) -> tuple[int, datetime | None]:
    """(how many, the oldest) off-session attempts on the card since `since`, across all the
    client's charges."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS n, min(attempted_at) AS oldest FROM charge_attempts
        WHERE client_id = $1 AND payment_method_id = $2 AND attempted_at > $3
        """,
        client_id,
        method,
        since,
    )
    assert row is not None
    return int(row["n"]), row["oldest"]


async def has_saved_card(conn: asyncpg.Connection, client_id: uuid.UUID, method: str) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM payment_methods WHERE client_id = $1 AND id = $2 AND removed_at IS NULL",
        client_id,
        method,
    )
    return bool(found)


async def update_requeued(
    conn: asyncpg.Connection, client_id: uuid.UUID, now: datetime
) -> list[uuid.UUID]:
    """The client's no-card balances due Stripe can charge (never sent: no intent, attempt 0)
    back to pending; their ids."""
    rows = await conn.fetch(
        """
        UPDATE client_charges SET status = 'pending', failure_code = NULL, decline_code = NULL,
            updated_at = $3
        WHERE client_id = $1 AND status = 'balance_due' AND failure_code = 'no_card_on_file'
          AND amount_cents >= $2 AND payment_intent_id IS NULL AND attempt = 0
        RETURNING id
        """,
        client_id,
        STRIPE_MINIMUM_CENTS,
        now,
    )
    return [r["id"] for r in rows]


async def update_charge_attempt(
    conn: asyncpg.Connection, charge_id: uuid.UUID, attempt: int, now: datetime
) -> None:
    """The attempt an on-session intent's creation is on (its key charge-{id}-a{n})."""
    await conn.execute(
        "UPDATE client_charges SET attempt = $2, updated_at = $3 WHERE id = $1",
        charge_id,
        attempt,
        now,
    )


async def update_credit_applied(
    conn: asyncpg.Connection, charge_id: uuid.UUID, cents: int, now: datetime
) -> None:
    """`cents` more of the charge settled by the client's credit."""
    await conn.execute(
        """
        UPDATE client_charges SET credit_applied_cents = credit_applied_cents + $2,
            updated_at = $3
        WHERE id = $1
        """,
        charge_id,
        cents,
        now,
    )


async def update_settled_by_credit(
    conn: asyncpg.Connection, charge_id: uuid.UUID, now: datetime
) -> None:
    """A charge never sent that the client's credit settled whole: succeeded, no card
    charged (migration 0046)."""
    await conn.execute(
        """
        UPDATE client_charges SET status = 'succeeded', succeeded_at = $2, lease_until = NULL,
            failure_code = NULL, decline_code = NULL, updated_at = $2
        WHERE id = $1 AND payment_intent_id IS NULL AND credit_applied_cents = amount_cents
        """,
        charge_id,
        now,
    )
