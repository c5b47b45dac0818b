"""Who carries a loss: recoupment policies by CARC, their changes, and a loss's decision."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from schemas.common import Base, Out, text

# X12 claim adjustment group codes: contractual obligation, payer initiated reduction, other
# adjustment, patient responsibility.
CarcGroup = Literal["CO", "PI", "OA", "PR"]
# A claim adjustment reason code: 1 to 3 digits without a leading zero, or a letter and one or
# two digits (B7, P14). The API takes either case and stores upper case.
CARC_GROUP_PATTERN = r"^(CO|PI|OA|PR|co|pi|oa|pr)$"
CARC_CODE_PATTERN = r"^([1-9][0-9]{0,2}|[A-Za-z][0-9]{1,2})$"
Decision = Literal["recoup", "absorb"]
# The facts a condition reads (LossFacts). A conditional row recoups when its condition holds
# and absorbs when it does not: every condition names a way the provider was at fault.
Condition = Literal["no_authorization_recorded", "confirmed_late", "licence_lapsed"]
PolicyAction = Literal["create", "update", "delete"]


class RecoupmentPolicyIn(Base, kw_only=True):
    """The whole policy of one CARC (PUT replaces it)."""

    decision: Decision
    condition: Condition | None = None  # only with `recoup`: recoup when it holds, else absorb
    description: Annotated[str, text(200)]  # the reason in plain words, for statements


class RecoupmentPolicyRow(Out):
    """A stored policy, as the decision reads it."""

    id: uuid.UUID
    group: CarcGroup
    code: str
    decision: Decision
    condition: Condition | None
    description: str
    is_default: bool  # seeded from DESIGN.md: may be changed, not deleted
    created_at: datetime
    updated_at: datetime
    updated_by: uuid.UUID | None  # None: as the migration seeded it


class RecoupmentPolicyOut(RecoupmentPolicyRow):
    rule: str  # the decision in words: "recoup when ..., absorb otherwise"


class PolicyTerms(msgspec.Struct, frozen=True, kw_only=True):
    """What a change replaces: the before and after of a history row."""

    decision: Decision
    condition: Condition | None
    description: str


class RecoupmentPolicyChangeOut(Out):
    id: uuid.UUID
    policy_id: uuid.UUID
    group: CarcGroup
    code: str
    action: PolicyAction
    before: PolicyTerms | None  # None: created
    after: PolicyTerms | None  # None: deleted
    changed_by: uuid.UUID
    created_at: datetime  # when it changed
    request_id: str | None  # the X-Request-ID of the change


class LossFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the posting knows about the claim whose loss is decided; None = not known.

    A condition whose fact is not known never recoups: the platform absorbs and tells ops.
    """

    # Did the session carry a prior authorization the provider recorded (REF*G1 on the claim)?
    authorization_recorded: bool | None = None
    # Was the session confirmed too late for the platform to file within the payer's timely
    # filing window (recoupment.confirmed_late computes it)?
    confirmed_late: bool | None = None
    # Had the rendering provider's licence for the session's state lapsed on the date of service?
    licence_lapsed: bool | None = None


LossDecisionKind = Literal["recoup", "absorb", "not_a_loss"]


class LossDecision(msgspec.Struct, frozen=True, kw_only=True):
    """Who carries one adjustment's loss, and why in plain words (the statement's reason)."""

    decision: LossDecisionKind  # not_a_loss: CARC 45, the charge over the allowed amount
    policy_id: uuid.UUID | None  # the row that decided; None: no row (unknown CARC or 45)
    reason_text: str
    flag_ops: bool  # the CARC is unknown, or a fact the condition needs was not known
