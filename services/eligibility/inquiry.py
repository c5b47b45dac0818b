"""What a 270 asks, from the stored policy, client, payer and provider (no I/O): the request,
and the check that every stored value can be carried in an X12 file at all."""

from __future__ import annotations

import re
import uuid
from datetime import date

from schemas.benefit_checks import CheckContextRow
from schemas.common import X12_SAFE
from services.core.settings import Settings
from services.eligibility.errors import NotX12Safe
from services.eligibility.x12 import Payer270, Person270, Receiver270, Request270

_X12_SAFE = re.compile(X12_SAFE)


def request_270(
    context: CheckContextRow, receiver: Receiver270, settings: Settings, service_date: date
) -> Request270:
    """The 270's content, under a new trace number."""
    trace = uuid.uuid4().hex
    patient = Person270(
        first_name=context.first_name,
        last_name=context.last_name,
        birth_date=context.date_of_birth,
        sex=context.sex,
        member_id=context.member_id
        if context.relationship == "self"
        else context.patient_member_id,
    )
    subscriber = None
    if context.relationship != "self":
        # The database refuses a non-self policy without its subscriber's name and birth date.
        assert context.subscriber_first_name is not None
        assert context.subscriber_last_name is not None
        assert context.subscriber_date_of_birth is not None
        subscriber = Person270(
            first_name=context.subscriber_first_name,
            last_name=context.subscriber_last_name,
            birth_date=context.subscriber_date_of_birth,
            sex=context.subscriber_sex,
            member_id=context.member_id,
        )
    return Request270(
        payer=Payer270(x12_id=context.x12_payer_id, name=context.payer_name),
        receiver=receiver,
        patient=patient,
        trace=trace,
        ein=settings.platform_ein,
        service_date=service_date,
        reference=trace[:30],
        relationship=context.relationship,
        subscriber=subscriber,
    )


def _stored_values(context: CheckContextRow, receiver: Receiver270) -> dict[str, str | None]:
    """Every stored value the 270 carries, by the field a caller would correct."""
    return {
        "client.first_name": context.first_name,
        "client.last_name": context.last_name,
        "policy.member_id": context.member_id,
        "policy.patient_member_id": context.patient_member_id,
        "policy.subscriber.first_name": context.subscriber_first_name,
        "policy.subscriber.last_name": context.subscriber_last_name,
        "payer.name": context.payer_name,
        "payer.x12_payer_id": context.x12_payer_id,
        "provider.last_name": receiver.last_or_org_name,
        "provider.first_name": receiver.first_name,
    }


def require_x12_safe(context: CheckContextRow, receiver: Receiver270) -> None:
    """422 naming the stored field a 270 cannot carry (rows written before the input rule)."""
    for field, value in _stored_values(context, receiver).items():
        if value is not None and not _X12_SAFE.match(value):
            # The value itself stays out of the answer and the logs: it is a person's data.
            raise NotX12Safe(
                f"{field} holds a character an X12 payer file cannot carry; correct it first",
                field=field,
            )
