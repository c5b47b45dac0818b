"""A session's insurance answer explained to its client (GET /therapy-sessions/{id}/explanation)."""

from __future__ import annotations

import uuid
from typing import Literal

from schemas.common import Out
from schemas.remittance_posting import RemarkOut

# Where the session's billing stands, as the client reads it.
ExplanationStatus = Literal[
    "not_billed_yet",  # not confirmed (scheduled, cancelled, no-show): nothing billed
    "not_billed_to_insurance",  # confirmed without a claim (self-pay, out of network, on hold)
    "awaiting_insurer",  # the claim is with the insurer, no answer yet
    "paid",
    "partially_paid",
    "denied",
    "reversed",  # the insurer took its payment back; its corrected answer is awaited
    "under_review",  # the insurer answered and ops review the answer first
]
# What happens next for the client: a further charge of the difference, a refund of it,
# nothing, our billing team confirming the answer first, or waiting for the insurer.
NextStep = Literal["charge", "refund", "nothing", "review", "wait"]


class OwedReason(Out):
    """One part of what the client owes, in words ("your copay")."""

    code: str  # the PR adjustment's CARC
    amount_cents: int
    text: str


class DeniedReason(Out):
    """Why the insurer did not pay (part of) the claim, in words, with its remarks."""

    group: str
    code: str
    amount_cents: int
    text: str
    remarks: list[RemarkOut]


class SessionExplanationOut(Out):
    """What the insurer was billed, allowed and paid, what the client owes and why, against
    the estimate; `lines` says it in sentences, the figures are integer cents."""

    therapy_session_id: uuid.UUID
    status: ExplanationStatus
    lines: list[str]
    billed_cents: int | None  # what the insurer was billed (None: no claim)
    allowed_cents: int | None  # what the insurer allows for it (None: no answer yet)
    insurer_paid_cents: int | None
    you_owe_cents: int | None  # the client's share by the insurer's answer
    owed_because: list[OwedReason]
    estimated_cents: int  # the share estimated and charged when the session was confirmed
    difference_cents: int | None  # you_owe - estimated: > 0 a further charge, < 0 a refund
    next_step: NextStep
    denied_because: list[DeniedReason]
