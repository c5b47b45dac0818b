"""Fuzz every operation of the OpenAPI against a real server: no input may produce a 5xx.

The server runs under uvicorn as its own process, over a database of its own loaded with the
demo world, and is called with an ops token (the role that reaches the most code), then with a
client's and a provider's.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
)

from services.core.auth import Actor, issue_access_token
from services.core.settings import load_settings
from tests.conftest import clone_template, database_url, drop_database
from tests.live import api_server, app_env


@pytest.fixture(scope="module")
def live_api(
    pytestconfig: pytest.Config,
    redis_url: str,
    redis_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    name = f"hearth_fuzz_{uuid.uuid4().hex[:8]}"
    server = os.environ["HEARTH_TEST_SERVER_URL"]
    url = asyncio.run(clone_template(pytestconfig, name))
    try:
        env = app_env(url, redis_url, HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-fuzz")
        with api_server(env, tmp_path_factory.mktemp("fuzz")) as base:
            yield base
    finally:
        asyncio.run(drop_database(server, name))
    assert database_url(server, name) == url


@pytest.fixture(scope="module")
def api_schema(live_api: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_api}/schema/openapi.json")


@pytest.fixture(scope="module")
def ops_headers() -> dict[str, str]:
    settings = load_settings({"HEARTH_ENV": "test"})
    actor = Actor(user_id=uuid.uuid4(), role="ops")
    return {"Authorization": f"Bearer {issue_access_token(actor, settings)}"}


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hyp_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


EXAMPLES = int(os.environ.get("HEARTH_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_a_server_error(
    api_schema: Any, ops_headers: dict[str, str], mode: GenerationMode
) -> None:
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, mode, ops_headers)
        except Unsatisfiable:
            continue  # nothing to make invalid (no parameters, no body)
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)
