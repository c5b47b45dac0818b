"""Fuzz every operation of the OpenAPI against a real server.

The server runs under uvicorn as its own process, over a database of its own loaded with the
demo world, and is called as the demo's ops user, provider and client. Checked: no input makes
a 5xx; every status, content type, header and body is the documented one; invalid input is
refused. (Schema-valid input that breaks a business rule, such as a date of birth in the
future, is rightly refused with 422, so "valid data is accepted" is not checked.)

HEARTH_FUZZ_EXAMPLES sets the examples per operation, generation mode and role (4 by default,
about 2,800 requests: every operation in every mode and role within `make test`'s budget;
`make reliability` asks for 10, at least 5,000 requests, and reads what was sent).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.core.auth import Actor, issue_access_token
from services.core.settings import Settings
from services.dev.demo_data import PROVIDERS, load_demo_data
from tests.conftest import clone_template, drop_database
from tests.live import api_server, app_env
from tests.reliability import record

EXAMPLES = int(os.environ.get("HEARTH_FUZZ_EXAMPLES", "4"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
TOKEN_RESTORED_CHECKS = [check for check in CHECKS if check is not negative_data_rejection]


async def _world(url: str, settings: Settings) -> dict[str, tuple[Actor, int]]:
    """The demo world's ops user and a provider, each with their token version."""
    await load_demo_data(msgspec.structs.replace(settings, database_url=url))
    conn = await asyncpg.connect(url)
    try:
        ops = await conn.fetchval("SELECT id FROM users WHERE role = 'ops'")
        provider = await conn.fetchrow(
            "SELECT p.id, p.user_id FROM providers p JOIN users u ON u.id = p.user_id"
            " WHERE u.email = $1",
            PROVIDERS[0].email,
        )
        versions = dict(await conn.fetch("SELECT id, token_version FROM users"))
    finally:
        await conn.close()
    return {
        "ops": (Actor(user_id=ops, role="ops"), versions[ops]),
        "provider": (
            Actor(user_id=provider["user_id"], role="provider", provider_id=provider["id"]),
            versions[provider["user_id"]],
        ),
    }


@pytest.fixture(scope="module")
def live_api(
    pytestconfig: pytest.Config,
    settings: Settings,
    redis_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, tuple[Actor, int]]]]:
    name = f"hearth_fuzz_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(clone_template(pytestconfig, name))
    try:
        actors = asyncio.run(_world(url, settings))
        env = app_env(
            url,
            settings.redis_url,
            HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-fuzz",
            # Nothing listens there: checks answer 503 quickly instead of waiting out retries.
            HEARTH_CLEARINGHOUSE_URL="http://127.0.0.1:9/core",
            HEARTH_CLEARINGHOUSE_TIMEOUT_S="0.5",
            HEARTH_CLEARINGHOUSE_DEADLINE_S="0.5",
        )
        with api_server(env, tmp_path_factory.mktemp("fuzz")) as base:
            yield base, actors
    finally:
        asyncio.run(drop_database(os.environ["HEARTH_TEST_SERVER_URL"], name))


def _drops_token(case: Any) -> bool:
    """Whether a negative case left the Authorization header out on purpose.

    The security scheme makes the bearer header required, so a negative case may drop it;
    adding our token back can leave a request that is valid after all (schemathesis also marks
    a query negative whose extra parameter serialized to nothing), answered 200, which
    schemathesis reports as "schema-violating request accepted".
    """
    meta = case.meta
    header = meta.components.get(ParameterLocation.HEADER) if meta is not None else None
    own = {name.lower() for name in (case.headers or {})}
    return (
        header is not None and header.mode is GenerationMode.NEGATIVE and "authorization" not in own
    )


def _counting_session(statuses: list[int]) -> requests.Session:
    """A session that notes the status of every response the fuzzing got."""
    session = requests.Session()

    def note(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        statuses.append(response.status_code)

    session.hooks["response"].append(note)
    return session


def _fuzz(
    operation: Any, mode: GenerationMode, headers: dict[str, str], session: requests.Session
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hyp_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        if not _drops_token(case):
            case.call_and_validate(session=session, headers=headers, checks=CHECKS)
            return
        # As the case means it (no token: a 401 is the rejection it expects), then with our
        # token so the rest of the case still reaches the handler, minus the rejection check
        # (whether what is left is invalid is no longer known).
        case.call_and_validate(session=session, checks=CHECKS)
        case.call_and_validate(session=session, headers=headers, checks=TOKEN_RESTORED_CHECKS)

    run()


@pytest.mark.parametrize("role", ["ops", "provider"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_under_fuzzing(
    live_api: tuple[str, dict[str, tuple[Actor, int]]],
    settings: Settings,
    mode: GenerationMode,
    role: str,
) -> None:
    base, actors = live_api
    actor, version = actors[role]
    signed = issue_access_token(actor, settings, version=version, session_id=uuid.uuid4())
    headers = {"Authorization": f"Bearer {signed}"}
    # The API checks tokens against their user: a stale one would fuzz nothing but 401s.
    assert httpx.get(f"{base}/auth/me", headers=headers).status_code == 200
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    failures = []
    statuses: list[int] = []
    with _counting_session(statuses) as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            try:
                _fuzz(operation, mode, headers, session)
            except Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body)
            except Exception as exc:
                failures.append(f"{operation.label}: {exc}")
    record("openapi", tried=len(statuses), failures=sum(1 for s in statuses if s >= 500))
    assert failures == [], "\n\n".join(failures)
