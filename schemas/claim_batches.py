"""Claim batches as ops read them: the 837P files sent and what came back, per batch."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from schemas.common import Out

BatchListStatus = Literal["pending", "sent", "refused"]


class ClaimBatchOut(Out):
    """One 837P interchange sent to the clearinghouse (a payer's claims, at most 500)."""

    id: uuid.UUID
    payer_id: uuid.UUID
    status: BatchListStatus
    payload_id: uuid.UUID  # CORE PayloadID, the same on every try
    interchange_control: int  # ISA13
    group_control: int  # GS06
    transaction_control: str  # ST02
    claim_count: int
    created_at: datetime
    sent_at: datetime | None  # the clearinghouse's receipt came back
    ack_applied_at: datetime | None  # the 999 (or TA1)
    results_applied_at: datetime | None  # the 277CA
    last_error: str | None


class ClaimBatchFileOut(Out):
    """A file or envelope sent or received for a batch, without its body."""

    id: int
    direction: Literal["sent", "received"]
    payload_type: str  # CORE PayloadType: the 837P, a retrieval, a receipt, 999, TA1, 277CA
    payload_id: uuid.UUID
    error_code: str | None  # a CORE envelope error's
    error_message: str | None
    size_bytes: int
    at: datetime


class ClaimBatchDetailOut(Out):
    batch: ClaimBatchOut
    claim_ids: list[uuid.UUID]  # the claims whose versions went in the batch
    files: list[ClaimBatchFileOut]  # oldest first


class SubmissionsQueuedOut(Out):
    """`POST /claims/submissions`: payers whose ready claims were queued for a batch now."""

    payers_queued: int
