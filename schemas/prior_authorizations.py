"""Prior authorizations: visits a payer approved for a client, for some CPT codes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from msgspec import Meta

from schemas.common import X12_ID, Base, Out
from schemas.payers import CptCode

# REF*G1's value: the payer's authorization number.
AuthorizationNumber = Annotated[str, Meta(min_length=1, max_length=50, pattern=X12_ID)]


class PriorAuthorizationIn(Base, kw_only=True):
    client_id: uuid.UUID
    payer_id: uuid.UUID
    number: AuthorizationNumber
    cpt_codes: Annotated[list[CptCode], Meta(min_length=1, max_length=20)]
    visits_authorized: Annotated[int, Meta(ge=1, le=1000)]
    valid_from: date
    valid_to: date


class PriorAuthorizationOut(Out):
    id: uuid.UUID
    client_id: uuid.UUID
    payer_id: uuid.UUID
    number: str
    cpt_codes: list[str]
    visits_authorized: int
    visits_used: int
    valid_from: date
    valid_to: date
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
