"""The ops daily digest (issue 16 item 8): a day's 835s and the work waiting for ops.

A day is a UTC calendar day, the platform's day as every day-based job reads it
(`clock.today()`). Its 835 figures are the files received that day; its review counts are the
queues as they stand when the digest is made (a queue has no history to read a past day
from). Each domain counts its own work through its service; this module only assembles.
`store_digest` (the morning job) stores yesterday's once: a second run keeps the first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import msgspec

from schemas.ops import OpsDigestOut, ReviewOut, StoredDigestOut, StoredDigestRow
from services.claims.service import ENTITY as CLAIM_ENTITY
from services.claims.service import summarize_open_work
from services.core import audit, clock
from services.core.auth import SYSTEM, Actor
from services.core.pagination import Page, page_of
from services.core.settings import Settings
from services.ops import queries
from services.ops.errors import BadDigestDay, DigestNotFound
from services.remittance.service import summarize_day
from services.therapy_sessions.service import count_coverage_holds

FIRST_DAY = date(2000, 1, 1)
SOONEST_LISTED = 5  # the filing deadlines the digest names, soonest first


def yesterday() -> date:
    return clock.today() - timedelta(days=1)


def check_day(day: date) -> date:
    """A day a digest can cover: from 2000 up to today (today's is the day so far)."""
    if day < FIRST_DAY or day > clock.today():
        raise BadDigestDay(
            f"day must be between {FIRST_DAY.isoformat()} and today ({clock.today().isoformat()})",
            field="day",
        )
    return day


async def compute_digest(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, day: date
) -> OpsDigestOut:
    """The digest of `day`, made now."""
    start = datetime.combine(check_day(day), time(), UTC)
    eras, remittance = await summarize_day(
        conn, start, start + timedelta(days=1), settings.reversal_correction_days
    )
    claims = await summarize_open_work(
        conn, actor, day, settings.ops_digest_deadline_days, SOONEST_LISTED
    )
    review = ReviewOut(
        remittance=remittance, claims=claims, coverage_holds=await count_coverage_holds(conn)
    )
    return OpsDigestOut(day=day, generated_at=clock.now(), eras=eras, review=review)


async def store_digest(conn: asyncpg.Connection, settings: Settings, day: date) -> bool:
    """Store `day`'s digest once (the morning job); False when it was stored before."""
    if await queries.digest_exists(conn, day):
        return False
    digest = await compute_digest(conn, settings, SYSTEM, day)
    # Two runs at once: the second waits on the first's UNIQUE day and stores nothing.
    stored = await queries.insert_digest(conn, day, msgspec.to_builtins(digest), clock.now())
    return stored is not None


async def get_stored(conn: asyncpg.Connection, actor: Actor, day: date) -> StoredDigestOut:
    found = await queries.get_digest(conn, day)
    if found is None:
        raise DigestNotFound(f"no digest was stored for {day.isoformat()}", field="day")
    soonest = found.digest.review.claims.soonest
    await audit.record(conn, actor, "read", CLAIM_ENTITY, [c.claim_id for c in soonest])
    return found


async def list_stored(
    conn: asyncpg.Connection, limit: int, cursor: str | None
) -> Page[StoredDigestRow]:
    """The stored digests, newest first (their days and when each was stored)."""
    return await page_of(lambda after, n: queries.list_digests(conn, after, n), cursor, limit)
