"""The 835 polling worker through the running simulator: claims submitted, adjudicated and paid
by it, its 835s fetched after the cursor and posted, each with the cursor in one transaction."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import httpx
import msgspec
import pytest

from services.clearinghouse.client import CoreHttpClient, CoreResponse
from services.core.auth import SYSTEM
from services.core.db import transaction
from services.ledger.service import get_trial_balance
from services.remittance.ingest import fetch_remittances, interchange_number, queue_fetch
from services.remittance.service import post_file
from tests.claims.test_corrections_live import _round
from tests.claims.test_submission import (
    SERVICE_DATE,
    Stack,
    _admin,
    clearinghouse,  # noqa: F401 - the simulator, which `stack` needs
    stack,  # noqa: F401 - the fixture
)
from tests.remittance.test_simulator_835 import _claim, _state

pytestmark = pytest.mark.usefixtures("clock")


async def _queue(stack: Stack) -> int:  # noqa: F811
    async with transaction(stack.pool) as conn:
        assert await queue_fetch(conn, stack.settings)
        assert not await queue_fetch(conn, stack.settings)  # one open row per clearinghouse
        outbox_id: int = await conn.fetchval(
            "SELECT id FROM outbox WHERE job = 'fetch_remittances' AND completed_at IS NULL"
        )
    return outbox_id


async def _run(stack: Stack, client: CoreHttpClient | None = None) -> str:  # noqa: F811
    return await fetch_remittances(
        stack.pool, client or stack.clearinghouse, stack.settings, await _queue(stack)
    )


async def _eras(stack: Stack) -> list[str]:  # noqa: F811
    async with httpx.AsyncClient(timeout=5) as http:
        items = (await http.get(f"{stack.simulator}/_admin/remittances")).json()["items"]
    return [item["text"] for item in items]


async def _cursor(stack: Stack) -> str | None:  # noqa: F811
    async with stack.pool.acquire() as conn:
        found: str | None = await conn.fetchval(
            "SELECT last_isa13 FROM remittance_fetch_cursors WHERE clearinghouse = $1",
            stack.settings.clearinghouse_receiver_id,
        )
        return found


async def _files(stack: Stack) -> int:  # noqa: F811
    async with stack.pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM remittance_files WHERE source = 'clearinghouse'"
        )
        assert (await get_trial_balance(conn)).imbalance_cents == 0
        return count


async def test_the_835s_are_posted_the_cursor_advanced_and_a_second_run_posts_nothing(
    stack: Stack,  # noqa: F811
) -> None:
    paid = await _claim(stack)
    late = await _claim(stack, SERVICE_DATE.replace(year=SERVICE_DATE.year - 3))
    await _round(stack)
    assert await _run(stack) == "1 posted, 0 already posted, 0 refused"
    (era,) = await _eras(stack)
    assert await _cursor(stack) == interchange_number(era.encode())
    assert await _state(stack, paid) == ("paid", 0)
    assert await _state(stack, late) == ("denied", 0)
    assert await _files(stack) == 1

    assert await _run(stack) == "0 posted, 0 already posted, 0 refused"
    assert await _files(stack) == 1
    assert await _cursor(stack) == interchange_number(era.encode())

    # A later payment: only the new 835 is fetched, after the cursor.
    later = await _claim(stack, SERVICE_DATE.replace(day=SERVICE_DATE.day + 1))
    await _round(stack)
    assert await _run(stack) == "1 posted, 0 already posted, 0 refused"
    assert await _state(stack, later) == ("paid", 0)
    assert await _cursor(stack) == interchange_number((await _eras(stack))[-1].encode())
    assert await _files(stack) == 2


async def test_clearinghouse_down_is_retried_later_and_nothing_is_lost(
    stack: Stack,  # noqa: F811
) -> None:
    claim_id = await _claim(stack)
    await _round(stack)
    outbox_id = await _queue(stack)
    await _admin(stack.simulator, "mode", {"mode": "down"})
    outcome = await fetch_remittances(stack.pool, stack.clearinghouse, stack.settings, outbox_id)
    assert outcome.endswith("retrying later (0 posted, 0 already posted, 0 refused)")
    async with stack.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT completed_at, last_error FROM outbox WHERE id = $1", outbox_id
        )
    assert row["completed_at"] is None
    assert "did not answer" in row["last_error"]
    assert await _cursor(stack) is None
    assert await _files(stack) == 0

    await _admin(stack.simulator, "mode", {"mode": "normal"})
    outcome = await fetch_remittances(stack.pool, stack.clearinghouse, stack.settings, outbox_id)
    assert outcome == "1 posted, 0 already posted, 0 refused"
    assert await _state(stack, claim_id) == ("paid", 0)
    assert await fetch_remittances(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "done already"
    )


class _KilledAfterFetch(CoreHttpClient):
    """The 835 came back, and the worker died before its transaction committed."""

    async def next_835(self, cursor: str, *, payload_id: uuid.UUID) -> CoreResponse:
        await super().next_835(cursor, payload_id=payload_id)
        raise RuntimeError("worker killed")


async def test_a_crash_between_fetch_and_commit_refetches_the_same_file(
    stack: Stack,  # noqa: F811
) -> None:
    claim_id = await _claim(stack)
    await _round(stack)
    killed = _KilledAfterFetch.from_settings(stack.settings)
    try:
        with pytest.raises(RuntimeError):
            await _run(stack, killed)
    finally:
        await killed.aclose()
    assert await _cursor(stack) is None
    assert await _files(stack) == 0
    # The outbox row is still open: the re-run (after the visibility timeout) takes it.
    async with stack.pool.acquire() as conn:
        outbox_id = await conn.fetchval(
            "SELECT id FROM outbox WHERE job = 'fetch_remittances' AND completed_at IS NULL"
        )
    outcome = await fetch_remittances(stack.pool, stack.clearinghouse, stack.settings, outbox_id)
    assert outcome == "1 posted, 0 already posted, 0 refused"
    (era,) = await _eras(stack)
    assert await _cursor(stack) == interchange_number(era.encode())
    assert await _state(stack, claim_id) == ("paid", 0)


async def test_a_file_posted_before_says_already_posted_and_the_cursor_advances(
    stack: Stack,  # noqa: F811
) -> None:
    await _claim(stack)
    await _round(stack)
    await _admin(stack.simulator, "payment-run", {"day": str(SERVICE_DATE)})
    (era,) = await _eras(stack)
    posted, _ = await post_file(stack.pool, era.encode(), "upload", SYSTEM)  # ops uploaded it
    assert posted.status == "posted"
    assert await _run(stack) == "0 posted, 1 already posted, 0 refused"
    assert await _cursor(stack) == interchange_number(era.encode())


class _Truncating(CoreHttpClient):
    """The clearinghouse's first 835 arrives cut short (a malformed file)."""

    cut = True

    async def next_835(self, cursor: str, *, payload_id: uuid.UUID) -> CoreResponse:
        answer = await super().next_835(cursor, payload_id=payload_id)
        if self.cut and answer.payload.startswith("ISA"):
            self.cut = False
            return dataclasses.replace(answer, payload=answer.payload[: len(answer.payload) // 2])
        return answer


async def test_a_refused_file_goes_to_ops_and_does_not_block_the_next(
    stack: Stack,  # noqa: F811
) -> None:
    first = await _claim(stack)
    await _round(stack)
    await _admin(stack.simulator, "payment-run", {"day": str(SERVICE_DATE)})
    second = await _claim(stack, SERVICE_DATE.replace(day=SERVICE_DATE.day + 1))
    await _round(stack)
    await _admin(stack.simulator, "payment-run", {"day": str(SERVICE_DATE)})
    bad, good = await _eras(stack)
    client = _Truncating.from_settings(stack.settings)
    try:
        assert await _run(stack, client) == "1 posted, 0 already posted, 1 refused"
    finally:
        await client.aclose()
    async with stack.pool.acquire() as conn:
        refusal = await conn.fetchrow(
            "SELECT isa13, error, segment, position, resolved_at FROM remittance_fetch_refusals"
        )
    assert refusal["isa13"] == interchange_number(bad.encode())
    # Where the file broke, kept beside the error that names it.
    assert refusal["position"] > 1
    assert refusal["error"].startswith(f"{refusal['segment']} (segment {refusal['position']})")
    assert refusal["resolved_at"] is None
    assert await _cursor(stack) == interchange_number(good.encode())
    assert (await _state(stack, first))[0] != "paid"  # its 835 posted nothing
    assert await _state(stack, second) == ("paid", 0)
    # Ops repair it: the whole file uploaded posts the first claim.
    posted, _ = await post_file(stack.pool, bad.encode(), "upload", SYSTEM)
    assert posted.status == "posted"
    assert await _state(stack, first) == ("paid", 0)


async def test_a_run_stops_after_its_bound_and_queues_the_rest(stack: Stack) -> None:  # noqa: F811
    for n in range(2):
        await _claim(stack, SERVICE_DATE.replace(day=SERVICE_DATE.day + n))
        await _round(stack)
        await _admin(stack.simulator, "payment-run", {"day": str(SERVICE_DATE)})
    one = msgspec.structs.replace(stack.settings, remittance_files_per_run=1)
    outbox_id = await _queue(stack)
    outcome = await fetch_remittances(stack.pool, stack.clearinghouse, one, outbox_id)
    assert outcome == "1 posted, 0 already posted, 0 refused; more queued"
    async with stack.pool.acquire() as conn:
        again = await conn.fetchval(
            "SELECT id FROM outbox WHERE job = 'fetch_remittances' AND completed_at IS NULL"
        )
    assert again is not None
    assert again != outbox_id
    assert await fetch_remittances(stack.pool, stack.clearinghouse, one, again) == (
        "1 posted, 0 already posted, 0 refused; more queued"
    )
    assert await _files(stack) == 2
    async with stack.pool.acquire() as conn:
        last = await conn.fetchval(
            "SELECT id FROM outbox WHERE job = 'fetch_remittances' AND completed_at IS NULL"
        )
    assert await fetch_remittances(stack.pool, stack.clearinghouse, one, last) == (
        "0 posted, 0 already posted, 0 refused"
    )
    async with stack.pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM outbox"
                " WHERE job = 'fetch_remittances' AND completed_at IS NULL"
            )
            == 0
        )


async def test_two_runs_at_once_post_each_file_once(stack: Stack) -> None:  # noqa: F811
    claim_id = await _claim(stack)
    await _round(stack)
    outbox_id = await _queue(stack)
    outcomes = await asyncio.gather(
        *(
            fetch_remittances(stack.pool, stack.clearinghouse, stack.settings, outbox_id)
            for _ in range(2)
        )
    )
    posted = sorted(o for o in outcomes if o != "done already")
    assert "1 posted, 0 already posted, 0 refused" in posted
    assert all(o.endswith("0 already posted, 0 refused") for o in posted)
    assert await _files(stack) == 1
    assert await _state(stack, claim_id) == ("paid", 0)
    (era,) = await _eras(stack)
    assert await _cursor(stack) == interchange_number(era.encode())
