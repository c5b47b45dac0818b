"""Helpers of the corrections tests: a completed session's claim, sent and answered."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from schemas.eligibility import Benefits, Fraction, TierBenefits
from services.claims.queries import batches
from services.core import clock
from services.core.settings import Settings
from services.core.x12_control import next_control_numbers
from services.eligibility import queries as eligibility_queries
from tests.claims.world import move_claim
from tests.therapy_sessions.completion import Visit, arrange, completion_body

PAYER_NUMBER = "PCN2026000001"


async def coinsurance(db: asyncpg.Connection, visit: Visit, share: str = "0.2") -> None:
    """An answered benefit check: in network, the client pays `share` of the allowed amount."""
    assert visit.client.client_id is not None
    tier = TierBenefits(covered=True, coinsurance=Fraction(value=Decimal(share), source="MH"))
    now, trace = clock.now(), f"T{uuid.uuid4().hex[:12]}"
    await eligibility_queries.insert_check(
        db, policy_id=visit.policy_id, client_id=visit.client.client_id,
        provider_id=visit.provider.provider_id, service_date=date(2026, 11, 1), trace=trace,
        payload_id=uuid.uuid4(), status="active",
        benefits=Benefits(status="active", trace=trace, in_network=tier),
        request_x12="ISA~", response_x12="ISA~", requested_by=None, requested_at=now,
        completed_at=now, duration_ms=1,
    )  # fmt: skip


async def completed(
    db: asyncpg.Connection,
    client: httpx.AsyncClient,
    token: Any,
    settings: Settings,
    visit: Visit | None = None,
    **fields: Any,
) -> tuple[Visit, uuid.UUID]:
    """A session completed through the API (coinsurance 20%): its visit and claim."""
    if visit is None:
        visit = await arrange(db, settings)
        await coinsurance(db, visit)
    response = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete",
        json=completion_body(**fields),
        headers=token(visit.provider),
    )
    assert response.status_code == 200, response.text
    return visit, uuid.UUID(response.json()["claim_id"])


async def sent(db: asyncpg.Connection, claim_id: uuid.UUID) -> uuid.UUID:
    """The claim's latest version in a batch of its own, the claim `submitted`; its id."""
    payer_id = await db.fetchval("SELECT payer_id FROM claims WHERE id = $1", claim_id)
    isa13, gs06 = await next_control_numbers(db)
    batch_id = await batches.insert_batch(
        db, payer_id, uuid.uuid4(), (isa13, gs06, "0001"), 1, clock.now()
    )
    assert await batches.attach_to_batch(db, batch_id, [claim_id]) == 1
    await move_claim(db, claim_id, "submitted", "in batch")
    found: uuid.UUID = await db.fetchval(
        "SELECT id FROM claim_submissions WHERE batch_id = $1", batch_id
    )
    return found


async def answered(
    db: asyncpg.Connection, claim_id: uuid.UUID, to: str, number: str | None = PAYER_NUMBER
) -> None:
    """The claim sent, acknowledged, then accepted (with the payer's number) or rejected."""
    submission = await sent(db, claim_id)
    await move_claim(db, claim_id, "acknowledged", "999 IK5:A")
    codes = ["A2:20"] if to == "accepted" else ["A3:21"]
    await move_claim(db, claim_id, to, f"277CA {codes[0]}")
    await batches.update_submission_ack(db, submission, codes, number, None)


async def versions(db: asyncpg.Connection, claim_id: uuid.UUID) -> list[tuple[int, str, str]]:
    rows = await db.fetch(
        "SELECT version, frequency, clm01 FROM claim_submissions WHERE claim_id = $1"
        " ORDER BY version",
        claim_id,
    )
    return [(r["version"], r["frequency"], r["clm01"]) for r in rows]


async def snapshot(db: asyncpg.Connection, claim_id: uuid.UUID) -> dict[str, Any]:
    """Everything a correction could change on the claim's side."""
    claim = await db.fetchrow("SELECT * FROM claims WHERE id = $1", claim_id)
    assert claim is not None
    return {
        "claim": dict(claim),
        "lines": [dict(r) for r in await db.fetch(
            "SELECT * FROM claim_lines WHERE claim_id = $1 ORDER BY line_number", claim_id)],
        "versions": await versions(db, claim_id),
        "history": await db.fetchval(
            "SELECT count(*) FROM claim_status_history WHERE claim_id = $1", claim_id),
        "entries": await db.fetchval("SELECT count(*) FROM journal_entries"),
        "visits_used": await db.fetchval("SELECT coalesce(sum(visits_used), 0)"
                                         " FROM prior_authorizations"),
    }  # fmt: skip


async def net_by_kind(
    db: asyncpg.Connection, session_id: uuid.UUID, claim_id: uuid.UUID | None
) -> Counter[str]:
    """The claim's entries (completion, corrections, void) summed per account kind, debit +."""
    # The balance trigger is deferred to COMMIT: run it now, inside the test's transaction.
    await db.execute("SET CONSTRAINTS ALL IMMEDIATE")
    await db.execute("SET CONSTRAINTS ALL DEFERRED")
    rows = await db.fetch(
        """
        SELECT a.kind, sum(CASE l.side WHEN 'debit' THEN l.amount_cents
                                       ELSE -l.amount_cents END) AS net
        FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id
        JOIN ledger_accounts a ON a.id = l.account_id
        WHERE (e.source_table = 'therapy_sessions' AND e.source_id = $1)
           OR (e.source_table = 'claims' AND e.source_id = $2)
        GROUP BY a.kind
        """,
        session_id,
        claim_id,
    )
    return Counter({r["kind"]: r["net"] for r in rows if r["net"] != 0})
