"""A session completed once whatever happens to the API mid-request: a real API process
SIGKILLed at spread points of a completion (before it arrives, inside its transaction, after
the commit and before the answer), then the provider's retry under the same Idempotency-Key on
a restarted API: one claim, one completion entry, the ledger balanced.

HEARTH_KILL_TRIALS(_COMPLETION) sets how many kills: none by default (skipped by `make test`,
which keeps its time), 50 under `make reliability`, which reads what `_completed_once` counted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.core.auth import issue_access_token
from services.core.clock import Clock
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.ledger import service as ledger
from tests.live import app_env, free_port, process, wait_ready
from tests.reliability import kill_trials, record
from tests.therapy_sessions.completion import Visit, arrange, completion_body

TRIALS = kill_trials("completion", default=0)
# The kills spread from the request's sending to this many times a completion's own latency
# (measured on the first API): before it arrives, inside the transaction, after the commit.
SPREAD = 2.5


@contextmanager
def _api(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """A real API process: its base URL and process group."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "uvicorn", "services.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]  # fmt: skip
    with process(args, env, log) as proc:
        wait_ready(base, proc, log)
        yield base, proc.pid


async def _complete(
    base: str, settings: Settings, visit: Visit, key: str, body: dict[str, object]
) -> httpx.Response:
    signed = issue_access_token(visit.provider, settings, version=0, session_id=uuid.uuid4())
    headers = {"Authorization": f"Bearer {signed}", "Idempotency-Key": key}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        return await http.post(
            f"/therapy-sessions/{visit.session.id}/complete", json=body, headers=headers
        )


async def _completed(pool: asyncpg.Pool, visit: Visit) -> bool:
    status = await pool.fetchval(
        "SELECT status FROM therapy_sessions WHERE id = $1", visit.session.id
    )
    return bool(status == "confirmed")


async def _kill_during(
    base: str, pid: int, settings: Settings, visit: Visit, key: str, body: dict[str, object],
    delay: float,
) -> None:  # fmt: skip
    """The completion sent, the API SIGKILLed `delay` later whatever it was doing."""
    sent = asyncio.create_task(_complete(base, settings, visit, key, body))
    await asyncio.sleep(delay)
    os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(httpx.HTTPError):
        await sent  # answered before the kill, or cut off by it


@pytest.mark.skipif(TRIALS == 0, reason="make reliability runs it (HEARTH_KILL_TRIALS)")
async def test_an_api_killed_mid_completion_completes_each_session_once(
    committed_db: str, settings: Settings, redis_namespace: str, clock: Clock, tmp_path: Path
) -> None:
    pool = await create_pool(committed_db, min_size=1, max_size=3)
    namespace = f"{redis_namespace}-ck-{uuid.uuid4().hex[:6]}"
    env = app_env(committed_db, settings.redis_url, HEARTH_REDIS_NAMESPACE=namespace)
    try:
        async with transaction(pool) as conn:
            visits = [await arrange(conn, settings) for _ in range(TRIALS + 1)]
        body = completion_body()
        keys = [f"complete-{uuid.uuid4().hex}" for _ in visits]
        outcomes: Counter[str] = Counter()
        retried: list[int] = []
        latency = 0.0
        for trial in range(TRIALS + 1):
            with _api(env, tmp_path / f"api-{trial}.log") as (base, pid):
                if trial == 0:  # the calibration: a completion left to finish
                    started = time.monotonic()
                    answer = await _complete(base, settings, visits[0], keys[0], body)
                    latency = time.monotonic() - started
                    assert answer.status_code == 200, answer.text
                    continue
                # The previous trial's completion tried again, as the provider would.
                if trial > 1:
                    last = trial - 1
                    again = await _complete(base, settings, visits[last], keys[last], body)
                    retried.append(again.status_code)
                delay = SPREAD * latency * (trial - 1) / max(1, TRIALS - 1)
                visit = visits[trial]
                await _kill_during(base, pid, settings, visit, keys[trial], body, delay)
            outcomes["completed" if await _completed(pool, visit) else "not completed"] += 1
        with _api(env, tmp_path / "api-last.log") as (base, _):
            again = await _complete(base, settings, visits[-1], keys[-1], body)
            retried.append(again.status_code)
        await _completed_once(pool, visits)
        assert retried == [200] * TRIALS, retried
        if TRIALS >= 10:  # the kills landed on both sides of the commit
            assert outcomes["completed"], outcomes
            assert outcomes["not completed"], outcomes
    finally:
        await pool.close()


async def _completed_once(pool: asyncpg.Pool, visits: list[Visit]) -> None:
    """Each session completed, with one claim and one completion entry; the ledger balanced."""
    ids = [v.session.id for v in visits]
    rows = await pool.fetch(
        "SELECT s.id, s.status,"
        " (SELECT count(*) FROM claims c WHERE c.therapy_session_id = s.id) AS claims,"
        " (SELECT count(*) FROM journal_entries j WHERE j.source_id = s.id"
        "  AND j.kind = 'completion') AS entries"
        " FROM therapy_sessions s WHERE s.id = ANY($1)",
        ids,
    )
    lost = sum(1 for r in rows if r["status"] != "confirmed" or not r["claims"] or not r["entries"])
    duplicated = sum(max(0, r["claims"] - 1) + max(0, r["entries"] - 1) for r in rows)
    record("completion", tried=len(visits) - 1, lost=lost, duplicated=duplicated)
    assert (lost, duplicated) == (0, 0), [dict(r) for r in rows]
    async with pool.acquire() as conn:
        assert (await ledger.get_trial_balance(conn)).imbalance_cents == 0
