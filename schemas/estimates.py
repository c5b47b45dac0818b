"""Cost estimates: what a session costs the client and the insurer, and the lines that say why.

Money is integer cents. Every explanation line that uses a figure from the 271 names the service
type it came from (`MH`, else `30`), as `schemas.eligibility` records it. The engine computes
figures (`SessionFigures`, `ProjectionFigures`, whose `Fact`s hold what each line's text needs);
the text is written only when an estimate is rendered for a caller (`SessionEstimate`).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

import msgspec

from schemas.common import Out
from schemas.eligibility import CarveOut, Network, Source

ExplanationKind = Literal[
    "deductible",
    "copay",
    "coinsurance",
    "oop_cap",
    "visit_limit",
    "plan_year_reset",
    "out_of_network",
    "carve_out",
    "coverage",  # inactive coverage, a rejection, or no benefit in the tier asked for
    "prior_auth",
    "missing",  # a figure the estimate needed and the 271 (or ops) did not give
    "note",  # a fallback or ambiguity the 271 parser met (Benefits.notes)
]

# Where a remaining amount came from: the payer's individual or family remaining figure (the
# smaller applies), the plan year's full total after a reset, or the total assumed unused
# because the payer gave a total and no remaining or year-to-date figure.
Basis = Literal["individual", "family", "reset", "assumed_total"]


class Explanation(Out, kw_only=True):
    kind: ExplanationKind
    text: str
    amount_cents: int | None = None
    source: Source | None = None


# gc=False: value objects made by the thousand per second that can hold no reference cycle.
class Remaining(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What is left of a deductible, an out-of-pocket maximum (cents) or a visit limit (visits)."""

    value: int
    source: Source
    basis: Basis
    # With both IND and FAM remaining amounts: the larger one, which did not apply. A session
    # lowers both, so the smaller stays the one that applies.
    other: int | None = None


# An accumulator an estimate reads.
Figure = Literal["deductible", "out_of_pocket", "visits"]


class AccumulatorState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The running figures one network tier's estimates read and lower, for one plan year."""

    network: Network
    year_end: date  # the last day of the plan year these figures belong to
    deductible: Remaining | None = None  # None: the payer reported no deductible
    out_of_pocket: Remaining | None = None
    visits: Remaining | None = None  # None: no visit limit reported
    # Figures not known in this plan year: after a plan year's end, those the 271 gave only as
    # remaining amounts, with no plan-year total to reset to. Sessions then get no estimate.
    unknown: tuple[Figure, ...] = ()


class SessionEstimate(Out, kw_only=True):
    """One session's estimate, or the reason there is none.

    In network `price_cents` is the payer's allowed amount; out of network it is the provider's
    self-pay rate, which the client pays in full (`insurer_cents` 0) and may claim back with a
    superbill: `expected_reimbursement_cents`. Always client + insurer = price when estimated.
    In network, only ops see the price, the insurer's share and the allowed amount (None for a
    provider or client: they would give the contracted rate away).
    """

    session_date: date
    status: Literal["estimated", "not_estimated"]
    network: Network | None = None
    price_cents: int | None = None
    client_cents: int | None = None
    insurer_cents: int | None = None
    allowed_cents: int | None = None  # the plan's allowed amount used (OON: for reimbursement)
    expected_reimbursement_cents: int | None = None
    reason: str | None = None  # why there is no estimate, or no expected reimbursement
    retry_later: bool = False  # the payer could not answer now (AAA 42/80)
    ask: CarveOut | None = None  # a carve-out: who to ask instead
    before: AccumulatorState | None = None
    after: AccumulatorState | None = None
    lines: list[Explanation] = []


class Projection(Out, kw_only=True):
    """The next sessions in date order, each starting from the state the one before left."""

    sessions: list[SessionEstimate]
    client_total_cents: int  # over the estimated sessions
    insurer_total_cents: int | None  # None: not shown to this caller (ops only)
    complete: bool  # every session has an estimate


# What an explanation line says, finer than its ExplanationKind: the text is chosen by this.
FactKind = Literal[
    "rejected",  # args: (rejections,)
    "inactive",  # args: (plan_end or None,)
    "unknown_status",
    "carve_out",  # args: (CarveOut,)
    "no_in_network",  # args: (the plan covers it out of network: bool,)
    "note",  # args: (text,)
    "prior_auth",
    "plan_year_reset",  # args: (the ended year's end, the reset AccumulatorState)
    "reset_unknown",  # args: (the ended year's end, the new year's end, unknown figures)
    "no_fee_schedule",
    "no_self_pay",
    "deductible",  # amount applied; args: (price, Remaining)
    "no_deductible",
    "copay",  # amount charged; args: (copay, rest, period, coinsurance also given or None)
    "coinsurance",  # amount charged; args: (Fraction, rest, the $0 copay beside it or None)
    "no_cost_share",  # args: (rest,)
    "oop_cap",  # amount taken off; args: (Remaining, uncapped share)
    "no_out_of_pocket",
    "visit",  # args: (Remaining, period)
    "visits_used_up",  # amount owed (the allowed amount)
    "self_pay",  # amount: the self-pay rate
    "oon_allowed",  # amount: the allowed amount used; args: (OON allowed, self-pay rate)
    "reimbursement",  # amount: the expected reimbursement
    "no_oon_benefit",
    "no_oon_allowed",
    "visit_limit_used",  # no reimbursement: the visit limit is used up
]


class Fact(msgspec.Struct, frozen=True, gc=False):
    """An explanation line (or a reason) before its text: what it states and what it needs."""

    kind: FactKind
    amount: int | None = None
    source: Source | None = None
    args: tuple[Any, ...] = ()


class SessionFigures(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One session's figures (SessionEstimate's, with `Fact`s where it has text)."""

    session_date: date
    status: Literal["estimated", "not_estimated"]
    network: Network | None = None
    price_cents: int | None = None
    client_cents: int | None = None
    insurer_cents: int | None = None
    allowed_cents: int | None = None
    expected_reimbursement_cents: int | None = None
    reason: Fact | None = None
    retry_later: bool = False
    ask: CarveOut | None = None
    before: AccumulatorState | None = None
    after: AccumulatorState | None = None
    facts: tuple[Fact, ...] = ()


class ProjectionFigures(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A projection's figures (Projection's, before its text is written)."""

    sessions: list[SessionFigures]
    client_total_cents: int
    insurer_total_cents: int
    complete: bool


class CompletionShare(msgspec.Struct, frozen=True, kw_only=True):
    """What a completion books from the latest benefit check (services/eligibility).

    `coverage`: in or out of network; `carve_out` or `unknown` when the check says another
    payer handles mental health or cannot say; `unchecked` when no check was ever answered
    (the client's share is then 0 and the 835's patient responsibility settles it).
    """

    coverage: Literal["in", "out", "carve_out", "unknown", "unchecked"]
    client_cents: int
    benefit_check_id: uuid.UUID | None
