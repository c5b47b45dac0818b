"""Claim submission over CORE batch against the clearinghouse simulator (a real process):
ready -> submitted -> acknowledged -> accepted, a rejection with its reason, an outage, a
crash between commit and call, and concurrent runs, each claim reaching the payer once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from schemas.claims import ClaimBatchRow, ClaimIn, ClaimLineIn, FetchClaimResultsJob
from services.claims import service as claims
from services.claims.results import fetch_claim_results
from services.claims.submission import queue_submissions, submit_claims
from services.clearinghouse.client import CoreHttpClient, CoreResponse
from services.core import outbox
from services.core.auth import Actor
from services.core.clock import Clock
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from tests.factories import (
    make_client_actor,
    make_ops,
    make_payer,
    make_policy,
    make_provider_actor,
    make_session,
)
from tests.infra.clearinghouse.conftest import clearinghouse  # noqa: F401 - the simulator
from tests.live import app_env, process
from tests.x12tools import x12valid_errors

pytestmark = pytest.mark.usefixtures("clock")

# The simulator's world: the billing NPI its payers contract with, a credentialed rendering
# provider and a member of Evergreen (world.json).
WORLD_BILLING_NPI = "1234567893"
WORLD_PROVIDER_NPI = "1987654328"
SERVICE_DATE = date(2026, 11, 20)


@dataclass
class Stack:
    pool: asyncpg.Pool
    settings: Settings
    simulator: str
    clearinghouse: CoreHttpClient
    payer_id: uuid.UUID
    ops: Actor
    provider: Actor


@pytest.fixture
async def stack(
    committed_db: str,
    settings: Settings,
    clearinghouse: str,  # noqa: F811
) -> AsyncIterator[Stack]:
    await _admin(clearinghouse, "reset")
    mine = msgspec.structs.replace(
        settings, database_url=committed_db, platform_npi=WORLD_BILLING_NPI, claim_hold_hours=0,
        clearinghouse_url=f"{clearinghouse}/core", clearinghouse_timeout_s=1.0,
        clearinghouse_deadline_s=2.0,
    )  # fmt: skip
    pool = await create_pool(committed_db, min_size=1, max_size=6)
    client = CoreHttpClient.from_settings(mine)
    async with transaction(pool) as conn:
        payer = await make_payer(conn, name="Evergreen Health Plan", x12_payer_id="EVGRN")
        ops, provider = await make_ops(conn), await make_provider_actor(conn)
        await conn.execute(
            "UPDATE providers SET npi = $2 WHERE id = $1", provider.provider_id, WORLD_PROVIDER_NPI
        )
    try:
        yield Stack(pool, mine, clearinghouse, client, payer.id, ops, provider)
    finally:
        await client.aclose()
        await pool.close()


# A telehealth 90837 at 150 allowed, 120 the provider's: _ready_claim's line unless it is given.
ONE_LINE = (("90837", ["95"], 15000, 12000),)


async def _ready_claim(
    stack: Stack,
    member_id: str = "EVG100001",
    lines: tuple[tuple[str, list[str], int, int], ...] = ONE_LINE,
) -> uuid.UUID:
    """A ready claim for Jordan Lee (a member of the world) as completion writes it, of `lines`
    (CPT, modifiers, allowed, provider rate)."""
    async with transaction(stack.pool) as conn:
        ops, provider, client = stack.ops, stack.provider, await make_client_actor(conn)
        await conn.execute(
            "UPDATE clients SET first_name = 'Jordan', last_name = 'Lee',"
            " date_of_birth = '1990-04-12' WHERE id = $1",
            client.client_id,
        )
        policy_id = await make_policy(conn, client, stack.payer_id, member_id=member_id)
        session = await make_session(conn, ops, provider, client, policy_id)
        data = ClaimIn(
            therapy_session_id=session.id, payer_id=stack.payer_id, policy_id=policy_id,
            provider_id=session.provider_id, client_id=session.client_id,
            service_date=SERVICE_DATE, place_of_service="10", diagnosis_codes=["F411"],
            prior_authorization_id=None,
            lines=[
                ClaimLineIn(cpt_code=cpt, modifiers=modifiers, diagnosis_pointers=[1],
                            allowed_cents=allowed, provider_rate_cents=rate)
                for cpt, modifiers, allowed, rate in lines
            ],
        )  # fmt: skip
        return await claims.create_claim(conn, ops, data)


async def _queue(stack: Stack) -> int:
    async with transaction(stack.pool) as conn:
        assert await queue_submissions(conn, stack.settings) == 1
        outbox_id: int = await conn.fetchval(
            "SELECT id FROM outbox WHERE job = 'submit_claims' AND completed_at IS NULL"
        )
    return outbox_id


async def _fetch_results(stack: Stack) -> list[str]:
    async with stack.pool.acquire() as conn:
        ids = await conn.fetch(
            "SELECT id FROM outbox WHERE job = 'fetch_claim_results' AND completed_at IS NULL"
        )
    return [
        await fetch_claim_results(stack.pool, stack.clearinghouse, stack.settings, r["id"])
        for r in ids
    ]


async def _history(stack: Stack, claim_id: uuid.UUID) -> list[tuple[str | None, str, str]]:
    async with stack.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT from_status, to_status, reason FROM claim_status_history"
            " WHERE claim_id = $1 ORDER BY id",
            claim_id,
        )
    return [(r["from_status"], r["to_status"], r["reason"]) for r in rows]


async def _batches(stack: Stack) -> list[ClaimBatchRow]:
    async with stack.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, payer_id, payload_id, interchange_control, group_control,"
            " transaction_control, status, sent_at, ack_applied_at, results_applied_at"
            " FROM claim_batches"
        )
    return [msgspec.convert(dict(r), ClaimBatchRow) for r in rows]


async def _admin(simulator: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(timeout=5) as http:
        if path == "claims":
            answer = await http.get(f"{simulator}/_admin/claims")
        else:
            answer = await http.post(f"{simulator}/_admin/{path}", json=body or {})
    answer.raise_for_status()
    return answer.json()


async def _adjudicated(stack: Stack) -> Counter[str]:
    """How many times the payers adjudicated each CLM01 (a claim sent twice counts twice)."""
    items = (await _admin(stack.simulator, "claims"))["items"]
    return Counter(item["claim_id"] for item in items)


async def _sent_files(stack: Stack) -> list[str]:
    async with stack.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT body FROM claim_batch_files WHERE direction = 'sent'"
            " AND payload_type = 'X12_837_Request_005010X222A1'"
        )
    return [r["body"] for r in rows]


async def _submission(stack: Stack, claim_id: uuid.UUID) -> dict[str, Any]:
    async with stack.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT s.clm01, s.ack_codes, s.payer_claim_number, s.accepted_on, c.status,"
            " c.needs_ops FROM claim_submissions s JOIN claims c ON c.id = s.claim_id"
            " WHERE s.claim_id = $1",
            claim_id,
        )
    assert row is not None
    return dict(row)


async def test_ready_claim_is_submitted_acknowledged_and_accepted(stack: Stack) -> None:
    claim_id = await _ready_claim(stack)
    outbox_id = await _queue(stack)
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "1 batch(es) sent"
    )
    (text,) = await _sent_files(stack)
    assert x12valid_errors(text) == []
    assert await _fetch_results(stack) == ["applied"]
    submission = await _submission(stack, claim_id)
    assert submission["status"] == "accepted"
    assert submission["payer_claim_number"].startswith("EVGRN")
    assert submission["accepted_on"] == date(2026, 11, 26)  # the 277CA's date: timely filing
    assert "A2:20" in submission["ack_codes"]
    assert [(h[0], h[1]) for h in await _history(stack, claim_id)] == [
        (None, "ready"),
        ("ready", "submitted"),
        ("submitted", "acknowledged"),
        ("acknowledged", "accepted"),
    ]
    assert await _adjudicated(stack) == {submission["clm01"]: 1}
    # Running either job again changes nothing: their rows are done.
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "done already"
    )
    assert await _fetch_results(stack) == []
    assert len(await _history(stack, claim_id)) == 4
    # The same 999 and 277CA applied again (the batch's marks gone): the statuses guard.
    async with transaction(stack.pool) as conn:
        await conn.execute(
            "UPDATE claim_batches SET ack_applied_at = NULL, results_applied_at = NULL"
        )
        (batch,) = await _batches(stack)
        await outbox.add(conn, FetchClaimResultsJob(batch_id=batch.id))
    assert await _fetch_results(stack) == ["applied"]
    assert len(await _history(stack, claim_id)) == 4
    again = await _submission(stack, claim_id)
    assert again == submission


async def test_sbr09_is_the_payers_claim_filing_indicator(stack: Stack) -> None:
    await _ready_claim(stack)
    async with transaction(stack.pool) as conn:
        await conn.execute(
            "UPDATE payers SET claim_filing_indicator = 'BL' WHERE id = $1", stack.payer_id
        )
    await submit_claims(stack.pool, stack.clearinghouse, stack.settings, await _queue(stack))
    (text,) = await _sent_files(stack)
    assert x12valid_errors(text) == []
    (sbr,) = [s for s in text.replace("\n", "").split("~") if s.startswith("SBR*")]
    assert sbr.split("*")[9] == "BL"


async def test_unknown_member_is_rejected_with_its_reason(stack: Stack) -> None:
    known, unknown = await _ready_claim(stack), await _ready_claim(stack, member_id="EVG999999")
    await submit_claims(stack.pool, stack.clearinghouse, stack.settings, await _queue(stack))
    assert await _fetch_results(stack) == ["applied"]
    assert (await _submission(stack, known))["status"] == "accepted"
    rejected = await _submission(stack, unknown)
    assert rejected["status"] == "rejected"
    assert "A3:33:IL" in rejected["ack_codes"]
    last = (await _history(stack, unknown))[-1]
    assert last[:2] == ("acknowledged", "rejected")
    assert "A3:33:IL" in last[2]


async def test_a_worker_whose_clock_runs_behind_takes_the_claims_the_queuer_saw_due(
    stack: Stack, clock: Clock
) -> None:
    """The API queues "submit now" with its cutoff; a worker on a host whose clock runs a few
    seconds behind still takes those claims (with a hold of 0 it would find none due)."""
    claim_id = await _ready_claim(stack)
    outbox_id = await _queue(stack)
    clock.advance(timedelta(seconds=-5))
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "1 batch(es) sent"
    )
    assert (await _submission(stack, claim_id))["status"] == "submitted"


async def test_clearinghouse_down_then_up_sends_the_same_batch_once(stack: Stack) -> None:
    claim_id = await _ready_claim(stack)
    outbox_id = await _queue(stack)
    await _admin(stack.simulator, "mode", {"mode": "down"})
    outcome = await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id)
    assert outcome == "clearinghouse unavailable; retrying later"
    (pending,) = await _batches(stack)
    assert pending.status == "pending"
    assert (await _submission(stack, claim_id))["status"] == "submitted"
    await _admin(stack.simulator, "mode", {"mode": "normal"})
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "1 batch(es) sent"
    )
    (sent,) = await _batches(stack)
    assert (sent.payload_id, sent.status) == (pending.payload_id, "sent")
    await _fetch_results(stack)
    assert await _adjudicated(stack) == {(await _submission(stack, claim_id))["clm01"]: 1}


class _CrashBeforeCall(CoreHttpClient):
    """Dies after the batch committed and before the request leaves (a killed worker)."""

    async def batch(
        self, payload_type: str, payload: str, *, payload_id: uuid.UUID
    ) -> CoreResponse:
        raise RuntimeError("worker killed")


async def test_crash_between_commit_and_call_resends_the_same_payload_id(stack: Stack) -> None:
    claim_id = await _ready_claim(stack)
    outbox_id = await _queue(stack)
    crashing = _CrashBeforeCall.from_settings(stack.settings)
    with pytest.raises(RuntimeError):
        await submit_claims(stack.pool, crashing, stack.settings, outbox_id)
    await crashing.aclose()
    (pending,) = await _batches(stack)
    assert pending.status == "pending"
    # The outbox hands the row out again; the job finds the pending batch and re-sends it.
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "1 batch(es) sent"
    )
    (sent,) = await _batches(stack)
    assert sent.payload_id == pending.payload_id
    await _fetch_results(stack)
    assert await _adjudicated(stack) == {(await _submission(stack, claim_id))["clm01"]: 1}


async def test_concurrent_and_repeated_runs_send_each_claim_once(stack: Stack) -> None:
    claim_ids = [await _ready_claim(stack) for _ in range(3)]
    outbox_id = await _queue(stack)
    runs = [
        submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) for _ in range(3)
    ]
    await asyncio.gather(*runs)
    await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id)
    assert len(await _batches(stack)) == 1
    await _fetch_results(stack)
    await _fetch_results(stack)
    clm01s = [(await _submission(stack, claim_id))["clm01"] for claim_id in claim_ids]
    assert await _adjudicated(stack) == dict.fromkeys(clm01s, 1)
    for claim_id in claim_ids:
        assert len(await _history(stack, claim_id)) == 4


async def test_no_acknowledgement_changes_nothing_until_overdue_then_ops(
    stack: Stack, clock: Clock
) -> None:
    claim_id = await _ready_claim(stack)
    await submit_claims(stack.pool, stack.clearinghouse, stack.settings, await _queue(stack))
    await _admin(stack.simulator, "reset")  # it forgets the batch: "no 999 yet" from now on
    assert await _fetch_results(stack) == ["no 999 yet"]
    before = await _submission(stack, claim_id)
    assert (before["status"], before["needs_ops"], before["ack_codes"]) == ("submitted", False, [])
    assert len(await _history(stack, claim_id)) == 2
    clock.advance(timedelta(hours=stack.settings.claim_ack_timeout_hours + 1))
    assert await _fetch_results(stack) == ["no 999 yet"]
    after = await _submission(stack, claim_id)
    assert (after["status"], after["needs_ops"]) == ("submitted", True)


async def kill_mid_submission(
    stack: Stack, env: dict[str, str], tmp_path: Path, done: Callable[[], Awaitable[bool]]
) -> ClaimBatchRow:
    """A real arq worker SIGKILLed once its batch is committed, while the payer is slow to
    answer the 837 (the work not `done`); a second worker, the sweeper having handed the
    outbox row out again, finishes it. The batch as the first worker left it (pending)."""
    worker = [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"]
    await _admin(stack.simulator, "mode", {"mode": "slow", "delay_s": 15})
    with process(worker, env, tmp_path / "worker-1.log") as first:
        for _ in range(150):  # the relay runs every 5 s
            if await _batches(stack):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # the batch is committed; the job waits on the slow payer
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    (pending,) = await _batches(stack)
    assert pending.status == "pending"
    assert not await done()
    await _admin(stack.simulator, "mode", {"mode": "normal"})
    with process(worker, env, tmp_path / "worker-2.log"):
        for _ in range(120):
            if await done():
                break
            await asyncio.sleep(0.5)
    assert await done(), (tmp_path / "worker-2.log").read_text()[-3000:]
    return pending


async def test_worker_killed_mid_submission_sends_each_claim_once(
    stack: Stack, redis_namespace: str, tmp_path: Path
) -> None:
    """A real arq worker SIGKILLed while the payer is slow to answer the 837; a second worker
    gets the outbox row back after the visibility timeout and re-sends the same batch."""
    claim_id = await _ready_claim(stack)
    outbox_id = await _queue(stack)
    env = app_env(
        stack.settings.database_url, stack.settings.redis_url,
        HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-submit-{uuid.uuid4().hex[:6]}",
        HEARTH_CLEARINGHOUSE_URL=f"{stack.simulator}/core",
        HEARTH_PLATFORM_NPI=WORLD_BILLING_NPI, HEARTH_CLAIM_HOLD_HOURS="0",
        HEARTH_OUTBOX_VISIBILITY_S="5",
    )  # fmt: skip

    async def outbox_done() -> bool:
        async with stack.pool.acquire() as conn:
            done: bool = await conn.fetchval(
                "SELECT completed_at IS NOT NULL FROM outbox WHERE id = $1", outbox_id
            )
        return done

    pending = await kill_mid_submission(stack, env, tmp_path, outbox_done)
    (sent,) = await _batches(stack)
    assert (sent.payload_id, sent.status) == (pending.payload_id, "sent")
    assert await _adjudicated(stack) == {(await _submission(stack, claim_id))["clm01"]: 1}


async def test_refused_envelope_flags_ops_and_the_batch_goes_again_unchanged(stack: Stack) -> None:
    claim_id = await _ready_claim(stack)
    outbox_id = await _queue(stack)
    wrong = msgspec.structs.replace(stack.settings, clearinghouse_password="not-the-password")
    refusing = CoreHttpClient.from_settings(wrong)
    try:
        outcome = await submit_claims(stack.pool, refusing, stack.settings, outbox_id)
    finally:
        await refusing.aclose()
    assert (
        outcome
        == f"the clearinghouse refused batch {(await _batches(stack))[0].payload_id}: UnAuthorized"
    )
    (pending,) = await _batches(stack)
    assert pending.status == "pending"
    flagged = await _submission(stack, claim_id)
    assert (flagged["status"], flagged["needs_ops"]) == ("submitted", True)
    async with stack.pool.acquire() as conn:
        errors = await conn.fetch(
            "SELECT error_code FROM claim_batch_files WHERE direction = 'received'"
        )
    assert [r["error_code"] for r in errors] == ["UnAuthorized"]
    # The credentials mended, the same batch goes again under its PayloadID.
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "1 batch(es) sent"
    )
    (sent,) = await _batches(stack)
    assert (sent.payload_id, sent.status) == (pending.payload_id, "sent")
