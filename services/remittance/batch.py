"""One 835 payment posted in a few statements: read once, decide claim by claim, write in bulk.

`posting` decides each CLP in file order exactly as it did when every claim read and wrote on
its own (about 15 statements a claim). What those decisions read is read here once for the
whole payment, its rows locked in the order of their ids: the claims CLP01 (and the PLBs) name,
the remittances that stand on them or that a reversal may negate, each claim's payer_receivable
and PLB timing, the recoupment policies of its CARCs, what each original's entries booked, what
each claim's session earned its provider and what its remittances took back. What they write is
staged, and what a later CLP of the same payment reads follows what the earlier
ones staged (a reversal then its correction, a claim paid twice): a staged remittance stands
until a staged reversal negates it, and a staged entry moves its claim's receivable and its
source's net. `flush_claims` and `flush` write the staged rows; the payment's transaction is the
file's, so a crash still rolls the whole file back.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import asyncpg

from schemas.ledger import EntryIn, EntryKind
from schemas.remittance import Claim, Remittance
from services.claims.service import RemittanceEvent, record_remittances
from services.ledger.service import (
    NetAccount,
    get_claim_receivables,
    get_sources_net,
    lines_from_net,
    post_entries,
)
from services.remittance.queries import posting as q
from services.remittance.recoupment import Policies, load_policies

# The entries a reversal negates (DESIGN.md "Reversal").
NEGATED: tuple[EntryKind, ...] = ("claim_remitted", "recoupment")
PLB_TO_CLAIM = frozenset({"WO", "72", "FB"})


@dataclass
class Batch:
    """A payment's state as its CLPs are posted in order, and the rows they staged."""

    conn: asyncpg.Connection
    payment_id: uuid.UUID
    payer_id: uuid.UUID | None  # the paying payer (1000A), when it is one of ours
    matches: dict[str, q.ClaimMatch]
    policies: Policies
    receivables: dict[uuid.UUID, int]
    timing: dict[uuid.UUID, int]
    nets: dict[uuid.UUID, Counter[NetAccount]]  # per remitted claim: what NEGATED booked
    # Per claim: what its session booked the provider, and what its remittances took back
    # (net of reversals); a recoupment takes at most the difference.
    earned: dict[uuid.UUID, int] = field(default_factory=dict)
    recouped: dict[uuid.UUID, int] = field(default_factory=dict)
    by_claim: defaultdict[uuid.UUID, list[q.Remitted]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_number: defaultdict[str, list[q.Remitted]] = field(default_factory=lambda: defaultdict(list))
    by_clm01: defaultdict[str, list[q.Remitted]] = field(default_factory=lambda: defaultdict(list))
    entries: list[EntryIn] = field(default_factory=list)
    claims: list[dict[str, object]] = field(default_factory=list)
    lines: list[q.LineRow] = field(default_factory=list)
    adjustments: list[q.AdjustmentRow] = field(default_factory=list)
    reversed: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    events: list[RemittanceEvent] = field(default_factory=list)

    def stands(self, remitted: q.Remitted) -> None:
        self.by_claim[remitted.claim_id].append(remitted)
        self.by_number[remitted.payer_claim_number].append(remitted)
        self.by_clm01[remitted.patient_control_number].append(remitted)

    def standing(self, claim_id: uuid.UUID) -> q.Remitted | None:
        """The claim's remittance that stands, if any (`lock_standing` of old)."""
        return next((r for r in reversed(self.by_claim[claim_id]) if not r.reversed), None)

    def original(
        self, payer_claim_number: str, clm01: str, payer_id: uuid.UUID | None
    ) -> q.Remitted | None:
        """What a reversal negates (DESIGN.md "Reversal": by CLP07, then by CLP01). A reversal
        repeats its original's CLP07 and CLP01, so both agreeing comes first; CLP07 alone only
        within the paying payer (payers number claims each their own way, so another payer's
        claim may carry the same number); then CLP01 alone."""
        standing = [r for r in self.by_number.get(payer_claim_number, ()) if not r.reversed]
        for remitted in standing:
            if remitted.patient_control_number == clm01:
                return remitted
        for remitted in standing:
            if payer_id is not None and remitted.payer_id == payer_id:
                return remitted
        return next((r for r in self.by_clm01.get(clm01, ()) if not r.reversed), None)

    def recoupable(self, claim_id: uuid.UUID) -> int:
        """What a recoupment on the claim may still take from its provider."""
        return max(self.earned.get(claim_id, 0) - self.recouped.get(claim_id, 0), 0)

    def took_back(self, claim_id: uuid.UUID, net: Counter[NetAccount]) -> None:
        """A staged entry of the claim's remittance moved its provider's payable by `net`."""
        cents = sum(v for (account, _, _), v in net.items() if account == "provider_payable")
        self.recouped[claim_id] = self.recouped.get(claim_id, 0) + cents

    def reverse(self, original: q.Remitted, reversal_id: uuid.UUID) -> None:
        original.reversed = True
        self.reversed.append((original.id, reversal_id))

    def book(
        self,
        kind: EntryKind,
        key: str,
        source: tuple[str, uuid.UUID],
        net: Counter[NetAccount],
        memo: str,
    ) -> None:
        """Stage one entry moving each account by `net` (debit +); none when nothing moves."""
        entry = entry_of(kind, key, source, net, memo)
        if entry is None:
            return
        self.entries.append(entry)
        for (account, _, claim_id), cents in net.items():
            if account == "payer_receivable" and claim_id is not None:
                self.receivables[claim_id] = self.receivables.get(claim_id, 0) + cents
        if kind in NEGATED and source[0] == "remitted_claims":
            self.nets.setdefault(source[1], Counter()).update(net)


def entry_of(
    kind: EntryKind, key: str, source: tuple[str, uuid.UUID], net: Counter[NetAccount], memo: str
) -> EntryIn | None:
    """The entry moving each account by `net` (debit +); None when nothing moves."""
    lines = lines_from_net(net)
    if len(lines) < 2:
        return None
    return EntryIn(
        kind=kind, idempotency_key=key, source_table=source[0], source_id=source[1],
        lines=lines, memo=memo[:500],
    )  # fmt: skip


def _wanted(remittance: Remittance) -> list[str]:
    """The CLM01s the payment names: its CLP01s and its PLBs' claim references."""
    found = {clp.patient_control_number for clp in remittance.claims}
    found |= {
        plb.reference for plb in remittance.provider_adjustments
        if plb.reason in PLB_TO_CLAIM and plb.reference
    }  # fmt: skip
    return sorted(found)


async def read_batch(
    conn: asyncpg.Connection,
    payment_id: uuid.UUID,
    payer_id: uuid.UUID | None,
    remittance: Remittance,
) -> Batch:
    """Everything the payment's CLPs read, in ten statements at most, their rows locked."""
    matches = await q.list_claim_matches(conn, _wanted(remittance))
    reversals = [clp for clp in remittance.claims if clp.status == "22"]
    numbers = sorted({clp.payer_claim_number for clp in reversals})
    clm01s = sorted({clp.patient_control_number for clp in reversals})
    claim_ids = sorted({m.claim_id for m in matches.values()})
    await q.lock_claims_postings(conn, claim_ids)
    remitted = (
        await q.lock_remitted(conn, claim_ids, numbers, clm01s) if claim_ids or reversals else []
    )
    more = sorted({r.claim_id for r in remitted} - set(claim_ids))
    if more:  # originals a reversal names by CLP07 on claims CLP01 did not name
        await q.lock_claims_postings(conn, more)
    originals = [
        r.id
        for r in remitted
        if r.payer_claim_number in numbers or r.patient_control_number in clm01s
    ]
    nets = (
        await get_sources_net(conn, "remitted_claims", originals, list(NEGATED))
        if originals
        else {}
    )
    batch = Batch(
        conn=conn, payment_id=payment_id, payer_id=payer_id, matches=matches,
        policies=await load_policies(conn, _loss_codes(remittance.claims)),
        receivables=await get_claim_receivables(conn, claim_ids) if claim_ids else {},
        timing=await q.list_plb_on_claims(conn, claim_ids) if claim_ids else {},
        nets={source: Counter(net) for source, net in nets.items()},
    )  # fmt: skip
    locked = claim_ids + more
    figures = await q.list_provider_figures(conn, locked) if locked else {}
    for claim_id, (earned, recouped) in figures.items():
        batch.earned[claim_id], batch.recouped[claim_id] = earned, recouped
    for row in remitted:
        batch.stands(row)
    return batch


def _loss_codes(claims: tuple[Claim, ...]) -> list[tuple[str, str]]:
    pairs = {(a.group, a.reason) for clp in claims for a in clp.adjustments}
    pairs |= {(a.group, a.reason) for clp in claims for line in clp.lines for a in line.adjustments}
    return sorted(pairs)


async def flush_claims(batch: Batch) -> None:
    """The staged remitted claims, their lines and adjustments, and what they reversed."""
    conn = batch.conn
    if batch.claims:
        await q.insert_remitted_claims(conn, batch.claims)
    if batch.lines:
        await q.insert_lines(conn, batch.lines)
    if batch.adjustments:
        await q.insert_adjustments(conn, batch.adjustments)
    if batch.reversed:
        await q.update_reversed(conn, batch.reversed)


async def flush(batch: Batch) -> None:
    """The staged journal entries, then the claims' statuses (through the claims domain)."""
    await post_entries(batch.conn, batch.entries)
    await record_remittances(batch.conn, batch.events)
