"""What a corrected or voided claim does to the ledger (DESIGN.md "Money").

A claim's net effect is the sum, per account, of the entries its events booked: the
completion (`completion-{session}`) and each correction (`correction-{claim}-v{version}`). A
correction re-prices the changed lines from the payer's fee schedule and books the difference
between where a fresh completion of the corrected claim would leave each account and where
the claim's entries left it; a void books the net effect negated (`void-{claim}`), once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

import asyncpg

from schemas.claims import ClaimLineIn, ClaimLineOut, ClaimOut
from schemas.ledger import AccountKind, EntryIn, EntryKind
from schemas.payers import PayerOut
from schemas.therapy_sessions import ClaimCoding, ServiceLineIn
from services.claims.errors import CorrectionRefused
from services.core import clock
from services.eligibility.service import completion_share
from services.ledger.service import get_entry, lines_from_net, post_entry
from services.payers.service import get_rate
from services.therapy_sessions.service import TELEHEALTH_MODIFIERS

# An account of a claim's entries: kind, owner, the claim on payer_receivable lines.
Account = tuple[AccountKind, uuid.UUID | None, uuid.UUID | None]


@dataclass(frozen=True)
class Repriced:
    lines: list[ClaimLineIn]  # with each line's allowed amount
    target: Counter[Account]  # where a fresh completion would leave each account (debit +)


def _same(old: ClaimLineOut, new: ServiceLineIn) -> bool:
    return (old.cpt_code, sorted(old.modifiers)) == (new.cpt_code, sorted(new.modifiers))


async def reprice(
    conn: asyncpg.Connection, claim: ClaimOut, payer: PayerOut, coding: ClaimCoding
) -> Repriced:
    """The corrected lines' allowed amounts (a line unchanged keeps its own) and the accounts
    a completion of them books; refused (422) when the fee schedule or coverage says no."""
    lines, allowed, rates = [], 0, 0
    for n, line in enumerate(coding.lines):
        modifier = next((m for m in line.modifiers if m in TELEHEALTH_MODIFIERS), None)
        fee = await get_rate(conn, payer.id, line.cpt_code, modifier, claim.service_date)
        if fee is None:
            raise CorrectionRefused(
                f"the payer has no fee schedule for {line.cpt_code} on {claim.service_date}",
                code="no_fee_schedule",
                field=f"lines[{n}].cpt_code",
            )
        kept = next((old for old in claim.lines if _same(old, line)), None)
        cents = kept.allowed_cents if kept is not None else fee.allowed_cents
        lines.append(
            ClaimLineIn(
                cpt_code=line.cpt_code,
                modifiers=line.modifiers,
                diagnosis_pointers=line.diagnosis_pointers,
                allowed_cents=cents,
                # The rate booked below (the fee schedule's, even for a line that kept its
                # allowed amount): the line's part of what the claim earns the provider.
                provider_rate_cents=fee.provider_rate_cents,
            )
        )
        allowed += cents
        rates += fee.provider_rate_cents
    share = await completion_share(
        conn, claim.policy_id, claim.provider_id, allowed, claim.service_date
    )
    if share.coverage not in ("in", "unchecked"):
        raise CorrectionRefused(
            "the latest benefit check no longer says the plan covers the session in network"
            f" ({share.coverage.replace('_', '-')}): ops settle the coverage first",
            code="coverage_unknown",
            field="lines",
        )
    target: Counter[Account] = Counter()
    target[("client_receivable", claim.client_id, None)] = share.client_cents
    target[("payer_receivable", claim.payer_id, claim.id)] = allowed - share.client_cents
    target[("provider_payable", claim.provider_id, None)] = -rates
    if allowed >= rates:
        target[("platform_revenue", None, None)] = -(allowed - rates)
    else:
        target[("provider_rate_subsidy", None, None)] = rates - allowed
    return Repriced(lines, target)


def _keys(claim: ClaimOut, versions: int) -> list[str]:
    return [f"completion-{claim.therapy_session_id}"] + [
        correction_key(claim.id, v) for v in range(2, versions + 1)
    ]


def correction_key(claim_id: uuid.UUID, version: int) -> str:
    return f"correction-{claim_id}-v{version}"


async def net_effect(conn: asyncpg.Connection, claim: ClaimOut, versions: int) -> Counter[Account]:
    """The claim's entries summed per account, debits positive."""
    net: Counter[Account] = Counter()
    for key in _keys(claim, versions):
        entry = await get_entry(conn, key)
        for line in entry.lines if entry is not None else []:
            sign = 1 if line.side == "debit" else -1
            net[(line.kind, line.owner_id, line.claim_id)] += sign * line.amount_cents
    return net


async def post_difference(
    conn: asyncpg.Connection,
    claim: ClaimOut,
    key: str,
    kind: EntryKind,
    difference: Counter[Account],
    memo: str,
) -> None:
    """One entry moving each account by `difference` (debit +); none when nothing moves."""
    lines = lines_from_net(difference)
    if len(lines) < 2:
        return
    await post_entry(
        conn,
        EntryIn(
            kind=kind,
            idempotency_key=key,
            source_table="claims",
            source_id=claim.id,
            lines=lines,
            memo=memo,
            occurred_at=clock.now(),
        ),
    )


def difference(target: Counter[Account], current: Counter[Account]) -> Counter[Account]:
    """target - current, per account (zeros kept out)."""
    return Counter({k: target[k] - current[k] for k in target.keys() | current.keys()})
