"""Ops' use cases of recoupment policies: read, set (create or change) and delete, each change
kept with who made it and the terms before and after (recoupment_policy_changes)."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from schemas.recoupment import (
    PolicyTerms,
    RecoupmentPolicyChangeOut,
    RecoupmentPolicyIn,
    RecoupmentPolicyOut,
    RecoupmentPolicyRow,
)
from services.core.audit import author
from services.core.auth import Actor
from services.core.pagination import After, Page, page_of
from services.remittance import queries
from services.remittance.errors import (
    BadRecoupmentPolicy,
    DefaultPolicyKept,
    PolicyChangedMeanwhile,
    RecoupmentPolicyNotFound,
)
from services.remittance.recoupment import NEVER_A_LOSS_CODE, rule_text


def _out(row: RecoupmentPolicyRow) -> RecoupmentPolicyOut:
    return RecoupmentPolicyOut(
        **msgspec.structs.asdict(row), rule=rule_text(row.decision, row.condition)
    )


def _terms(row: RecoupmentPolicyRow) -> PolicyTerms:
    return PolicyTerms(decision=row.decision, condition=row.condition, description=row.description)


def _not_found() -> RecoupmentPolicyNotFound:
    return RecoupmentPolicyNotFound("recoupment policy not found")


async def list_policies(
    conn: asyncpg.Connection, limit: int, cursor: str | None
) -> Page[RecoupmentPolicyOut]:
    page = await page_of(lambda after, n: queries.list_policies(conn, after, n), cursor, limit)
    return page.map(_out)


async def get_policy(conn: asyncpg.Connection, policy_id: uuid.UUID) -> RecoupmentPolicyOut:
    row = await queries.get_policy(conn, policy_id)
    if row is None:
        raise _not_found()
    return _out(row)


def _checked(group: str, code: str, data: RecoupmentPolicyIn) -> PolicyTerms:
    if code == NEVER_A_LOSS_CODE:
        raise BadRecoupmentPolicy(
            f"{group}-45 (charge over the fee schedule) is never a loss: it takes no policy",
            code="carc_never_a_loss",
            field="code",
        )
    if data.condition is not None and data.decision != "recoup":
        # Every condition names a way the provider was at fault: "absorb when the provider was
        # at fault, recoup otherwise" would charge providers for the platform's own losses.
        raise BadRecoupmentPolicy(
            "a condition says when to recoup: it goes with decision recoup (and absorbs when"
            " it does not hold)",
            field="condition",
        )
    return PolicyTerms(
        decision=data.decision, condition=data.condition, description=data.description
    )


async def set_policy(
    conn: asyncpg.Connection, actor: Actor, group: str, code: str, data: RecoupmentPolicyIn
) -> tuple[RecoupmentPolicyOut, bool]:
    """Create or change the policy of one CARC; True when it was created.

    Setting the terms a row already has changes nothing and records no change.
    """
    group, code = group.upper(), code.upper()
    terms = _checked(group, code, data)
    # The row's lock orders concurrent PUTs of one CARC. Two that both find no row both
    # insert: the unique key lets one in, the other waits for its commit, inserts nothing and
    # locks that row instead (unless a DELETE took it in between: then it inserts again).
    for _ in range(3):
        row = await queries.lock_policy_for(conn, group, code)
        if row is not None:
            break
        created = await queries.insert_policy(conn, group, code, terms, actor.user)
        if created is not None:
            await queries.insert_change(conn, created, "create", None, terms, author(actor))
            return _out(created), True
    else:
        raise PolicyChangedMeanwhile(
            f"{group}-{code} was created and deleted meanwhile; try again", field="code"
        )
    before = _terms(row)
    if before == terms:
        return _out(row), False
    updated = await queries.update_policy(conn, row.id, terms, actor.user)
    await queries.insert_change(conn, updated, "update", before, terms, author(actor))
    return _out(updated), False


async def delete_policy(conn: asyncpg.Connection, actor: Actor, group: str, code: str) -> None:
    """Delete a policy ops added; DESIGN.md's defaults may be changed, never deleted."""
    row = await queries.lock_policy_for(conn, group.upper(), code.upper())
    if row is None:
        raise _not_found()
    if row.is_default:
        raise DefaultPolicyKept(
            f"{row.group}-{row.code} is one of the default policies: change its decision"
            " instead (a CARC without a policy is absorbed and flagged to ops)",
            field="code",
        )
    await queries.delete_policy(conn, row.id)
    await queries.insert_change(conn, row, "delete", _terms(row), None, author(actor))


async def list_changes(
    conn: asyncpg.Connection, policy_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[RecoupmentPolicyChangeOut]:
    """A policy's changes, oldest first; a deleted policy keeps them."""

    async def fetch(after: After | None, n: int) -> list[RecoupmentPolicyChangeOut]:
        # After the cursor is decoded: a bad cursor is 400 for any id.
        exists = await queries.get_policy(conn, policy_id) is not None
        if not exists and not await queries.has_changes(conn, policy_id):
            raise _not_found()
        return await queries.list_changes(conn, policy_id, after, n)

    return await page_of(fetch, cursor, limit)
