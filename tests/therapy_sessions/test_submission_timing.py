"""Completion queues its claim's submission for the end of the hold (DESIGN.md "Edit window and
submission timing"): one open `submit_claims` row per payer, the earliest availability winning;
the relay hands it to arq when it is due, a real worker submits the claim, a worker killed
mid-way is brought back by the sweeper, and the run queues the next claim's row."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from arq import create_pool as create_arq_pool
from arq.connections import RedisSettings

from schemas.claims import SubmitClaimsJob
from schemas.therapy_sessions import CompleteSessionIn
from services.core import outbox
from services.core.auth import Actor
from services.core.clock import Clock
from services.core.db import transaction
from services.core.settings import Settings
from services.therapy_sessions.completion import complete_session
from tests.claims.test_submission import (  # the simulator's world and its helpers
    Stack,
    _adjudicated,
    _batches,
    kill_mid_submission,
    stack,  # noqa: F401 - the fixture
)
from tests.factories import make_client_actor, make_policy, make_session
from tests.infra.clearinghouse.conftest import clearinghouse  # noqa: F401 - the simulator
from tests.live import app_env
from tests.therapy_sessions.completion import (
    Visit,
    approve,
    arrange,
    complete,
    completion_body,
    price_everything,
)

pytestmark = pytest.mark.usefixtures("clock")
HOLD_HOURS = 2


async def _open_row(db: asyncpg.Connection, payer_id: uuid.UUID) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        "SELECT job, payload, available_at FROM outbox WHERE dedupe_key = $1"
        " AND completed_at IS NULL",
        f"submit_claims:{payer_id}",
    )
    return [tuple(r) for r in rows]


async def _ready_at(db: asyncpg.Connection, claim_id: str) -> datetime:
    found: datetime = await db.fetchval(
        "SELECT max(at) FROM claim_status_history WHERE claim_id = $1 AND to_status = 'ready'",
        uuid.UUID(claim_id),
    )
    return found


async def test_completion_queues_one_row_per_payer_due_when_the_hold_ends(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    clock: Clock,
) -> None:
    visit = await arrange(db, settings)
    first = (await complete(client, token, visit))["claim_id"]
    hold = timedelta(hours=settings.claim_hold_hours)
    due = await _ready_at(db, first) + hold
    payload = {"payer_id": str(visit.payer.id), "ready_before": None}  # completion: no cutoff
    assert await _open_row(db, visit.payer.id) == [("submit_claims", payload, due)]
    # A later claim at the same payer: still one row, due when the first claim's hold ends.
    clock.advance(timedelta(hours=1))
    later = await make_session(db, visit.ops, visit.provider, visit.client, visit.policy_id)
    await complete(client, token, Visit(**{**visit.__dict__, "session": later}))
    assert await _open_row(db, visit.payer.id) == [("submit_claims", payload, due)]
    # An earlier availability (the cron's safety net, now) brings the row forward.
    job = SubmitClaimsJob(payer_id=visit.payer.id)
    key = f"submit_claims:{visit.payer.id}"
    now = clock.now()
    assert await outbox.add_earliest(db, job, dedupe_key=key, available_at=now) is not None
    assert await _open_row(db, visit.payer.id) == [("submit_claims", payload, now)]
    assert await outbox.add_earliest(db, job, dedupe_key=key, available_at=due) is None
    # A self-pay session has no claim and queues nothing.
    self_pay = await arrange(db, settings, insured=False)
    assert (await complete(client, token, self_pay))["claim_id"] is None
    assert await _open_row(db, self_pay.payer.id) == []


async def test_a_row_handed_out_or_waiting_to_retry_is_not_brought_forward(
    db: asyncpg.Connection, clock: Clock
) -> None:
    job = SubmitClaimsJob(payer_id=uuid.uuid4())
    key = f"submit_claims:{job.payer_id}"
    now = clock.now()
    later = now + timedelta(hours=3)
    outbox_id = await outbox.add_earliest(db, job, dedupe_key=key, available_at=later)
    assert outbox_id is not None
    await outbox.record_failure(db, outbox_id, "clearinghouse down", timedelta(hours=1))
    assert await outbox.add_earliest(db, job, dedupe_key=key, available_at=now) is None
    await db.execute("UPDATE outbox SET last_error = NULL, enqueued_at = $2 WHERE id = $1",
                     outbox_id, now)  # fmt: skip
    assert await outbox.add_earliest(db, job, dedupe_key=key, available_at=now) is None
    assert await db.fetchval("SELECT available_at FROM outbox WHERE id = $1", outbox_id) == (
        now + timedelta(hours=1)
    )


async def _world_session(
    conn: asyncpg.Connection,
    stack: Stack,  # noqa: F811
) -> tuple[Actor, uuid.UUID]:
    """A booked session of Jordan Lee (a member the simulator knows) with the world's
    provider, credentialed and priced at the stack's payer: (ops, the session's id)."""
    client = await make_client_actor(conn)
    await conn.execute(
        "UPDATE clients SET first_name = 'Jordan', last_name = 'Lee',"
        " date_of_birth = '1990-04-12' WHERE id = $1",
        client.client_id,
    )
    policy_id = await make_policy(conn, client, stack.payer_id, member_id="EVG100001")
    session = await make_session(conn, stack.ops, stack.provider, client, policy_id)
    return stack.ops, session.id


async def _complete_in_world(
    stack: Stack,  # noqa: F811
    settings: Settings,
) -> uuid.UUID:
    async with transaction(stack.pool) as conn:
        ops, session_id = await _world_session(conn, stack)
        body = completion_body(
            place_of_service="10",
            lines=[{"cpt_code": "90837", "modifiers": ["95"], "diagnosis_pointers": [1]}],
        )
        out = await complete_session(
            conn, settings, ops, session_id, msgspec.convert(body, CompleteSessionIn)
        )
    assert out.claim_id is not None
    return out.claim_id


async def _submit_with_a_killed_worker(
    stack: Stack,  # noqa: F811
    settings: Settings,
    namespace: str,
    due: datetime,
    tmp_path: Path,
) -> uuid.UUID:
    """The due row relayed to a worker killed mid-way, then swept back to a second one
    (tests/claims/test_submission.py); the batch's PayloadID."""
    env = app_env(
        settings.database_url, settings.redis_url,
        HEARTH_REDIS_NAMESPACE=namespace,
        HEARTH_CLEARINGHOUSE_URL=f"{stack.simulator}/core",
        HEARTH_PLATFORM_NPI=settings.platform_npi,
        HEARTH_CLAIM_HOLD_HOURS=str(HOLD_HOURS),
        HEARTH_OUTBOX_VISIBILITY_S="5",
    )  # fmt: skip

    async def row_done() -> bool:
        async with stack.pool.acquire() as conn:
            done: bool = await conn.fetchval(
                "SELECT bool_and(completed_at IS NOT NULL) FROM outbox"
                " WHERE job = 'submit_claims' AND available_at <= $1",
                due,
            )
        return bool(done)

    return (await kill_mid_submission(stack, env, tmp_path, row_done)).payload_id


async def test_the_relay_hands_the_row_to_arq_when_due_and_a_killed_worker_is_swept_back(
    stack: Stack,  # noqa: F811
    clock: Clock,
    redis_namespace: str,
    tmp_path: Path,
) -> None:
    """A real arq worker takes the completion's row once the hold has passed, is SIGKILLed
    while the payer is slow to answer the 837, and a second worker gets the row back from the
    sweeper (visibility timeout) and sends the same batch: the claim reaches the payer once."""
    settings = msgspec.structs.replace(stack.settings, claim_hold_hours=HOLD_HOURS)
    async with transaction(stack.pool) as conn:
        assert stack.provider.provider_id is not None
        await approve(conn, stack.ops, stack.provider.provider_id, stack.payer_id)
        await price_everything(conn, stack.ops, stack.provider.provider_id, stack.payer_id)
    claim_id = await _complete_in_world(stack, settings)
    completed_at = clock.now()
    clock.advance(timedelta(hours=1))
    second = await _complete_in_world(stack, settings)  # its hold ends an hour later
    async with stack.pool.acquire() as conn:
        [(_, _, due)] = await _open_row(conn, stack.payer_id)
    assert due == completed_at + timedelta(hours=HOLD_HOURS)  # the earliest wins
    namespace = f"{redis_namespace}-timing-{uuid.uuid4().hex[:6]}"
    queue = await create_arq_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=f"{namespace}:queue"
    )
    try:
        # Before the hold ends the relay hands nothing out.
        handed = await outbox.relay(
            stack.pool, queue, due - timedelta(seconds=1), namespace=namespace, visibility_s=5
        )
        assert handed == 0
    finally:
        await queue.aclose()
    clock.advance(timedelta(hours=HOLD_HOURS) - timedelta(hours=1) + timedelta(seconds=30))
    payload_id = await _submit_with_a_killed_worker(stack, settings, namespace, due, tmp_path)
    (sent,) = await _batches(stack)
    assert (sent.payload_id, sent.status) == (payload_id, "sent")
    async with stack.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, status FROM claims WHERE id = ANY($1)", [claim_id, second]
        )
        statuses = {row["id"]: row["status"] for row in rows}
        clm01 = await conn.fetchval(
            "SELECT clm01 FROM claim_submissions WHERE claim_id = $1", claim_id
        )
        ready_at = await _ready_at(conn, str(second))
        nxt = await _open_row(conn, stack.payer_id)
    assert statuses[second] == "ready"
    assert statuses[claim_id] != "ready"
    assert await _adjudicated(stack) == {clm01: 1}
    # The run queued the row of the claim still in its hold, due when that hold ends.
    assert [row[2] for row in nxt] == [ready_at + timedelta(hours=HOLD_HOURS)]
