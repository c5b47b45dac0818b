"""A session's insurance answer in plain words, for its client (issue 16 item 7).

What the insurer was billed, allowed and paid, what the client owes and why (each PR
adjustment in words), the share estimated and charged at confirmation, the difference and
what happens next. The difference is what posting the 835 moved between the payer's and the
client's receivable (the standing remittances' `true_up_cents`): a further charge when
positive, a refund when negative, which the payments issue carries out. Only PR-1/2/3 are
charged automatically (DESIGN.md "Denial"): another PR reason is confirmed by ops first, and
the explanation says so instead of promising a charge.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

from schemas.explanations import (
    DeniedReason,
    ExplanationStatus,
    NextStep,
    OwedReason,
    SessionExplanationOut,
)
from schemas.remittance import Adjustment
from schemas.remittance_posting import AdjustmentOut, RemittedClaimOut, RemittedClaimRow
from schemas.therapy_sessions import SessionOut
from services.core import audit
from services.core.auth import Actor
from services.ledger.service import get_source_net
from services.remittance import posting, service
from services.remittance.queries import reads
from services.therapy_sessions.service import get_session

# The client's own words for the shares their plan gives them.
_YOURS = {"1": "your deductible", "2": "your coinsurance", "3": "your copay"}
_AWAITED: dict[str, str] = {
    "scheduled": "has not taken place yet",
    "cancelled": "was cancelled",
    "no_show": "was marked as missed",
}


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


async def explain_session(
    conn: asyncpg.Connection, actor: Actor, session_id: uuid.UUID
) -> SessionExplanationOut:
    """The session's client, its provider and ops; another's session is not found (404)."""
    session = await get_session(conn, actor, session_id)  # scoped and audited
    claims = await reads.list_session_claims(conn, session.id)
    rows = [
        row for claim_id, _ in claims for _, _, row in await reads.list_claims_of_claim(
            conn, claim_id)
    ]  # fmt: skip
    if rows:
        await audit.record(conn, actor, "read", service.CLAIM_ENTITY, [r.id for r in rows])
    stands = service.standing(rows)
    if stands:
        return _answered(session.id, await service.with_adjustments(conn, rows), stands)
    estimated = await _estimate(conn, session, [claim_id for claim_id, _ in claims])
    billed = sum(charge for _, charge in claims) if claims else None
    if not claims and session.status != "confirmed":
        why = _AWAITED.get(session.status, "is not confirmed")
        lines = [f"This session {why}: nothing has been billed for it."]
        return _waiting(session.id, "not_billed_yet", lines, None, estimated, "nothing")
    if not claims:
        return _not_insured(session.id, estimated)
    if not rows:
        lines = [
            f"We billed your insurer {money(billed or 0)} for this session;"
            " it has not answered yet.",
            _estimated_line(estimated)
            + " Once your insurer answers, we charge or refund any difference.",
        ]
        return _waiting(session.id, "awaiting_insurer", lines, billed, estimated, "wait")
    # Nothing stands: a reversal awaits its correction (rows of one instant have no order).
    reversals = [r for r in rows if r.reversal_of is not None]
    if reversals:
        taken = -sum(r.paid_cents for r in reversals)
        lines = [
            f"Your insurer took back its payment of {money(taken)} to process the claim again.",
            "We are waiting for its corrected answer; nothing changes for you until then.",
        ]
        return _waiting(session.id, "reversed", lines, billed, estimated, "wait")
    lines = [
        "Your insurer has answered, and our billing team is checking its answer before"
        " anything changes for you.",
        _estimated_line(estimated),
    ]
    return _waiting(session.id, "under_review", lines, billed, estimated, "review")


def _estimated_line(estimated: int) -> str:
    return (
        f"When the session was confirmed we estimated your share at {money(estimated)}"
        " and charged that."
    )


def _waiting(
    session_id: uuid.UUID,
    status: ExplanationStatus,
    lines: list[str],
    billed: int | None,
    estimated: int,
    next_step: NextStep,
) -> SessionExplanationOut:
    """Before the insurer's answer stands: the estimate is all there is."""
    return SessionExplanationOut(
        therapy_session_id=session_id, status=status, lines=lines, billed_cents=billed,
        allowed_cents=None, insurer_paid_cents=None, you_owe_cents=None, owed_because=[],
        estimated_cents=estimated, difference_cents=None, next_step=next_step,
        denied_because=[],
    )  # fmt: skip


def _not_insured(session_id: uuid.UUID, estimated: int) -> SessionExplanationOut:
    lines = ["This session was not billed to an insurer."]
    if estimated:
        lines.append(f"Your charge for it is {money(estimated)}.")
        step: NextStep = "nothing"
    else:
        lines.append(
            "Nothing has been charged for it yet: we are checking your coverage, and if we"
            " bill your insurer, its answer will show here."
        )
        step = "wait"
    return _waiting(session_id, "not_billed_to_insurance", lines, None, estimated, step)


async def _estimate(conn: asyncpg.Connection, session: SessionOut, claims: list[uuid.UUID]) -> int:
    """The client's share the session booked: its completion and edits, its claims'
    corrections and voids (the client_receivable lines, debits positive)."""
    lines = await get_source_net(
        conn, "therapy_sessions", session.id, ["completion", "completion_edited"]
    )
    for claim_id in claims:
        lines += await get_source_net(conn, "claims", claim_id, ["claim_corrected", "claim_voided"])
    return sum(
        line.amount_cents if line.side == "debit" else -line.amount_cents
        for line in lines
        if line.account.kind == "client_receivable" and line.account.owner_id == session.client_id
    )


def _owed(adjustments: Iterable[AdjustmentOut]) -> list[OwedReason]:
    return [
        OwedReason(code=a.code, amount_cents=a.amount_cents, text=_YOURS.get(a.code, a.reason_text))
        for a in adjustments
        if a.group == "PR" and a.amount_cents != 0
    ]


def _denied(adjustments: Iterable[AdjustmentOut]) -> list[DeniedReason]:
    return [
        DeniedReason(
            group=a.group,
            code=a.code,
            amount_cents=a.amount_cents,
            text=a.reason_text,
            remarks=a.remarks,
        )
        for a in adjustments
        if posting.is_loss(Adjustment(group=a.group, reason=a.code, amount_cents=a.amount_cents))
    ]


def _status(stands: list[RemittedClaimRow]) -> ExplanationStatus:
    outcomes = {c.outcome for c in stands}
    if outcomes == {"denied"}:
        return "denied"
    return "paid" if outcomes == {"paid"} else "partially_paid"


def _answered(
    session_id: uuid.UUID, full: list[RemittedClaimOut], stands: list[RemittedClaimRow]
) -> SessionExplanationOut:
    """The insurer's standing answer: its figures and the sentences that say them."""
    ids = {c.id for c in stands}
    adjustments = [a for c in full if c.claim.id in ids for a in c.adjustments]
    paid = sum(c.paid_cents for c in stands)
    owes = sum(c.patient_adjustments_cents for c in stands)
    difference = sum(c.true_up_cents for c in stands)
    billed = sum(c.charge_cents for c in stands)
    owed, denied, status = _owed(adjustments), _denied(adjustments), _status(stands)
    lines = []
    if any(c.claim.reversal_of is not None for c in full):
        lines.append("Your insurer processed this claim again and corrected its first answer.")
    lines.append(f"We billed your insurer {money(billed)} for this session.")
    if status == "denied":
        lines.append("Your insurer denied the claim and paid nothing for it.")
    else:
        lines.append(f"Your insurer allows {money(paid + owes)} for it and paid {money(paid)}.")
    lines += _denial_lines(denied)
    lines.append(_owed_line(owes, owed))
    lines.append(_estimated_line(owes - difference))
    next_step, sentence = _next(difference, owed)
    lines.append(sentence)
    return SessionExplanationOut(
        therapy_session_id=session_id, status=status, lines=lines, billed_cents=billed,
        allowed_cents=paid + owes, insurer_paid_cents=paid, you_owe_cents=owes,
        owed_because=owed, estimated_cents=owes - difference, difference_cents=difference,
        next_step=next_step, denied_because=denied,
    )  # fmt: skip


def _denial_lines(denied: list[DeniedReason]) -> list[str]:
    if not denied:
        return []
    lines = []
    for reason in denied:
        remarks = "".join(f" ({remark.text})" for remark in reason.remarks)
        lines.append(f"It did not pay {money(reason.amount_cents)} because {reason.text}{remarks}.")
    lines.append(
        "Our billing team works on every denial: we correct and resend the claim or appeal"
        " it. You are not billed for what the insurer did not pay."
    )
    return lines


def _owed_line(owes: int, owed: list[OwedReason]) -> str:
    if owes == 0:
        return "Under your plan you owe nothing for this session."
    parts = "; ".join(f"{money(o.amount_cents)} for {o.text}" for o in owed)
    return f"Under your plan you owe {money(owes)}: {parts}."


def _next(difference: int, owed: list[OwedReason]) -> tuple[NextStep, str]:
    others = [o for o in owed if o.code not in posting.PATIENT_CODES]
    if others:
        why = "; ".join(o.text for o in others)
        return "review", (
            f"Part of what you owe ({why}) is one our billing team confirms with your insurer"
            " before charging it: we will tell you before anything is charged."
        )
    if difference > 0:
        return "charge", (
            f"So you owe {money(difference)} more than the estimate: we will charge the"
            " difference to your card on file."
        )
    if difference < 0:
        return "refund", (
            f"So you owe {money(-difference)} less than the estimate: we will refund the"
            " difference to your card."
        )
    return "nothing", "That is the estimate: nothing more will be charged or refunded."
