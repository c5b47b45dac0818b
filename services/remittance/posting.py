"""One 835 payment posted into our tables and the ledger (DESIGN.md "Money", "Denial",
"835 balancing", "Reversal", "PLB").

Per claim, one `claim_remitted` entry: Dr payer_clearing / Cr payer_receivable (CLP04); the
835's patient responsibility (PR at both levels) less the estimate between payer_receivable
and client_receivable; the rest of the claim's payer_receivable to claim_losses (the denied
part, at most the non-contractual adjustments) and contractual_adjustment (the gap to the
payer's allowed amount), so the claim's payer_receivable ends at zero. A loss whose CARC the
policy recoups adds a `recoupment` entry (Dr provider_payable / Cr claim_losses), a line's at
most what that line earned the provider (claim_lines.provider_rate_cents), the claim's
together at most what its session earned them (batch.py). A reversal
posts the negation of what its original's entries booked. Every key is derived from the trace
and the claim's ordinal in its payment, so a re-run after a crash posts nothing twice.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from schemas.ledger import AccountKind, EntryKind
from schemas.remittance import Adjustment, Claim, ProviderAdjustment, Remittance
from services.claims.service import RemittanceEvent
from services.ledger.service import NetAccount, post_entry
from services.remittance.batch import PLB_TO_CLAIM, Batch, entry_of
from services.remittance.loss_facts import loss_facts
from services.remittance.queries import posting as q
from services.remittance.recoupment import decide_among

PROCESSED = frozenset({"1", "2", "3", "4"})
FORWARDED = frozenset({"19", "20", "21"})  # processed and forwarded: post like 1-3
PATIENT_CODES = frozenset({"1", "2", "3"})  # deductible, coinsurance, copay: charged as such
# Adjustments that are no loss: CO-45 (the gap to the allowed amount), OA-23 (a prior payer's
# adjudication), CO-18 (a duplicate: the original stands), and every PR (the client owes it).
_NOT_A_LOSS = {("OA", "23")}
_SAFE_KEY = re.compile(r"^[!-~]{1,60}$")

Account = NetAccount


def payment_key(remittance: Remittance) -> str:
    """The payment's part of every ledger key: its trace (TRN03 + TRN02), once, ever."""
    trace = f"{remittance.trace_originator}-{remittance.trace_number}"
    if _SAFE_KEY.fullmatch(trace):
        return f"era-{trace}"
    return "era-" + hashlib.sha256(trace.encode()).hexdigest()[:32]


def is_loss(adjustment: Adjustment) -> bool:
    return (
        adjustment.group != "PR"
        and adjustment.reason not in ("45", "18")
        and (adjustment.group, adjustment.reason) not in _NOT_A_LOSS
        and adjustment.amount_cents > 0
    )


def every_adjustment(claim: Claim) -> list[Adjustment]:
    out = list(claim.adjustments)
    for line in claim.lines:
        out += line.adjustments
    return out


def _denied(paid: int, adjustments: tuple[Adjustment, ...] | list[Adjustment]) -> bool:
    """Paid 0 with a loss adjustment and no deductible, coinsurance or copay (DESIGN "Denial")."""
    client_owes = any(a.group == "PR" and a.reason in PATIENT_CODES for a in adjustments)
    return paid == 0 and any(is_loss(a) for a in adjustments) and not client_owes


def is_duplicate(claim: Claim) -> bool:
    """CO-18: an exact duplicate, which changes nothing on the original."""
    return any(a.reason == "18" for a in claim.adjustments) or (
        bool(claim.lines)
        and all(any(a.reason == "18" for a in line.adjustments) for line in claim.lines)
    )


@dataclass
class Posted:
    """What one CLP made: its row's values and the ops note, if any."""

    id: uuid.UUID
    outcome: str
    claim_id: uuid.UUID | None = None
    submission_id: uuid.UUID | None = None
    reversal_of: uuid.UUID | None = None
    contractual: int = 0
    loss: int = 0
    true_up: int = 0
    estimate: int | None = None  # the client's share booked before this 835 (adjudications)
    notes: list[str] = field(default_factory=list)


async def book(
    batch: Batch,
    kind: EntryKind,
    key: str,
    source: tuple[str, uuid.UUID],
    net: Counter[Account],
    memo: str,
) -> None:
    """One entry moving each account by `net` (debit +); none when nothing moves."""
    batch.book(kind, key, source, net, memo)


async def book_now(
    conn: asyncpg.Connection,
    kind: EntryKind,
    key: str,
    source: tuple[str, uuid.UUID],
    net: Counter[Account],
    memo: str,
) -> None:
    """`book` outside a payment's batch (a true-up, an ops decision): posted at once."""
    entry = entry_of(kind, key, source, net, memo)
    if entry is not None:
        await post_entry(conn, entry)


async def to_unapplied(batch: Batch, key: str, posted: Posted, paid: int, why: str) -> None:
    """Money for a claim we cannot post (unmatched, ops): Cr unapplied_cash, and ops told."""
    posted.notes.append(why)
    net: Counter[Account] = Counter()
    net[("payer_clearing", None, None)] += paid
    net[("unapplied_cash", None, None)] -= paid
    await book(batch, "unmatched_remittance", key, ("remitted_claims", posted.id), net, why)


async def post_reversal(
    batch: Batch, key: str, clp: Claim, posted: Posted, original: q.Remitted
) -> None:
    """The negation of everything the original's entries booked (DESIGN.md "Reversal")."""
    posted.reversal_of, posted.outcome = original.id, "reversed"
    net: Counter[Account] = Counter()
    net.subtract(batch.nets.get(original.id, Counter()))
    if clp.paid_cents != -original.paid_cents:
        # The payer took back another amount than it paid: what the cash says goes to
        # unapplied cash beside the exact negation, for ops to settle.
        extra = clp.paid_cents + original.paid_cents
        net[("payer_clearing", None, None)] += extra
        net[("unapplied_cash", None, None)] -= extra
        posted.notes.append("the reversal's amount differs from the payment it reverses")
    await book(batch, "claim_remitted", key, ("remitted_claims", posted.id), net, "835 reversal")
    batch.took_back(original.claim_id, net)  # the original's recoupments given back


async def post_adjudication(
    batch: Batch, key: str, clp: Claim, posted: Posted, match: q.ClaimMatch
) -> None:
    """A processed claim: paid, partly paid or denied, its receivable brought to zero."""
    adjustments = every_adjustment(clp)
    # A PLB's WO/72/FB moves cash timing on the claim's receivable until the payer recovers
    # it: that part stays; the rest is what completion and corrections booked, less the
    # client's estimated share.
    timing = batch.timing.get(match.claim_id, 0)
    receivable = batch.receivables.get(match.claim_id, 0) - timing
    estimate = match.allowed_cents - receivable  # the client's share booked at completion
    paid, owed = clp.paid_cents, clp.patient_adjustments_cents
    rest = receivable - paid - (owed - estimate)  # = allowed - paid - patient responsibility
    losses = loss_shares(clp, match, rest)
    loss = sum(share for _, share, _ in losses)
    posted.true_up, posted.loss, posted.contractual = owed - estimate, loss, rest - loss
    posted.estimate = estimate
    line_denied = any(_denied(line.paid_cents, line.adjustments) for line in clp.lines)
    if clp.status == "4" or _denied(paid, adjustments):
        posted.outcome = "denied"
    elif loss > 0 or line_denied:
        posted.outcome = "partially_paid"
    else:
        posted.outcome = "paid"
    net: Counter[Account] = Counter()
    net[("payer_clearing", None, None)] += paid
    net[("client_receivable", match.client_id, None)] += owed - estimate
    net[("contractual_adjustment", None, None)] += rest - loss
    net[("claim_losses", None, None)] += loss
    net[("payer_receivable", match.payer_id, match.claim_id)] -= receivable
    await book(batch, "claim_remitted", key, ("remitted_claims", posted.id), net, "835 claim")
    others = sorted({a.reason for a in adjustments if a.group == "PR"} - PATIENT_CODES)
    if others:
        posted.notes.append(
            "patient responsibility PR-" + ", PR-".join(others) + ": ops confirm it first"
        )
    if clp.patient_responsibility_cents not in (None, owed):
        posted.notes.append("CLP05 differs from the PR adjustments")
    await _recoup(batch, key, posted, match, losses)


# A loss adjustment, its share of the claim's loss, and its line's REF*6R when the line is one
# of the claim's (None: a claim-level adjustment, or a line we cannot match).
Loss = tuple[Adjustment, int, str | None]


def loss_shares(clp: Claim, match: q.ClaimMatch, rest: int) -> list[Loss]:
    """Each loss adjustment, in file order, with its share of the claim's loss: at most the
    claim's remainder (`rest`, allowed less paid less patient responsibility), and a line's at
    most that line's own remainder (what completion booked for it, by REF*6R, less what the
    payer paid and the client owes on it). A denied line's charge above its booked amount would
    otherwise take the other lines' gap to the payer's allowed amount (contractual, never a
    loss) as loss, and recoup it. Claim-level adjustments and lines we cannot match share the
    claim's remainder."""
    pool = max(rest, 0)
    out: list[Loss] = []

    def take(adjustments: tuple[Adjustment, ...], cap: int, control: str | None) -> None:
        nonlocal pool
        for adjustment in adjustments:
            if is_loss(adjustment):
                share = min(adjustment.amount_cents, cap, pool)
                cap, pool = cap - share, pool - share
                out.append((adjustment, share, control))

    take(clp.adjustments, pool, None)
    for line in clp.lines:
        booked = match.line_allowed.get(line.control_number or "")
        if booked is None:
            take(line.adjustments, pool, None)
            continue
        owed = sum(a.amount_cents for a in line.adjustments if a.group == "PR")
        take(line.adjustments, max(booked - line.paid_cents - owed, 0), line.control_number)
    return out


async def _recoup(
    batch: Batch,
    key: str,
    posted: Posted,
    match: q.ClaimMatch,
    losses: list[Loss],
) -> None:
    """Each loss adjustment's share of the loss (`loss_shares`) by its CARC's policy: a line's
    recoupments together at most what the line earned the provider (its provider rate: a
    denied add-on gives back its own rate, never the platform's margin on it nor the paid
    lines' rate), and all of the claim's at most what its session earned them (the rest stays
    the platform's loss). Each line's rate is whole here: a claim is adjudicated only while no
    remittance of it stands (service.py), and a reversal gave back all its original recouped
    (`post_reversal`), so no earlier recoupment of the line is left to count."""
    facts = loss_facts(match)
    left = dict(match.line_rates)  # what each line may still give back
    for n, (adjustment, share, control) in enumerate(losses, start=1):
        if share <= 0:
            continue
        decision = decide_among(batch.policies, adjustment.group, adjustment.reason, facts)
        if decision.flag_ops:
            posted.notes.append(decision.reason_text)
        taken = min(share, batch.recoupable(match.claim_id))
        if control is not None:
            taken = min(taken, left.get(control, 0))
        if decision.decision != "recoup" or taken <= 0:
            continue
        if control is not None:
            left[control] -= taken
        net: Counter[Account] = Counter()
        net[("provider_payable", match.provider_id, None)] += taken
        net[("claim_losses", None, None)] -= taken
        source = ("remitted_claims", posted.id)
        await book(batch, "recoupment", f"{key}-r{n}", source, net, decision.reason_text)
        batch.took_back(match.claim_id, net)


async def post_provider_adjustment(
    batch: Batch, key: str, payment_id: uuid.UUID, n: int, plb: ProviderAdjustment
) -> bool:
    """One PLB pair: L6 to interest income, WO/72/FB to the claim they name, else unapplied
    cash. True when ops must look (an unknown code, or a claim we do not know)."""
    claim_id, payer_id = None, None
    if plb.reason in PLB_TO_CLAIM and plb.reference:
        match = batch.matches.get(plb.reference)
        if match is not None:
            claim_id, payer_id = match.claim_id, match.payer_id
        else:
            found = await q.get_claim_by_payer_number(batch.conn, plb.reference)
            if found is not None:
                claim_id = found
                payer_id = await q.get_claim_payer(batch.conn, found)
    account: AccountKind
    target: Account
    if plb.reason == "L6":
        account, target = "interest_income", ("interest_income", None, None)
    elif claim_id is not None:
        account, target = "payer_receivable", ("payer_receivable", payer_id, claim_id)
    else:
        account, target = "unapplied_cash", ("unapplied_cash", None, None)
    needs_ops = account == "unapplied_cash"
    await q.insert_provider_adjustment(
        batch.conn, payment_id, n, plb.position, plb.reason, plb.reference, plb.amount_cents,
        claim_id, account, needs_ops,
    )  # fmt: skip
    net: Counter[Account] = Counter()
    net[target] += plb.amount_cents
    net[("payer_clearing", None, None)] -= plb.amount_cents
    source = ("remittance_payments", payment_id)
    await book(batch, "provider_adjustment", f"{key}-plb{n}", source, net, f"PLB {plb.reason}")
    return needs_ops


async def record_claim_status(batch: Batch, clp: Claim, posted: Posted, trace: str) -> None:
    """The claim's status from what the 835 made of it (through the claims domain, in bulk)."""
    if posted.claim_id is None or posted.outcome not in (
        "paid", "partially_paid", "denied", "reversed"
    ):  # fmt: skip
        return
    reason = f"835 {trace}: CLP02 {clp.status}, {posted.outcome.replace('_', ' ')}"
    if clp.status in FORWARDED:
        reason += "; forwarded to another payer (crossover)"
    number = clp.payer_claim_number if posted.outcome != "reversed" else None
    batch.events.append(
        RemittanceEvent(posted.claim_id, posted.submission_id, posted.outcome, reason, number)  # type: ignore[arg-type]
    )
