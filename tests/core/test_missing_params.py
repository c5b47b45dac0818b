"""A missing required parameter names it, like every other 400 (issue 12, item 4).

Litestar raises "Missing required query parameter 'x' for path ..." with no error list, which
the handler used to answer as `invalid value for: request`."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from litestar import Litestar, get
from litestar.params import FromHeader, FromQuery
from litestar.testing import TestClient

from services.core.errors import handle_exception
from tests.factories import make_ops


async def test_benefit_checks_without_client_id_names_it(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    ops = await make_ops(db)
    response = await client.get("/benefit-checks", headers=token(ops))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["detail"] == "invalid value for: client_id"
    assert problem["errors"] == [
        {"field": "client_id", "message": "missing required query parameter"}
    ]
    assert "/benefit-checks" not in problem["errors"][0]["message"]


@get("/q", sync_to_thread=False)
def needs_query(day: FromQuery[int]) -> int:
    return day


@get("/h", sync_to_thread=False)
def needs_header(x_key: FromHeader[str]) -> str:
    return x_key


def test_every_route_names_its_missing_parameter() -> None:
    """The mapping is in the app-wide handler, so it holds for any route and parameter kind."""
    app = Litestar([needs_query, needs_header], exception_handlers={Exception: handle_exception})
    with TestClient(app) as http:
        for path, field, kind in (("/q", "day", "query"), ("/h", "x_key", "header")):
            problem = http.get(path).json()
            assert problem["status"] == 400
            assert problem["detail"] == f"invalid value for: {field}", problem
            assert problem["errors"] == [
                {"field": field, "message": f"missing required {kind} parameter"}
            ]
        assert http.get("/q", params={"day": "3"}).json() == 3
