"""The clearinghouse 835 polling worker (issue 16 item 2, DESIGN.md "Acknowledgements" style).

A cron writes one outbox row per clearinghouse (deduped); the job loops: ask for the next 835
after the cursor (the ISA13 of the last 835 received, "0" before the first), then in ONE
transaction post it (source `clearinghouse`) and advance the cursor. It stops at "no file" or
after `remittance_files_per_run` files, and then queues itself again (a fresh outbox row in the
transaction that completes this one). Each request has a PayloadID of its own (a repeated one
gets its first answer); its retries reuse it (the client's deadline handling).

Idempotent: a crash between the fetch and the commit leaves the cursor where it was, so the
re-run fetches the same file; posting it again answers "already posted" and the cursor
advances. Two runs at once: the cursor row is locked while posting, and a run whose cursor has
moved meanwhile asks again instead of posting what it fetched.

A refused (malformed) file is kept for ops in `remittance_fetch_refusals` with the error and
the file itself, and the cursor passes it: one bad file does not block the ones after it (ops
repair it and upload it through `POST /remittances`). A file whose ISA13 cannot be read cannot
be passed (the cursor is that number): it is kept for ops the same way and the job retries
later, stuck until the clearinghouse or ops mend it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from datetime import timedelta

import asyncpg

from schemas.remittance_posting import FetchRemittancesJob, RemittanceFetchQueuedOut
from services.clearinghouse.client import NO_RESULTS_FILE, PAYLOAD_835, ClearinghouseAdapter
from services.clearinghouse.errors import ClearinghouseError, ClearinghouseUnavailable
from services.core import clock, outbox
from services.core.auth import SYSTEM
from services.core.db import transaction
from services.core.settings import Settings
from services.remittance.errors import Refused835
from services.remittance.queries import fetch as q
from services.remittance.service import post_file_on
from services.remittance.x835 import X835Error

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=5)
_BOM = b"\xef\xbb\xbf"
# A segment id as X12 writes them; the reader names whatever the file had, which may be junk.
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_MAX_POSITION = 2**31 - 1  # the column's INTEGER


def dedupe_key(clearinghouse: str) -> str:
    return f"fetch_remittances:{clearinghouse}"


async def queue_fetch(conn: asyncpg.Connection, settings: Settings) -> bool:
    """The cron's whole work: one outbox row for the clearinghouse, unless one is open."""
    name = settings.clearinghouse_receiver_id
    added = await outbox.add(
        conn, FetchRemittancesJob(clearinghouse=name), dedupe_key=dedupe_key(name)
    )
    return added is not None


async def fetch_now(conn: asyncpg.Connection, settings: Settings) -> RemittanceFetchQueuedOut:
    """Ops' "fetch now": the cron's row, queued at once under the cron's dedupe key. An open
    fetch (queued, running, or waiting to retry after a failure) is left as it is: pressing
    the button again adds nothing, and the answer says which happened."""
    queued = await queue_fetch(conn, settings)
    return RemittanceFetchQueuedOut(clearinghouse=settings.clearinghouse_receiver_id, queued=queued)


def interchange_number(raw: bytes) -> str | None:
    """The ISA13 (interchange control number) of a file, or None when it cannot be read.

    The element separator is the character after "ISA"; a byte-order mark or leading white
    space is skipped. Only the cursor needs this: the posting reads the file itself.
    """
    head = raw[:400].removeprefix(_BOM).lstrip()
    if not head.startswith(b"ISA") or len(head) < 4:
        return None
    elements = head.decode("latin-1").split(chr(head[3]), 14)
    if len(elements) < 15:
        return None
    number = elements[13].strip()
    return number if number.isascii() and number.isdigit() and len(number) <= 9 else None


async def fetch_remittances(
    pool: asyncpg.Pool, clearinghouse: ClearinghouseAdapter, settings: Settings, outbox_id: int
) -> str:
    """Fetch and post the clearinghouse's new 835s; safe to run twice or concurrently."""
    async with transaction(pool) as conn:
        job = await outbox.lock(conn, outbox_id, FetchRemittancesJob)
    if job is None:
        return "done already"
    counts = {"posted": 0, "already posted": 0, "refused": 0}
    more = True
    try:
        for _ in range(settings.remittance_files_per_run):
            step = await _fetch_one(pool, clearinghouse, job.clearinghouse)
            if step == "no file":
                more = False
                break
            if step == "stuck":
                raise ClearinghouseError("an 835 without a readable ISA13: kept for ops")
            if step in counts:
                counts[step] += 1
    except (ClearinghouseUnavailable, ClearinghouseError) as exc:
        summary = _summary(counts)
        async with transaction(pool) as conn:
            await outbox.record_failure(conn, outbox_id, f"{exc.detail} ({summary})", RETRY_AFTER)
        return f"{exc.detail}; retrying later ({summary})"
    async with transaction(pool) as conn:
        await outbox.complete(conn, outbox_id)
        if more:  # the bound was reached: the rest in a run of its own, right away
            await outbox.add(conn, job, dedupe_key=dedupe_key(job.clearinghouse))
    return _summary(counts) + ("; more queued" if more else "")


def broken_at(refused: Refused835) -> tuple[str | None, int] | None:
    """The segment id and position a refused file broke at, when the reader named them."""
    cause = refused.__cause__
    if isinstance(cause, X835Error) and 0 < cause.position <= _MAX_POSITION:
        return (cause.segment if _SEGMENT_ID.fullmatch(cause.segment) else None), cause.position
    return None


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items())


async def _fetch_one(pool: asyncpg.Pool, clearinghouse: ClearinghouseAdapter, name: str) -> str:
    """One retrieval and its posting: "no file", "posted", "already posted", "refused", "moved"
    (another run advanced the cursor meanwhile) or "stuck" (no readable ISA13)."""
    async with transaction(pool) as conn:
        cursor = await q.get_cursor(conn, name)
    answer = await clearinghouse.next_835(cursor or "0", payload_id=uuid.uuid4())
    if answer.is_envelope_error:
        raise ClearinghouseError(
            f"the clearinghouse refused the 835 retrieval: {answer.error_code}"
        )
    if answer.payload_type == NO_RESULTS_FILE:
        return "no file"
    if answer.payload_type != PAYLOAD_835:
        raise ClearinghouseError(f"unexpected answer to the 835 retrieval: {answer.payload_type}")
    raw = answer.payload.encode()
    isa13 = interchange_number(raw)
    async with transaction(pool) as conn:
        now = clock.now()
        if await q.lock_cursor(conn, name, now) != cursor:
            return "moved"
        digest = hashlib.sha256(raw).hexdigest()
        if isa13 is None:
            why = "no readable ISA13: the cursor cannot pass this file"
            await q.insert_refusal(conn, name, None, digest, raw, why, now)
            return "stuck"
        try:
            async with conn.transaction():  # a savepoint: a refusal leaves nothing behind
                _, anything = await post_file_on(conn, raw, "clearinghouse", SYSTEM)
            step = "posted" if anything else "already posted"
        except Refused835 as exc:
            where = broken_at(exc)
            await q.insert_refusal(conn, name, isa13, digest, raw, exc.detail, now, where)
            # The error may quote the file's values: it is kept in the row, not logged.
            log.error("835 refused, kept for ops", extra={"job": FetchRemittancesJob.job})
            step = "refused"
        await q.advance_cursor(conn, name, isa13, now)
    return step
