"""Benefit checks and estimates end to end: the API and the clearinghouse simulator as real
processes, over a database holding the demo world (whose members the simulator knows)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from services.core import clock
from services.core.auth import Actor, issue_access_token
from services.core.settings import Settings
from services.dev.demo_data import load_demo_data
from tests.conftest import clone_template, drop_database
from tests.infra.clearinghouse.conftest import clearinghouse  # noqa: F401 - the simulator fixture
from tests.live import api_server, app_env

# The simulator's world holds claims of 2026 (its accumulators, deductibles met in February):
# every process of this module (the test, the API, workers) runs as of this instant, ticking
# on from when the world was made, so the figures hold on any day the suite runs.
AS_OF = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


class World(msgspec.Struct, kw_only=True):
    api: str
    simulator: str
    db: str
    tokens: dict[str, str]  # who -> Authorization header value
    policies: dict[str, str]  # client first name -> policy id
    clients: dict[str, str]
    providers: dict[str, str]  # provider first name -> id
    made: float  # time.time() when the world was made at AS_OF


async def _load(
    url: str, settings: Settings
) -> tuple[dict[str, tuple[Actor, int]], dict[str, dict[str, str]]]:
    """Who is who, each with their token version (accepting an invitation bumped it)."""
    await load_demo_data(msgspec.structs.replace(settings, database_url=url))
    conn = await asyncpg.connect(url)
    try:
        ops = await conn.fetchval("SELECT id FROM users WHERE role = 'ops'")
        providers = await conn.fetch("SELECT id, user_id, first_name FROM providers")
        clients = await conn.fetch(
            "SELECT c.id, c.user_id, c.first_name, p.id AS policy_id FROM clients c"
            " JOIN insurance_policies p ON p.client_id = c.id"
        )
        versions = dict(await conn.fetch("SELECT id, token_version FROM users"))
    finally:
        await conn.close()
    actors = {"ops": Actor(user_id=ops, role="ops")}
    for p in providers:
        actors[p["first_name"]] = Actor(user_id=p["user_id"], role="provider", provider_id=p["id"])
    for c in clients:
        actors[c["first_name"]] = Actor(user_id=c["user_id"], role="client", client_id=c["id"])
    ids = {
        "policies": {c["first_name"]: str(c["policy_id"]) for c in clients},
        "clients": {c["first_name"]: str(c["id"]) for c in clients},
        "providers": {p["first_name"]: str(p["id"]) for p in providers},
    }
    return {who: (actor, versions[actor.user_id]) for who, actor in actors.items()}, ids


@contextmanager
def running_world(
    config: pytest.Config,
    settings: Settings,
    namespace: str,
    simulator: str,
    tmp: Path,
    **env: str,
) -> Iterator[tuple[World, dict[str, Actor]]]:
    """The demo world in a database of its own, as of AS_OF, served by a real API process
    (`env` adds settings) against the simulator; dropped afterwards."""
    name = f"hearth_elig_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(clone_template(config, name))
    made = time.time()
    clock.CLOCK.shift_to(AS_OF)
    try:
        actors, ids = asyncio.run(_load(url, settings))
        server_env = app_env(
            url,
            settings.redis_url,
            HEARTH_REDIS_NAMESPACE=namespace,
            HEARTH_CLEARINGHOUSE_URL=f"{simulator}/core",
            HEARTH_CLEARINGHOUSE_DEADLINE_S="3",
            HEARTH_CLEARINGHOUSE_TIMEOUT_S="2",
            **env,
        )
        with api_server(server_env, tmp) as base:
            signed = {
                who: issue_access_token(actor, settings, version=ver, session_id=uuid.uuid4())
                for who, (actor, ver) in actors.items()
            }
            tokens = {who: f"Bearer {value}" for who, value in signed.items()}
            world = World(api=base, simulator=simulator, db=url, tokens=tokens, made=made, **ids)
            yield world, {who: actor for who, (actor, _) in actors.items()}
    finally:
        asyncio.run(drop_database(os.environ["HEARTH_TEST_SERVER_URL"], name))


@pytest.fixture(scope="module")
def world(
    pytestconfig: pytest.Config,
    settings: Settings,
    redis_namespace: str,
    clearinghouse: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("elig")
    namespace = f"{redis_namespace}-elig"
    with running_world(pytestconfig, settings, namespace, clearinghouse, tmp) as (world, _):
        yield world


def _check(world: World, who: str, client: str, **extra: Any) -> httpx.Response:
    body = {"policy_id": world.policies[client], **extra}
    return httpx.post(
        f"{world.api}/benefit-checks",
        json=body,
        headers={"Authorization": world.tokens[who]},
        timeout=30,
    )


@pytest.fixture(autouse=True)
def on_world_time(world: World) -> None:
    """This process on the world's timeline (workers started here inherit it)."""
    clock.CLOCK.shift_to(AS_OF + timedelta(seconds=time.time() - world.made))


@pytest.fixture(autouse=True)
def normal_simulator(world: World) -> Iterator[None]:
    httpx.post(f"{world.simulator}/_admin/reset")
    yield
    httpx.post(f"{world.simulator}/_admin/reset")


def test_copay_plan_round_trip_and_reuse(world: World) -> None:
    first = _check(world, "ops", "Jordan", provider_id=world.providers["Maya"], refresh=True)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "active"
    assert body["benefits"]["in_network"]["copay"] == {"cents": 3000, "source": "MH"}
    again = _check(world, "ops", "Jordan", provider_id=world.providers["Maya"])
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert again.json()["reused"] is True


@pytest.mark.parametrize(
    ("client", "status", "check"),
    [
        ("Casey", "active", lambda b: b["in_network"]["coinsurance"]["value"] == "0.2"),
        ("Riley", "active", lambda b: b["in_network"]["out_of_pocket"]["remaining"]["cents"] == 0),
        ("Avery", "active", lambda b: b["in_network"]["visits_remaining"]["value"] == 2),
        ("Quinn", "active", lambda b: b["in_network"]["copay"]["source"] == "30"),
        ("Alex", "active", lambda b: b["in_network"]["deductible"]["remaining"]["cents"] == 90000),
        ("Morgan", "inactive", lambda b: True),
        (
            "Sydney",
            "active",  # the plan stays active and covered; only MH's figures are empty
            lambda b: (
                b["carve_out"]["name"] == "Mindful Behavioral Health"
                and b["in_network"]["covered"] is True
                and b["in_network"]["copay"] is None
            ),
        ),
        ("Taylor", "active", lambda b: b["in_network"]["prior_auth_required"] is True),
        ("Jamie", "active", lambda b: b["out_of_network"]["coinsurance"]["value"] == "0.4"),
    ],
)
def test_each_plan_shape_through_the_api(
    world: World, client: str, status: str, check: Any
) -> None:
    response = _check(world, "ops", client, refresh=True)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == status, body
    assert check(body["benefits"]), body["benefits"]


def test_an_unknown_member_is_a_final_rejection(world: World) -> None:
    conn_url = world.db

    async def unknown_member() -> None:
        conn = await asyncpg.connect(conn_url)
        try:
            await conn.execute(
                "UPDATE insurance_policies SET member_id = 'NOPE0000' WHERE id = $1",
                uuid.UUID(world.policies["Riley"]),
            )
        finally:
            await conn.close()

    asyncio.run(unknown_member())
    response = _check(world, "ops", "Riley", refresh=True)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "rejected"
    assert body["benefits"]["rejections"][0]["code"] == "75"


def sql(world: World, query: str, *args: Any) -> Any:
    """The first value `query` gives, in the world's database (test_checks_guarded uses it too)."""

    async def run() -> Any:
        conn = await asyncpg.connect(world.db)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("member_id", "status", "copay_period", "visit_limit_period"),
    [
        ("EVG100023", "unknown", "visit", None),  # no coverage line: never inactive
        ("EVG100021", "active", "calendar_year", "calendar_year"),  # copay with EB06 23
        ("EVG100022", "active", "visit", None),  # EB01 5: pending investigation, still active
    ],
)
def test_issue13_statuses_and_periods_are_stored_and_reused(
    world: World, member_id: str, status: str, copay_period: str, visit_limit_period: str | None
) -> None:
    """Jordan's policy pointed at a world member with the same person on another plan."""
    policy = uuid.UUID(world.policies["Jordan"])
    sql(world, "UPDATE insurance_policies SET member_id = $2 WHERE id = $1", policy, member_id)
    try:
        first = _check(world, "ops", "Jordan", refresh=True)
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["status"] == status
        tier = body["benefits"]["in_network"]
        assert (tier["copay_period"], tier["visit_limit_period"]) == (
            copay_period,
            visit_limit_period,
        )
        check_id = uuid.UUID(body["id"])
        assert sql(world, "SELECT status FROM benefit_checks WHERE id = $1", check_id) == status
        again = _check(world, "ops", "Jordan")
        assert again.status_code == 200
        assert (again.json()["id"], again.json()["reused"]) == (body["id"], True)
        # What the API answered is what its OpenAPI documents.
        schemas = httpx.get(f"{world.api}/schema/openapi.json").json()["components"]["schemas"]
        tier_props = schemas["TierBenefits"]["properties"]
        assert set(tier) <= set(tier_props)
        for name in ("copay_period", "visit_limit_period"):
            assert "calendar_year" in json.dumps(tier_props[name]), tier_props[name]
        assert "warnings" in schemas["Benefits"]["properties"]
        assert status in json.dumps(schemas["BenefitCheckOut"]["properties"]["status"])
    finally:
        sql(world, "UPDATE insurance_policies SET member_id = 'EVG100001' WHERE id = $1", policy)
        sql(
            world, "DELETE FROM benefit_checks WHERE policy_id = $1 AND provider_id IS NULL", policy
        )


def test_simulator_down_is_a_clear_503_and_stores_nothing(world: World) -> None:
    async def count() -> int:
        conn = await asyncpg.connect(world.db)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM benefit_checks"))
        finally:
            await conn.close()

    before = asyncio.run(count())
    httpx.post(f"{world.simulator}/_admin/mode", json={"mode": "down"})
    response = _check(world, "ops", "Taylor", refresh=True)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "clearinghouse_unavailable"
    assert asyncio.run(count()) == before


def test_a_transient_rejection_keeps_the_last_good_answer(world: World) -> None:
    good = _check(world, "ops", "Casey", refresh=True).json()
    httpx.post(f"{world.simulator}/_admin/mode", json={"mode": "aaa42"})
    response = _check(world, "ops", "Casey", refresh=True)
    assert response.status_code == 201
    body = response.json()
    assert body["retry_pending"] is True
    assert body["id"] == good["id"]
    assert body["status"] == "active"


def test_who_may_check(world: World) -> None:
    # The client themself, and their provider (a session is booked), may; others get 404.
    assert _check(world, "Jordan", "Jordan").status_code in (200, 201)
    assert _check(world, "Maya", "Jordan").status_code in (200, 201)
    assert _check(world, "Sam", "Jordan").status_code == 404  # no session together
    assert _check(world, "Casey", "Jordan").status_code == 404  # another client's policy
    assert httpx.post(f"{world.api}/benefit-checks", json={}).status_code == 401


def test_estimate_for_a_copay_plan_with_five_sessions(world: World) -> None:
    response = httpx.post(
        f"{world.api}/estimates",
        json={
            "policy_id": world.policies["Jordan"],
            "provider_id": world.providers["Maya"],
            "cpt_code": "90834",
            "sessions": 5,
        },
        # Ops' full view (the client's own view hides the allowed amount: test_checks_guarded).
        headers={"Authorization": world.tokens["ops"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["network"] == "in"
    assert body["allowed_cents"] == 10500
    sessions = body["projection"]["sessions"]
    assert len(sessions) == 5
    assert [s["client_cents"] for s in sessions] == [3000] * 5
    assert all(s["client_cents"] + s["insurer_cents"] == 10500 for s in sessions)
    assert any(line["kind"] == "copay" for line in sessions[0]["lines"])


def test_rechecks_are_queued_once_and_each_runs_once(world: World, settings: Settings) -> None:
    from services.clearinghouse.client import CoreHttpClient
    from services.core.db import create_pool, transaction
    from services.eligibility.rechecks import queue_rechecks, run_recheck

    live = msgspec.structs.replace(
        settings,
        database_url=world.db,
        clearinghouse_url=f"{world.simulator}/core",
    )

    async def scenario() -> None:
        pool = await create_pool(world.db, min_size=1, max_size=3)
        client_ch = CoreHttpClient.from_settings(live)
        try:
            async with transaction(pool) as conn:
                # Nothing on file this month, nothing queued (an earlier test's AAA 42 queued one).
                await conn.execute("DELETE FROM benefit_checks")
                await conn.execute("UPDATE outbox SET completed_at = now()")
                queued = await queue_rechecks(conn, clock.today(), 30)
                again = await queue_rechecks(conn, clock.today(), 30)
                rows = await conn.fetch(
                    "SELECT id FROM outbox WHERE job = 'recheck_benefits' AND completed_at IS NULL"
                )
            assert queued == 5  # the demo world's five booked sessions
            assert again == 0
            outcomes = [await run_recheck(pool, client_ch, live, r["id"]) for r in rows]
            assert sorted(outcomes) == ["active"] * 5
            assert await run_recheck(pool, client_ch, live, rows[0]["id"]) == "done already"
            async with transaction(pool) as conn:
                checks = await conn.fetchval(
                    "SELECT count(*) FROM benefit_checks WHERE requested_by IS NULL"
                )
                audit_rows = await conn.fetchval(
                    "SELECT count(*) FROM audit_events"
                    " WHERE entity = 'benefit_check' AND actor_role = 'system'"
                )
            assert checks == 5
            assert audit_rows == 5
        finally:
            await client_ch.aclose()
            await pool.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("who", "read", "x12", "listing"),
    [
        ("ops", 200, 200, 200),
        ("Maya", 200, 403, 200),  # Jordan's provider: a session is booked
        ("Sam", 404, 403, 404),  # a provider without a session together
        ("Jordan", 200, 403, 200),  # the client themself
        ("Casey", 404, 403, 404),  # another client
        (None, 401, 401, 401),
    ],
)
def test_reading_checks_matrix(
    world: World, who: str | None, read: int, x12: int, listing: int
) -> None:
    made = _check(world, "ops", "Jordan", provider_id=world.providers["Maya"]).json()
    headers = {"Authorization": world.tokens[who]} if who else {}
    one = httpx.get(f"{world.api}/benefit-checks/{made['id']}", headers=headers)
    raw = httpx.get(f"{world.api}/benefit-checks/{made['id']}/x12", headers=headers)
    listed = httpx.get(
        f"{world.api}/benefit-checks",
        params={"client_id": world.clients["Jordan"]},
        headers=headers,
    )
    unknown = httpx.get(f"{world.api}/benefit-checks/{uuid.uuid4()}", headers=headers)
    assert (one.status_code, raw.status_code, listed.status_code) == (read, x12, listing)
    assert unknown.status_code == (401 if who is None else 404)
    for response in (one, listed):
        if response.status_code == 404:
            assert "EVG100001" not in response.text  # nothing of Jordan's leaks
    if listing == 200:
        assert made["id"] in {item["id"] for item in listed.json()["items"]}


def test_estimate_refusals(world: World) -> None:
    def estimate(who: str, client: str, provider: str) -> int:
        return httpx.post(
            f"{world.api}/estimates",
            json={
                "policy_id": world.policies[client],
                "provider_id": world.providers[provider],
                "cpt_code": "90834",
            },
            headers={"Authorization": world.tokens[who]},
            timeout=30,
        ).status_code

    assert estimate("Casey", "Jordan", "Maya") == 404  # another client's policy
    assert estimate("Sam", "Jordan", "Sam") == 404  # no session with Jordan
    assert estimate("Maya", "Jordan", "Sam") == 422  # a provider estimates for themself


def test_a_real_worker_relays_and_runs_a_queued_recheck(
    world: World, settings: Settings, redis_namespace: str, tmp_path: Any
) -> None:
    """The arq worker process: the relay cron hands the outbox row over, the job asks the
    simulator and completes the row."""
    import sys

    from tests.live import process, wait_until, wait_worker_started

    policy = uuid.UUID(world.policies["Avery"])
    provider = uuid.UUID(world.providers["Maya"])

    async def arrange() -> int:
        conn = await asyncpg.connect(world.db)
        try:
            await conn.execute("UPDATE outbox SET completed_at = now()")
            await conn.execute("DELETE FROM benefit_checks WHERE policy_id = $1", policy)
            return int(
                await conn.fetchval(
                    "INSERT INTO outbox (job, payload, created_at, available_at)"
                    " VALUES ('recheck_benefits', $1::jsonb, $2, $2) RETURNING id",
                    f'{{"policy_id": "{policy}", "provider_id": "{provider}"}}',
                    clock.now(),
                )
            )
        finally:
            await conn.close()

    async def state(row: int) -> tuple[bool, int]:
        conn = await asyncpg.connect(world.db)
        try:
            done = await conn.fetchval(
                "SELECT completed_at IS NOT NULL FROM outbox WHERE id = $1", row
            )
            checks = await conn.fetchval(
                "SELECT count(*) FROM benefit_checks WHERE policy_id = $1 AND requested_by IS NULL",
                policy,
            )
            return bool(done), int(checks)
        finally:
            await conn.close()

    row = asyncio.run(arrange())
    env = app_env(
        world.db,
        settings.redis_url,
        HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-worker-{uuid.uuid4().hex[:6]}",
        HEARTH_CLEARINGHOUSE_URL=f"{world.simulator}/core",
    )
    log = tmp_path / "worker.log"
    worker = [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"]
    with process(worker, env, log) as proc:
        wait_worker_started(proc, log)
        # The relay runs every 5 s (its own, under this namespace: see workers/settings.py).
        wait_until(lambda: asyncio.run(state(row))[0], proc, log, timeout=60)
    assert asyncio.run(state(row)) == (True, 1), log.read_text()[-3000:]


def test_a_worker_killed_mid_check_leaves_the_row_to_the_next_worker(
    world: World, settings: Settings, redis_namespace: str, tmp_path: Any
) -> None:
    """SIGKILL while the job waits on the payer: nothing is stored, the relay hands the row out
    again under a new job id after the visibility timeout, and one check is stored in the end."""
    import os
    import signal
    import sys
    import time

    from tests.live import process, wait_until, wait_worker_started

    policy = uuid.UUID(world.policies["Casey"])
    provider = uuid.UUID(world.providers["Sam"])

    async def sql(query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(world.db)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    asyncio.run(sql("UPDATE outbox SET completed_at = now()"))
    asyncio.run(sql("DELETE FROM benefit_checks WHERE policy_id = $1", policy))
    row = asyncio.run(
        sql(
            "INSERT INTO outbox (job, payload, created_at, available_at)"
            " VALUES ('recheck_benefits', $1::jsonb, $2, $2) RETURNING id",
            f'{{"policy_id": "{policy}", "provider_id": "{provider}"}}',
            clock.now(),
        )
    )
    env = app_env(
        world.db,
        settings.redis_url,
        HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-crash-{uuid.uuid4().hex[:6]}",
        HEARTH_CLEARINGHOUSE_URL=f"{world.simulator}/core",
        HEARTH_OUTBOX_VISIBILITY_S="5",
    )
    worker = [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"]
    httpx.post(f"{world.simulator}/_admin/mode", json={"mode": "slow", "delay_s": 15})
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    with process(worker, env, logs[0]) as first:
        wait_worker_started(first, logs[0])
        handed_over = "SELECT attempts > 0 FROM outbox WHERE id = $1"
        wait_until(lambda: asyncio.run(sql(handed_over, row)), first, logs[0], timeout=30)
        time.sleep(1)  # the job is now waiting on the slow payer
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert asyncio.run(sql("SELECT completed_at IS NULL FROM outbox WHERE id = $1", row))
    assert asyncio.run(sql("SELECT count(*) FROM benefit_checks WHERE policy_id = $1", policy)) == 0
    httpx.post(f"{world.simulator}/_admin/mode", json={"mode": "normal"})
    with process(worker, env, logs[1]) as second:
        wait_worker_started(second, logs[1])
        done = "SELECT completed_at IS NOT NULL FROM outbox WHERE id = $1"
        wait_until(lambda: asyncio.run(sql(done, row)), second, logs[1], timeout=60)
    assert asyncio.run(sql("SELECT completed_at IS NOT NULL FROM outbox WHERE id = $1", row))
    assert asyncio.run(sql("SELECT attempts FROM outbox WHERE id = $1", row)) >= 2
    assert asyncio.run(sql("SELECT count(*) FROM benefit_checks WHERE policy_id = $1", policy)) == 1
