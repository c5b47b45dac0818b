"""What ops settle after the 835 posting: files the clearinghouse served that we refused, and
reversals still waiting for their correction (issue 16 items 2 and 3)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from schemas.common import Base, Out, text

RefusalStatus = Literal["open", "resolved"]
RefusalFilter = Literal["open", "resolved", "all"]


class RefusalOut(Out):
    """An 835 the clearinghouse served and the posting refused: nothing in it was posted."""

    id: uuid.UUID
    created_at: datetime  # when the worker received it
    clearinghouse: str  # our receiver id there
    isa13: str | None  # the interchange control number; None: unreadable (the worker is stuck)
    sha256: str
    byte_size: int
    error: str  # why, naming the segment and its position ("CLP (segment 57): ...")
    segment: str | None  # the segment id the file broke at (None: not X12, or no readable ISA13)
    position: int | None  # its position in the file, ISA = 1
    status: RefusalStatus
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    resolution_note: str | None


class RefusalResolutionIn(Base):
    """Ops dismiss a refusal once they have settled it with the payer (a repaired file
    uploaded through POST /remittances, or one the payer sent again)."""

    note: Annotated[str, text(500)]


class AwaitingCorrectionOut(Out):
    """A claim whose payment the payer reversed (CLP02 22) with no adjudication since."""

    id: uuid.UUID  # the reversal (a remitted claim)
    created_at: datetime  # when the reversal was posted
    claim_id: uuid.UUID
    claim_number: str
    provider_id: uuid.UUID
    payer_id: uuid.UUID
    payer_name: str
    reversal_of: uuid.UUID  # the remitted claim it negated
    reversed_cents: int  # what the payer took back: the reversal's CLP04, negated
    payer_claim_number: str  # CLP07 of the reversal
    trace_number: str  # of the payment that carried it
    payment_date: date
    days_waiting: int  # whole days since it was posted
