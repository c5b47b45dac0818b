"""A payout's statement (issue 18 item 4): one line per session it pays and one per
adjustment (an edit, a recoupment with its reason, a reversed transfer), adding up to the
payout's amount."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar, Literal

import msgspec

from schemas.common import Out
from schemas.payout_runs import PayoutStatus

StatementLineKind = Literal["session", "edit", "recoupment", "transfer_reversal", "adjustment"]


class PayoutStatementLineOut(Out):
    """A session (its date of service, the client's initials only, its CPT codes and what the
    provider is paid for it) or an adjustment (what it is, in words)."""

    kind: StatementLineKind
    date: date  # the date of service of the session it concerns, else the adjustment's own
    session_id: uuid.UUID | None
    client_initials: str | None  # "J.L."; never the name
    cpt_codes: list[str]
    description: str
    amount_cents: int  # what the line adds to the payout (negative: taken back)


class PayoutStatementOut(Out):
    payout_id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str
    run_date: date
    period_end: datetime  # the cutoff
    status: PayoutStatus
    paid_at: datetime | None
    stripe_transfer_id: str | None
    time_zone: str  # the dates' time zone (settings.statement_time_zone)
    lines: list[PayoutStatementLineOut]
    sessions_cents: int  # the session lines
    adjustments_cents: int  # every other line
    total_cents: int  # = the payout's amount
    issued_at: datetime


class PayoutNoticeJob(msgspec.Struct, frozen=True, kw_only=True):
    """The provider's payout notice, its statement's PDF attached (sent once the transfer is
    paid; ids only in the payload)."""

    job: ClassVar[str] = "send_payout_notice"
    payout_id: uuid.UUID
