"""Who carries a loss: a CARC's recoupment policy applied to the facts of one claim.

The platform pays providers before insurers pay, so a denial or a reversal is the platform's
loss unless the provider caused it (DESIGN.md "Who carries a loss"). The posting asks
`decide_loss` for each adjustment that lost money: `recoup` books Dr provider_payable,
Cr claim_losses with the reason on the provider's statement; `absorb` leaves the loss with the
platform. A conditional policy recoups only when its condition holds on the facts; a fact the
posting could not establish never recoups (absorb, and ops are told).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg

from schemas.recoupment import (
    CARC_CODE_PATTERN,
    Condition,
    Decision,
    LossDecision,
    LossFacts,
    RecoupmentPolicyRow,
)
from services.remittance import queries

# CARC 45, "charge exceeds fee schedule / maximum allowable", is never a loss, whatever its
# group: receivables are booked at the allowed amount, so it only moves the gap between our
# charge and the allowed amount to contractual_adjustment (DESIGN.md "Rates"). So it has no row
# in recoupment_policies (a CHECK refuses one) and the API refuses to create it.
NEVER_A_LOSS_CODE = "45"
GROUPS = ("CO", "PI", "OA", "PR")
_CODE = re.compile(CARC_CODE_PATTERN)

# A session confirmed with fewer days than this left of the payer's filing window was confirmed
# late: the platform holds a claim a day before its batch, and a claim a payer rejects (999 or
# 277CA) needs a day or two to come back, be corrected and go again, all inside the window.
FILING_MARGIN_DAYS = 7


@dataclass(frozen=True)
class _Check:
    """One named condition: the LossFacts field it reads and its words."""

    fact: str  # the LossFacts attribute
    holds_when: bool  # the fact's value that puts the provider at fault
    rule: str  # "recoup when <rule>"
    met: str
    not_met: str
    unknown: str


CONDITIONS: dict[Condition, _Check] = {
    "no_authorization_recorded": _Check(
        fact="authorization_recorded",
        holds_when=False,
        rule="the provider had recorded no authorization for the session",
        met="no prior authorization had been recorded for the session",
        not_met="a prior authorization had been recorded for the session",
        unknown="whether an authorization had been recorded for the session is not known",
    ),
    "confirmed_late": _Check(
        fact="confirmed_late",
        holds_when=True,
        rule="the session was confirmed too late to file within the payer's time limit",
        met="the session was confirmed too late to file within the payer's time limit",
        not_met="the session was confirmed in time to file within the payer's time limit",
        unknown="when the session was confirmed against the payer's time limit is not known",
    ),
    "licence_lapsed": _Check(
        fact="licence_lapsed",
        holds_when=True,
        rule="the provider's licence had lapsed on the date of service",
        met="the provider's licence had lapsed on the date of service",
        not_met="the provider's licence was current on the date of service",
        unknown="whether the provider's licence was current on the date of service is not known",
    ),
}


def is_carc(group: str, code: str) -> bool:
    """Whether `group` and `code` could name a row (an adjustment group and a CARC's shape)."""
    return group in GROUPS and _CODE.fullmatch(code) is not None


def carc_label(group: str, code: str) -> str:
    """ "CO-50"; a value that is no CARC at all is not repeated into a statement."""
    return f"{group}-{code}" if is_carc(group, code) else "an unrecognised adjustment reason"


def rule_text(decision: Decision, condition: Condition | None) -> str:
    """The policy in words, as ops read it."""
    if condition is not None:
        return f"recoup when {CONDITIONS[condition].rule}; absorb otherwise"
    if decision == "recoup":
        return "recoup from the provider"
    return "absorb: the platform carries the loss"


def confirmed_late(
    service_date: date,
    confirmed_on: date,
    timely_filing_days: int,
    margin_days: int = FILING_MARGIN_DAYS,
) -> bool:
    """Whether the provider confirmed the session with less than `margin_days` left of the
    payer's filing window (which closes `timely_filing_days` after the date of service, as
    completion counts it)."""
    closes = service_date + timedelta(days=timely_filing_days)
    return confirmed_on > closes - timedelta(days=margin_days)


def _decision(
    policy: RecoupmentPolicyRow, decision: Decision, because: str | None, *, flag: bool = False
) -> LossDecision:
    who = "Recouped from the provider" if decision == "recoup" else "Absorbed by the platform"
    reason = f"{who}: {policy.description} ({policy.group}-{policy.code})"
    return LossDecision(
        decision=decision,
        policy_id=policy.id,
        reason_text=reason + (f"; {because}" if because else ""),
        flag_ops=flag,
    )


def decide(
    group: str, code: str, policy: RecoupmentPolicyRow | None, facts: LossFacts
) -> LossDecision:
    """Who carries the loss of adjustment `group`-`code` under `policy` (its row, or None)."""
    if code == NEVER_A_LOSS_CODE:
        return LossDecision(
            decision="not_a_loss",
            policy_id=None,
            reason_text=f"{carc_label(group, code)}: the charge over the payer's allowed amount"
            " is not a loss",
            flag_ops=False,
        )
    if policy is None:
        return LossDecision(
            decision="absorb",
            policy_id=None,
            reason_text=f"Absorbed by the platform: {carc_label(group, code)} has no recoupment"
            " policy; flagged to ops",
            flag_ops=True,
        )
    if policy.condition is None:
        return _decision(policy, policy.decision, None)
    check = CONDITIONS[policy.condition]
    fact: bool | None = getattr(facts, check.fact)
    if fact is None:
        return _decision(policy, "absorb", f"{check.unknown}; flagged to ops", flag=True)
    if fact == check.holds_when:
        return _decision(policy, policy.decision, check.met)
    return _decision(policy, "absorb", check.not_met)


def _normal(group: str, code: str) -> tuple[str, str]:
    return group.strip().upper(), code.strip().upper()


Policies = dict[tuple[str, str], RecoupmentPolicyRow]


async def load_policies(conn: asyncpg.Connection, pairs: list[tuple[str, str]]) -> Policies:
    """The policies of these (group, CARC) pairs, read once for a whole 835 payment."""
    wanted = {
        (g, c) for g, c in (_normal(*pair) for pair in pairs)
        if c != NEVER_A_LOSS_CODE and is_carc(g, c)
    }  # fmt: skip
    if not wanted:
        return {}
    return {(p.group, p.code): p for p in await queries.list_policies_for(conn, sorted(wanted))}


def decide_among(policies: Policies, group: str, code: str, facts: LossFacts) -> LossDecision:
    """`decide_loss` with the policies read by `load_policies`."""
    group, code = _normal(group, code)
    return decide(group, code, policies.get((group, code)), facts)


async def decide_loss(
    conn: asyncpg.Connection, group: str, code: str, facts: LossFacts
) -> LossDecision:
    """Who carries the loss of one CAS adjustment (group, CARC) of a denied or reversed claim."""
    return decide_among(await load_policies(conn, [(group, code)]), group, code, facts)
