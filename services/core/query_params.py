"""Refuse query parameters a route does not declare, as request bodies refuse unknown fields.

A misspelt filter (`?statuss=denied`) would otherwise answer an unfiltered list as if it were
the filtered one.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from services.core.errors import DomainError


class UnknownQueryParameter(DomainError):
    status, code, title = 400, "unknown_query_parameter", "Invalid request"


# Litestar's lax parsing would read `?from=1700000000` as a date and time; our dates are ISO.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _format(schema: Any) -> str | None:
    """The schema's date or date-time format, looking through anyOf (an optional value)."""
    for candidate in [schema, *(getattr(schema, "any_of", None) or [])]:
        fmt = getattr(candidate, "format", None)
        if fmt is not None and getattr(fmt, "value", fmt) in ("date", "date-time"):
            return str(getattr(fmt, "value", fmt))
    return None


def _declared(app: Litestar) -> dict[tuple[str, str], dict[str, str | None]]:
    """(path template, method) -> {query parameter: its date format, if any}."""
    declared: dict[tuple[str, str], dict[str, str | None]] = {}
    for path, item in (app.openapi_schema.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            declared[(path, method.upper())] = {
                p.name: _format(getattr(p, "schema", None))
                for p in operation.parameters or []
                if getattr(p, "param_in", None) is not None and p.param_in.value == "query"
            }
    return declared


async def refuse_unknown_query_params(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """App-wide guard: every query parameter must be one the operation declares.

    async, like every guard of ours: Litestar runs a sync guard in a worker thread.
    """
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
        values = connection.query_params.getall(name)
        if len(values) > 1:
            # Every parameter of ours is a single value; which of two would win is a guess.
            raise UnknownQueryParameter(f"query parameter {name!r} is repeated", field=name)
        if allowed[name] is not None and not _ISO_DATE.match(values[0]):
            raise UnknownQueryParameter(
                f"query parameter {name!r} must be an ISO 8601 {allowed[name]}", field=name
            )
