"""Refuse query parameters a route does not declare, as request bodies refuse unknown fields.

A misspelt filter (`?statuss=denied`) would otherwise answer an unfiltered list as if it were
the filtered one.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from services.core.errors import DomainError


class UnknownQueryParameter(DomainError):
    status, code, title = 400, "unknown_query_parameter", "Invalid request"


def _declared(app: Litestar) -> dict[tuple[str, str], frozenset[str]]:
    declared: dict[tuple[str, str], frozenset[str]] = {}
    for path, item in (app.openapi_schema.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            names = frozenset(
                p.name
                for p in operation.parameters or []
                if getattr(p, "param_in", None) is not None and p.param_in.value == "query"
            )
            declared[(path, method.upper())] = names
    return declared


def refuse_unknown_query_params(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """App-wide guard: every query parameter must be one the operation declares."""
    if not connection.query_params:
        return
    app = connection.app
    table = app.state.get("declared_query_params")
    if table is None:
        table = app.state["declared_query_params"] = _declared(app)
    key = (str(connection.scope.get("path_template", "")), str(connection.scope.get("method", "")))
    allowed = table.get(key)
    if allowed is None:  # not an operation of ours (the schema viewer, say)
        return
    for name in connection.query_params:
        if name not in allowed:
            raise UnknownQueryParameter(f"unknown query parameter {name!r}", field=name or "query")
        if len(connection.query_params.getall(name)) > 1:
            # Every parameter of ours is a single value; which of two would win is a guess.
            raise UnknownQueryParameter(f"query parameter {name!r} is repeated", field=name)
