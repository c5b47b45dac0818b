"""What a completion books (DESIGN.md "Money"): the claim in network, and one journal entry.

In network: Dr client_receivable (the estimated share), Dr payer_receivable (allowed - share,
on the claim), Cr provider_payable (the fee schedule's provider rate), and the difference
Cr platform_revenue (or Dr provider_rate_subsidy). Out of network or self-pay: no claim; Dr
client_receivable (the provider's self-pay rate), Cr provider_payable (rate - platform fee),
Cr platform_revenue (the fee). The client's share is charged to their card (a pending
client_charges row and its outbox row, services/payments/). Carve-out or coverage the
benefit check cannot state: no charge and no claim; the session is confirmed on hold for ops
(services/therapy_sessions/coverage.py), who bill it through this same code once a new check
says it is covered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import asyncpg

from schemas.claims import ClaimIn, ClaimLineIn
from schemas.ledger import AccountRef, EntryIn, Line, Side
from schemas.payers import PayerOut
from schemas.therapy_sessions import BillingHold, CompleteSessionIn, SessionOut
from services.claims.service import create_claim, queue_submission
from services.core import clock
from services.core.auth import Actor
from services.core.settings import Settings
from services.eligibility.service import completion_share
from services.good_faith.service import record_self_pay_bill
from services.ledger.service import post_entry
from services.payers.service import get_rate
from services.payments.service import add_completion_charge
from services.providers.service import get_self_pay_rate
from services.therapy_sessions import queries
from services.therapy_sessions.errors import CompletionRefused
from services.therapy_sessions.rules import TELEHEALTH_MODIFIERS


@dataclass(frozen=True)
class Pricing:
    """The amounts of one completion, found before anything is written."""

    payer: PayerOut | None  # None: no claim (self-pay or out of network)
    allowed: list[int]  # per line, in network
    provider_rate_cents: int  # in network: the fee schedule's; else the self-pay rate less the fee
    client_cents: int  # the client's estimated share, or the self-pay rate
    fee_cents: int = 0  # self-pay and out of network: the platform's fee
    # Carve-out or unknown coverage: nothing is booked, the session waits for ops.
    hold: BillingHold | None = None
    benefit_check_id: uuid.UUID | None = None  # the check the hold was decided on
    # Per line, in network: the fee schedule's provider rate (the claim line's, for a
    # recoupment's cap); they add up to provider_rate_cents.
    rates: list[int] = field(default_factory=list)


def _half_up(cents: int, bps: int) -> int:
    return (cents * bps + 5_000) // 10_000


async def price_self_pay(
    conn: asyncpg.Connection, settings: Settings, session: SessionOut, data: CompleteSessionIn
) -> Pricing:
    total = 0
    for n, line in enumerate(data.lines):
        rate = await get_self_pay_rate(conn, session.provider_id, line.cpt_code)
        if rate is None:
            raise CompletionRefused(
                f"the provider has no self-pay rate for {line.cpt_code}",
                code="no_self_pay_rate",
                field=f"lines[{n}].cpt_code",
            )
        total += rate.amount_cents
    fee = _half_up(total, settings.platform_fee_bps)
    return Pricing(
        payer=None, allowed=[], provider_rate_cents=total - fee, client_cents=total, fee_cents=fee
    )


async def price(
    conn: asyncpg.Connection,
    settings: Settings,
    session: SessionOut,
    payer: PayerOut | None,
    data: CompleteSessionIn,
    day: date,
) -> Pricing:
    """The session's amounts; refusals (no fee schedule, unknown coverage) come before writes."""
    if payer is None or session.policy_id is None:
        return await price_self_pay(conn, settings, session, data)
    allowed: list[int] = []
    rates: list[int] = []
    for n, line in enumerate(data.lines):
        modifier = next((m for m in line.modifiers if m in TELEHEALTH_MODIFIERS), None)
        fee = await get_rate(conn, payer.id, line.cpt_code, modifier, day)
        if fee is None:
            raise CompletionRefused(
                f"the payer has no fee schedule for {line.cpt_code} on {day.isoformat()}",
                code="no_fee_schedule",
                field=f"lines[{n}].cpt_code",
            )
        allowed.append(fee.allowed_cents)
        rates.append(fee.provider_rate_cents)
    share = await completion_share(conn, session.policy_id, session.provider_id, sum(allowed), day)
    if share.coverage == "carve_out" or share.coverage == "unknown":
        return Pricing(
            payer=None, allowed=[], provider_rate_cents=0, client_cents=0,
            hold=share.coverage, benefit_check_id=share.benefit_check_id,
        )  # fmt: skip
    if share.coverage == "out":
        return await price_self_pay(conn, settings, session, data)
    return Pricing(
        payer=payer, allowed=allowed, provider_rate_cents=sum(rates),
        client_cents=share.client_cents, rates=rates,
    )  # fmt: skip


def _line(
    kind: str, owner: uuid.UUID | None, side: Side, cents: int, claim: uuid.UUID | None = None
) -> Line:
    return Line(
        account=AccountRef(kind=kind, owner_id=owner),  # type: ignore[arg-type]
        side=side,
        amount_cents=cents,
        claim_id=claim,
    )


def entry_lines(session: SessionOut, p: Pricing, claim_id: uuid.UUID | None) -> list[Line]:
    lines = [
        _line("client_receivable", session.client_id, "debit", p.client_cents),
        _line("provider_payable", session.provider_id, "credit", p.provider_rate_cents),
    ]
    if p.payer is None:
        lines.append(_line("platform_revenue", None, "credit", p.fee_cents))
        return lines
    allowed = sum(p.allowed)
    lines.append(_line("payer_receivable", p.payer.id, "debit", allowed - p.client_cents, claim_id))
    margin = allowed - p.provider_rate_cents
    if margin >= 0:
        lines.append(_line("platform_revenue", None, "credit", margin))
    else:
        lines.append(_line("provider_rate_subsidy", None, "debit", -margin))
    return [line for line in lines if line.amount_cents > 0]


def claim_in(session: SessionOut, data: CompleteSessionIn, pricing: Pricing) -> ClaimIn | None:
    """The claim a confirmed (or edited) session makes; None without one (no payer)."""
    if pricing.payer is None or session.policy_id is None:
        return None
    return ClaimIn(
        therapy_session_id=session.id,
        payer_id=pricing.payer.id,
        policy_id=session.policy_id,
        provider_id=session.provider_id,
        client_id=session.client_id,
        service_date=data.started_at.date(),
        place_of_service=data.place_of_service,
        diagnosis_codes=session.diagnosis_codes or [],
        prior_authorization_id=session.prior_authorization_id,
        lines=[
            ClaimLineIn(
                cpt_code=line.cpt_code,
                modifiers=line.modifiers,
                diagnosis_pointers=line.diagnosis_pointers,
                allowed_cents=allowed,
                provider_rate_cents=rate,
            )
            for line, allowed, rate in zip(data.lines, pricing.allowed, pricing.rates, strict=True)
        ],
    )


async def book(
    conn: asyncpg.Connection,
    settings: Settings,
    actor: Actor,
    session: SessionOut,
    data: CompleteSessionIn,
    pricing: Pricing,
) -> uuid.UUID | None:
    """The claim (in network, its submission queued for when its hold ends) and the
    completion's journal entry; the claim's id. A session whose coverage is held gets
    neither: it is put on hold for ops instead."""
    if pricing.hold is not None:
        offset = data.started_at.utcoffset() or timedelta()
        await queries.update_billing_hold(
            conn, session.id, pricing.hold, pricing.benefit_check_id,
            int(offset.total_seconds()) // 60, clock.now(),
        )  # fmt: skip
        return None
    claim_id = None
    data_in = claim_in(session, data, pricing)
    if data_in is not None:
        claim_id = await create_claim(conn, actor, data_in)
        hold = timedelta(hours=settings.claim_hold_hours)
        await queue_submission(conn, data_in.payer_id, hold)
    lines = entry_lines(session, pricing, claim_id)
    if len(lines) >= 2:  # nothing to book when every amount is zero
        await post_entry(
            conn,
            EntryIn(
                kind="completion",
                # One completion entry per session, ever: a retry finds the first.
                idempotency_key=f"completion-{session.id}",
                source_table="therapy_sessions",
                source_id=session.id,
                lines=tuple(lines),
                memo="session completed",
                occurred_at=session.confirmed_at,
            ),
        )
    if pricing.payer is None:
        # A self-pay bill counts against the client's Good Faith Estimate (flagged, not blocked).
        await record_self_pay_bill(conn, session, data.started_at.date(), pricing.client_cents)
    # The estimated share, frozen now, charged to the card on file once this commits.
    await add_completion_charge(conn, session.client_id, session.id, pricing.client_cents)
    return claim_id
