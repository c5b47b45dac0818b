"""Use cases of insurance policies: add, read, correct, end (never delete)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

from schemas.clients import (
    PolicyEndIn,
    PolicyIn,
    PolicyOut,
    PolicyPatchIn,
    PolicyRow,
    SubscriberIn,
    SubscriberOut,
    unset_to_dict,
)
from services.clients import queries
from services.clients.errors import (
    BadDate,
    BadSubscriber,
    PolicyNotFound,
    PolicyOverlap,
    UnknownPayer,
)
from services.clients.service import check_birth_date, visible_client
from services.core import audit, clock
from services.core.auth import Actor
from services.core.pagination import Page, page_of

ENTITY = "insurance_policy"


def policy_out(row: PolicyRow) -> PolicyOut:
    subscriber = None
    if row.relationship != "self":
        subscriber = msgspec.convert(
            {
                "first_name": row.subscriber_first_name,
                "last_name": row.subscriber_last_name,
                "date_of_birth": row.subscriber_date_of_birth,
                "sex": row.subscriber_sex,
            },
            SubscriberOut,
        )
    fields = msgspec.structs.asdict(row)
    for name in ("first_name", "last_name", "date_of_birth", "sex"):
        fields.pop(f"subscriber_{name}")
    return PolicyOut(**fields, subscriber=subscriber)


def _subscriber_fields(subscriber: SubscriberIn | None) -> dict[str, Any]:
    return {
        "subscriber_first_name": subscriber.first_name if subscriber else None,
        "subscriber_last_name": subscriber.last_name if subscriber else None,
        "subscriber_date_of_birth": subscriber.date_of_birth if subscriber else None,
        "subscriber_sex": subscriber.sex if subscriber else None,
    }


def _merge(base: PolicyRow, data: PolicyIn | PolicyPatchIn) -> PolicyRow:
    fields = unset_to_dict(data)
    if "subscriber" in fields:
        fields |= _subscriber_fields(fields.pop("subscriber"))  # type: ignore[arg-type]
    return msgspec.structs.replace(base, **fields)


async def _validate(conn: asyncpg.Connection, policy: PolicyRow) -> None:
    if policy.relationship == "self":
        if policy.subscriber_first_name is not None:
            raise BadSubscriber(
                "the client is the subscriber: leave out subscriber", field="subscriber"
            )
        if policy.patient_member_id is not None:
            raise BadSubscriber(
                "the client is the subscriber: member_id is theirs", field="patient_member_id"
            )
    elif policy.subscriber_date_of_birth is None:
        raise BadSubscriber(
            "a subscriber is required unless relationship is self", field="subscriber"
        )
    else:
        check_birth_date(policy.subscriber_date_of_birth, "subscriber.date_of_birth")
    if policy.effective_to is not None and policy.effective_to < policy.effective_from:
        raise BadDate("effective_to is before effective_from", field="effective_to")
    if not await queries.payer_exists(conn, policy.payer_id):
        raise UnknownPayer("no payer has this id", field="payer_id")
    overlapping = await queries.list_overlapping_policies(
        conn,
        policy.client_id,
        policy.priority,
        policy.effective_from,
        policy.effective_to,
        policy.id,
    )
    if overlapping:
        raise PolicyOverlap(
            f"another {policy.priority} policy covers some of these dates "
            f"(policy {overlapping[0].id})",
            field="priority",
        )


async def add_policy(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID, data: PolicyIn
) -> PolicyOut:
    # The client row lock serialises policy writes, so two overlapping policies cannot both pass.
    await visible_client(conn, actor, client_id, lock=True)
    now = clock.now()
    draft = PolicyRow(
        id=uuid.uuid4(),
        client_id=client_id,
        payer_id=data.payer_id,
        priority=data.priority,
        member_id=data.member_id,
        group_number=data.group_number,
        relationship=data.relationship,
        patient_member_id=data.patient_member_id,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        created_at=now,
        updated_at=now,
        **_subscriber_fields(data.subscriber),
    )
    await _validate(conn, draft)
    created = await queries.insert_policy(conn, draft)
    await audit.record(conn, actor, "create", ENTITY, [created.id])
    return policy_out(created)


async def _visible_policy(
    conn: asyncpg.Connection,
    actor: Actor,
    client_id: uuid.UUID,
    policy_id: uuid.UUID,
    *,
    lock: bool = False,
) -> PolicyRow:
    await visible_client(conn, actor, client_id, lock=lock)
    policy = await queries.get_policy(conn, client_id, policy_id)
    if policy is None:
        raise PolicyNotFound("policy not found")
    return policy


async def get_policy(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID, policy_id: uuid.UUID
) -> PolicyOut:
    policy = await _visible_policy(conn, actor, client_id, policy_id)
    await audit.record(conn, actor, "read", ENTITY, [policy.id])
    return policy_out(policy)


async def list_policies(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID, cursor: str | None, limit: int
) -> Page[PolicyOut]:
    await visible_client(conn, actor, client_id)
    page = await page_of(
        lambda after, n: queries.list_policies(conn, client_id, after, n), cursor, limit
    )
    await audit.record(conn, actor, "read", ENTITY, [r.id for r in page.items])
    return page.map(policy_out)


async def _save(conn: asyncpg.Connection, actor: Actor, policy: PolicyRow) -> PolicyOut:
    await _validate(conn, policy)
    updated = await queries.update_policy(conn, policy)
    await audit.record(conn, actor, "update", ENTITY, [updated.id])
    return policy_out(updated)


async def update_policy(
    conn: asyncpg.Connection,
    actor: Actor,
    client_id: uuid.UUID,
    policy_id: uuid.UUID,
    data: PolicyPatchIn,
) -> PolicyOut:
    policy = await _visible_policy(conn, actor, client_id, policy_id, lock=True)
    return await _save(conn, actor, _merge(policy, data))


async def end_policy(
    conn: asyncpg.Connection,
    actor: Actor,
    client_id: uuid.UUID,
    policy_id: uuid.UUID,
    data: PolicyEndIn,
) -> PolicyOut:
    """Set the last day of coverage; a policy is ended, never deleted."""
    policy = await _visible_policy(conn, actor, client_id, policy_id, lock=True)
    return await _save(conn, actor, msgspec.structs.replace(policy, effective_to=data.effective_to))
