"""Claims as completion leaves them (the claim and its journal entry), for the posting tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from schemas.claims import ClaimIn, ClaimLineIn, ClaimOut
from schemas.ledger import AccountRef, EntryIn, Line
from services.claims import service as claims
from services.core.auth import Actor
from services.ledger.service import get_account_balance, get_claim_receivable, post_entry
from tests.factories import make_client_actor, make_ops, make_policy, make_session

PROVIDER_RATE_SHARE = 0.8  # what the provider is paid of the allowed amount, in these tests


@dataclass(frozen=True)
class Billed:
    claim_id: uuid.UUID
    clm01: str
    line_controls: list[str]
    provider_id: uuid.UUID
    client_id: uuid.UUID
    payer_id: uuid.UUID
    allowed: int
    estimate: int


async def bill(
    db: asyncpg.Connection,
    payer_id: uuid.UUID,
    provider: Actor,
    lines: tuple[tuple[str, int], ...] = (("90837", 12000),),
    estimate: int = 2000,
) -> Billed:
    """A claim of `lines` (CPT, allowed cents) and the completion entry booking it."""
    ops, client = await make_ops(db), await make_client_actor(db)
    policy_id = await make_policy(db, client, payer_id)
    session = await make_session(db, ops, provider, client, policy_id)
    data = ClaimIn(
        therapy_session_id=session.id, payer_id=payer_id, policy_id=policy_id,
        provider_id=session.provider_id, client_id=session.client_id,
        service_date=session.starts_at.date(), place_of_service="11",
        diagnosis_codes=["F411"], prior_authorization_id=None,
        lines=[
            ClaimLineIn(cpt_code=cpt, modifiers=[], diagnosis_pointers=[1], allowed_cents=cents,
                        provider_rate_cents=int(cents * PROVIDER_RATE_SHARE))
            for cpt, cents in lines
        ],
    )  # fmt: skip
    await claims.create_claim(db, ops, data)
    claim = await claims.get_claim_of_session(db, session.id)
    assert claim is not None
    await book_completion(db, claim, estimate)
    # As the payer's 277CA left it: an 835 finds a `ready` claim only when a correction waits.
    await db.execute("UPDATE claims SET status = 'accepted' WHERE id = $1", claim.id)
    return Billed(
        claim.id, claim.clm01, [line.line_control_number for line in claim.lines],
        session.provider_id, session.client_id, payer_id, claim.allowed_cents, estimate,
    )  # fmt: skip


async def book_completion(db: asyncpg.Connection, claim: ClaimOut, estimate: int) -> None:
    """The completion's entry for `claim`, the client's estimated share `estimate`, crediting
    the provider their lines' rates."""
    allowed = claim.allowed_cents
    rate = sum(line.provider_rate_cents for line in claim.lines)
    await post_entry(
        db,
        EntryIn(
            kind="completion", idempotency_key=f"completion-{claim.therapy_session_id}",
            source_table="therapy_sessions", source_id=claim.therapy_session_id,
            lines=(
                Line(account=AccountRef(kind="client_receivable", owner_id=claim.client_id),
                     side="debit", amount_cents=estimate),
                Line(account=AccountRef(kind="payer_receivable", owner_id=claim.payer_id),
                     side="debit", amount_cents=allowed - estimate, claim_id=claim.id),
                Line(account=AccountRef(kind="provider_payable", owner_id=claim.provider_id),
                     side="credit", amount_cents=rate),
                Line(account=AccountRef(kind="platform_revenue"), side="credit",
                     amount_cents=allowed - rate),
            ),
        ),
    )  # fmt: skip


async def balance(db: asyncpg.Connection, kind: str, owner: uuid.UUID | None = None) -> int:
    found = await get_account_balance(db, AccountRef(kind=kind, owner_id=owner))  # type: ignore[arg-type]
    return found.balance_cents


async def receivable(db: asyncpg.Connection, claim_id: uuid.UUID) -> int:
    return await get_claim_receivable(db, claim_id)


async def claim_status(db: asyncpg.Connection, claim_id: uuid.UUID) -> str:
    status: str = await db.fetchval("SELECT status FROM claims WHERE id = $1", claim_id)
    return status


async def line_rates(db: asyncpg.Connection, claim_id: uuid.UUID) -> list[tuple[str, int]]:
    """The claim's lines as (CPT, the provider's rate), in line order."""
    rows = await db.fetch(
        "SELECT cpt_code, provider_rate_cents FROM claim_lines WHERE claim_id = $1"
        " ORDER BY line_number",
        claim_id,
    )
    return [(r["cpt_code"], r["provider_rate_cents"]) for r in rows]


async def recoupments(db: asyncpg.Connection, claim_id: uuid.UUID) -> list[int]:
    """What each recoupment of the claim's remittances took, in the order they were posted."""
    rows = await db.fetch(
        "SELECT l.amount_cents FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id"
        " JOIN remitted_claims r ON r.id = e.source_id"
        " WHERE e.kind = 'recoupment' AND l.side = 'debit' AND r.claim_id = $1"
        " ORDER BY e.id",
        claim_id,
    )
    return [r["amount_cents"] for r in rows]
