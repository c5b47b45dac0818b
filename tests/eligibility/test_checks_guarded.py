"""Issue 12 items 3g-3k against the API and the clearinghouse simulator as real processes:
refresh limits, the information receiver rule, stored values a 270 cannot carry, what an
estimate shows to whom, and upstream error text. Tests may run on any xdist worker (each builds
its own world), so each resets the state it relies on."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from redis import Redis

from schemas.benefit_checks import BenefitCheckIn
from services.clearinghouse.client import CoreHttpClient
from services.clearinghouse.errors import ClearinghouseError
from services.core import clock
from services.core.auth import Actor
from services.core.db import create_pool
from services.core.settings import Settings
from services.eligibility import service
from tests.eligibility.test_checks_live import (
    World,
    on_world_time,  # noqa: F401 - autouse
    running_world,
    sql,
)
from tests.infra.clearinghouse.conftest import clearinghouse  # noqa: F401 - the simulator fixture

MIN_INTERVAL_S = 3600
PER_CALLER = 2
PER_OPS = 4


class Guarded(World, kw_only=True):
    namespace: str
    actors: dict[str, Actor]
    redis_url: str


@pytest.fixture(scope="module")
def world(
    pytestconfig: pytest.Config,
    settings: Settings,
    redis_namespace: str,
    clearinghouse: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Guarded]:
    namespace = f"{redis_namespace}-guard"
    with running_world(
        pytestconfig,
        settings,
        namespace,
        clearinghouse,
        tmp_path_factory.mktemp("guard"),
        HEARTH_BENEFIT_REFRESH_MIN_INTERVAL_S=str(MIN_INTERVAL_S),
        HEARTH_BENEFIT_REFRESH_MAX_PER_CALLER=str(PER_CALLER),
        HEARTH_BENEFIT_REFRESH_MAX_PER_OPS=str(PER_OPS),
    ) as (world, actors):
        yield Guarded(
            **msgspec.structs.asdict(world),
            namespace=namespace,
            actors=actors,
            redis_url=settings.redis_url,
        )


@pytest.fixture(autouse=True)
def fresh_state(world: Guarded) -> Iterator[None]:
    """No checks on file, no refresh counted, the simulator answering normally."""
    sql(world, "DELETE FROM benefit_checks")
    _flush_refresh_counts(world)
    httpx.post(f"{world.simulator}/_admin/reset")
    yield
    httpx.post(f"{world.simulator}/_admin/reset")


def _flush_refresh_counts(world: Guarded) -> None:
    redis = Redis.from_url(world.redis_url)
    try:
        keys = list(redis.scan_iter(match=f"{world.namespace}:benefit-refresh:*"))
        if keys:
            redis.delete(*keys)
    finally:
        redis.close()


def check(world: Guarded, who: str, client: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{world.api}/benefit-checks",
        json={"policy_id": world.policies[client], **extra},
        headers={"Authorization": world.tokens[who]},
        timeout=30,
    )


def estimate(world: Guarded, who: str, client: str, provider: str, **extra: Any) -> httpx.Response:
    body = {
        "policy_id": world.policies[client],
        "provider_id": world.providers.get(provider, provider),
        "cpt_code": "90834",
        **extra,
    }
    headers = {"Authorization": world.tokens[who]} if who else {}
    return httpx.post(f"{world.api}/estimates", json=body, headers=headers, timeout=30)


def checks_of(world: Guarded, client: str) -> int:
    return int(
        sql(
            world,
            "SELECT count(*) FROM benefit_checks WHERE policy_id = $1",
            uuid.UUID(world.policies[client]),
        )
    )


# 3g: refresh limits ---------------------------------------------------------------------------


def test_refresh_per_policy_waits_the_interval_even_after_a_redis_flush(world: Guarded) -> None:
    """Stops a client or provider from buying a 270 per call for one policy."""
    assert check(world, "Jordan", "Jordan", refresh=True).status_code == 201
    again = check(world, "Jordan", "Jordan", refresh=True)
    assert again.status_code == 429, again.text
    assert again.json()["code"] == "benefit_refresh_too_soon"
    assert MIN_INTERVAL_S - 120 < int(again.headers["Retry-After"]) <= MIN_INTERVAL_S
    _flush_refresh_counts(world)  # the interval is read from the database, not from Redis
    assert check(world, "Jordan", "Jordan", refresh=True).status_code == 429
    by_provider = estimate(world, "Maya", "Jordan", "Maya", refresh=True)
    assert by_provider.status_code == 429
    assert checks_of(world, "Jordan") == 1
    # Without refresh the answer on file still comes back; ops may re-check at once.
    assert check(world, "Jordan", "Jordan").status_code == 200
    assert check(world, "ops", "Jordan", refresh=True).status_code == 201


def test_refresh_per_caller_count_spans_policies(world: Guarded) -> None:
    """Stops one account from spreading paid 270s over many policies."""
    for client in ("Avery", "Alex"):
        assert check(world, "Maya", client, refresh=True).status_code == 201
    refused = check(world, "Maya", "Taylor", refresh=True)
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "benefit_refresh_limit"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert checks_of(world, "Taylor") == 0  # nothing was sent to the payer
    # Ops work for every client: a larger count of their own, still a limit.
    for _ in range(PER_OPS):
        assert check(world, "ops", "Casey", refresh=True).status_code == 201
    assert check(world, "ops", "Casey", refresh=True).status_code == 429


# 3j: who may be the information receiver -------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "client", "provider", "allowed"),
    [
        ("ops", "Jordan", "Maya", True),  # a session is booked
        ("ops", "Jordan", "Sam", True),  # credentialed with Jordan's payer (EVGRN)
        ("ops", "Jordan", "Priya", False),  # neither
        ("ops", "Taylor", "Sam", False),  # denied by Taylor's payer, no session
        ("ops", "Morgan", "Maya", True),  # credentialed with Morgan's payer (BLHBR)
        ("ops", "Jordan", "unknown", False),
        ("Jordan", "Jordan", "Maya", True),
        ("Jordan", "Jordan", "Sam", True),
        ("Jordan", "Jordan", "Priya", False),
        ("Maya", "Jordan", "Maya", True),  # a provider names themself only (422 otherwise)
    ],
)
def test_information_receiver_matrix(
    world: Guarded, who: str, client: str, provider: str, allowed: bool
) -> None:
    provider_id = world.providers.get(provider, str(uuid.uuid4()))
    response = check(world, who, client, provider_id=provider_id)
    if allowed:
        assert response.status_code == 201, response.text
        assert response.json()["provider_id"] == provider_id
        return
    assert response.status_code == 404, response.text
    assert response.json()["errors"][0]["field"] == "provider_id"
    assert checks_of(world, client) == 0  # no 270 went out with that NPI
    via_estimate = estimate(world, who, client, provider_id)
    assert via_estimate.status_code == 404
    assert via_estimate.json()["errors"][0]["field"] == "provider_id"


# 3h: stored values a 270 cannot carry ------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "table", "column", "value", "field"),
    [
        ("Quinn", "clients", "last_name", "Lee~NM1*IL", "client.last_name"),
        ("Riley", "insurance_policies", "member_id", "AB*12", "policy.member_id"),
        ("Casey", "clients", "first_name", "Ca^sey", "client.first_name"),
    ],
)
def test_a_stored_value_the_270_cannot_carry_is_a_422_naming_it(
    world: Guarded, client: str, table: str, column: str, value: str, field: str
) -> None:
    """Rows stored before the input rule existed: a 422 the caller can act on, never a 500."""
    key = "client_id" if table == "clients" else "policy_id"
    row_id = uuid.UUID(world.clients[client] if key == "client_id" else world.policies[client])
    id_column = "id"
    before = sql(world, f"SELECT {column} FROM {table} WHERE {id_column} = $1", row_id)
    sql(world, f"UPDATE {table} SET {column} = $1 WHERE {id_column} = $2", value, row_id)
    try:
        for response in (
            check(world, "ops", client, refresh=True),
            check(world, client, client),
            estimate(world, "ops", client, "Maya" if client != "Casey" else "Sam"),
        ):
            assert response.status_code == 422, response.text
            problem = response.json()
            assert problem["code"] == "x12_unsafe_text"
            assert problem["errors"][0]["field"] == field
            assert value not in response.text
        assert checks_of(world, client) == 0
    finally:
        sql(world, f"UPDATE {table} SET {column} = $1 WHERE {id_column} = $2", before, row_id)


def test_the_recheck_job_parks_a_stored_value_the_270_cannot_carry(
    world: Guarded, settings: Settings
) -> None:
    """The job does not crash and retry every few seconds: it records the field and waits."""
    from services.eligibility.rechecks import run_recheck

    client_id = uuid.UUID(world.clients["Avery"])
    before = sql(world, "SELECT last_name FROM clients WHERE id = $1", client_id)
    sql(world, "UPDATE clients SET last_name = 'Patel*IL' WHERE id = $1", client_id)
    live = msgspec.structs.replace(
        settings, database_url=world.db, clearinghouse_url=f"{world.simulator}/core"
    )
    row = sql(
        world,
        "INSERT INTO outbox (job, payload, created_at, available_at)"
        " VALUES ('recheck_benefits', $1::jsonb, $2, $2) RETURNING id",
        f'{{"policy_id": "{world.policies["Avery"]}", "provider_id": "{world.providers["Maya"]}"}}',
        clock.now(),
    )

    async def run() -> str:
        pool = await create_pool(world.db, min_size=1, max_size=2)
        client = CoreHttpClient.from_settings(live)
        try:
            return await run_recheck(pool, client, live, row)
        finally:
            await client.aclose()
            await pool.close()

    try:
        outcome = asyncio.run(run())
        assert outcome.startswith("refused")
        assert sql(world, "SELECT completed_at IS NULL FROM outbox WHERE id = $1", row)
        error = sql(world, "SELECT last_error FROM outbox WHERE id = $1", row)
        assert "client.last_name" in error
        assert "Patel" not in error
        # Stamped from the clock, which is what the relay compares it with.
        wait = sql(world, "SELECT available_at FROM outbox WHERE id = $1", row) - clock.now()
        assert wait.total_seconds() > 23 * 3600
        assert checks_of(world, "Avery") == 0
    finally:
        sql(world, "UPDATE clients SET last_name = $1 WHERE id = $2", before, client_id)
        sql(world, "UPDATE outbox SET completed_at = now() WHERE id = $1", row)


# 3i: what an estimate shows to whom --------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "provider", "status", "full"),
    [
        ("ops", "Sam", 200, True),
        ("Sam", "Sam", 200, False),  # Casey's provider
        ("Casey", "Sam", 200, False),  # the client
        ("Maya", "Maya", 404, False),  # no session with Casey
        ("Jordan", "Sam", 404, False),  # another client
        (None, "Sam", 401, False),
    ],
)
def test_estimate_view_matrix(
    world: Guarded, who: str | None, provider: str, status: int, full: bool
) -> None:
    """Casey: 20% coinsurance in network with EVGRN, whose allowed amount for 90834 is $105."""
    response = estimate(world, who or "", "Casey", provider)
    assert response.status_code == status, response.text
    if status != 200:
        assert "10500" not in response.text
        return
    body = response.json()
    sessions = body["projection"]["sessions"]
    estimated = [s for s in sessions if s["status"] == "estimated"]
    assert estimated
    if full:
        assert body["allowed_cents"] == 10500
        assert all(s["client_cents"] + s["insurer_cents"] == 10500 for s in estimated)
        assert body["projection"]["insurer_total_cents"] is not None
        return
    # Neither the allowed amount nor the insurer's share (allowed = client + insurer) is shown.
    assert body["allowed_cents"] is None
    assert body["projection"]["insurer_total_cents"] is None
    for s in sessions:
        assert (s["price_cents"], s["insurer_cents"], s["allowed_cents"]) == (None, None, None)
        if s["client_cents"] == 10500:
            continue  # the client owes the whole amount (a deductible after a plan-year reset)
        assert all(line["amount_cents"] != 10500 for line in s["lines"]), s["lines"]
        assert all("$105.00" not in line["text"] for line in s["lines"]), s["lines"]


# 3k: upstream error text -------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "plain"), [("Jordan", True), ("Maya", True), ("ops", False)])
def test_the_clearinghouse_refusal_text_is_for_ops_and_the_logs(
    world: Guarded,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    who: str,
    plain: bool,
) -> None:
    """The simulator refuses a wrong password with its own ErrorMessage."""
    wrong = msgspec.structs.replace(
        settings,
        database_url=world.db,
        clearinghouse_url=f"{world.simulator}/core",
        clearinghouse_password="not-the-password",
    )
    data = BenefitCheckIn(
        policy_id=uuid.UUID(world.policies["Jordan"]),
        provider_id=uuid.UUID(world.providers["Maya"]),
    )

    async def scenario() -> ClearinghouseError:
        pool = await create_pool(world.db, min_size=1, max_size=2)
        client = CoreHttpClient.from_settings(wrong)
        try:
            with pytest.raises(ClearinghouseError) as caught:
                await service.check_benefits(pool, client, wrong, world.actors[who], data)
            return caught.value
        finally:
            await client.aclose()
            await pool.close()

    with caplog.at_level(logging.WARNING, logger="services.eligibility.service"):
        error = asyncio.run(scenario())
    upstream = "UserName or Password is not valid"
    assert error.status == 502
    if plain:
        assert error.detail == service.UPSTREAM_PLAIN
    else:
        assert upstream in error.detail
    logged = [r for r in caplog.records if r.getMessage() == "clearinghouse error"]
    assert [(r.error_code, r.error_message) for r in logged] == [("UnAuthorized", upstream)]  # type: ignore[attr-defined]
