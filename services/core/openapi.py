"""Make the generated OpenAPI say what the API really does.

Litestar documents success responses only, as application/json, and lets request objects carry
any extra property. Ours answer every error as application/problem+json and refuse unknown
fields, so the document says so; unions become anyOf (a provider's view of a row is a subset
of the ops view, so a row can match both: oneOf would call it invalid).
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from services.core.errors import PROBLEM_JSON

_PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    description="RFC 9457 problem details",
    required=["type", "title", "status", "detail", "code"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "code": Schema(type=OpenAPIType.STRING),
        "request_id": Schema(
            one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)]
        ),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
)
_DESCRIPTIONS = {
    "400": "The request is malformed: the body, a parameter or the query names what",
    "401": "No access token, or one that is invalid or expired",
    "403": "The caller's role may not use this operation",
    "404": "No such object, or one the caller may not see",
    "409": "The request conflicts with the object's current state",
    "422": "The request is well formed but breaks a business rule",
    "429": "Too many attempts; see Retry-After",
    "502": "The clearinghouse answered with something unusable",
    "503": "A service this operation needs (the clearinghouse, say) is unavailable",
}
_METHODS = ("get", "put", "post", "delete", "patch")


def _error_statuses(path: str, method: str, operation: Operation) -> list[str]:
    statuses = ["400", "422"]
    if operation.security:
        statuses += ["401", "403", "404"]
    elif "{" in path:
        statuses.append("404")
    if method in ("post", "put", "patch", "delete"):
        statuses.append("409")
    if path.startswith("/auth/") or path == "/clients/signup":
        statuses += ["401", "429"]
    if "eligibility" in (operation.tags or []):
        statuses += ["502", "503"]
    return sorted(set(statuses))


def _walk(node: Any, seen: set[int]) -> None:
    """oneOf -> anyOf everywhere below `node`."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, Schema):
        if node.one_of:
            node.any_of, node.one_of = node.one_of, None
        for child in (
            *(node.any_of or []), *(node.all_of or []), *(node.properties or {}).values(),
            node.items, node.additional_properties,
        ):  # fmt: skip
            if child is not None and not isinstance(child, bool):
                _walk(child, seen)


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, Reference):
        found.add(node.ref.rsplit("/", 1)[-1])
    elif isinstance(node, Schema):
        for child in (
            *(node.any_of or []), *(node.one_of or []), *(node.all_of or []),
            *(node.properties or {}).values(), node.items,
        ):  # fmt: skip
            if child is not None:
                _refs(child, found)


def _in_path_order(path: str, parameters: list[Any]) -> None:
    """Path parameters in the order the path names them, wherever a handler or one of its
    dependencies declared them (the others keep their places)."""
    slots = [i for i, p in enumerate(parameters) if getattr(p, "param_in", None) == "path"]
    ordered = sorted((parameters[i] for i in slots), key=lambda p: path.find("{" + p.name + "}"))
    for slot, parameter in zip(slots, ordered, strict=True):
        parameters[slot] = parameter


def refine(openapi: OpenAPI) -> None:
    components = openapi.components.schemas
    components["ProblemDetails"] = _PROBLEM
    problem = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/ProblemDetails"))
    request_bodies: set[str] = set()
    seen: set[int] = set()
    for path, item in (openapi.paths or {}).items():
        for method in _METHODS:
            operation: Operation | None = getattr(item, method)
            if operation is not None:
                _refine_operation(path, method, operation, problem, seen)
                _refs_of_body(operation, request_bodies)
    _forbid_unknown_fields(components, request_bodies)
    for schema in components.values():
        _walk(schema, seen)


def _refine_operation(
    path: str, method: str, operation: Operation, problem: OpenAPIMediaType, seen: set[int]
) -> None:
    """Its error responses as problem details; anyOf for oneOf in its responses and parameters."""
    responses = operation.responses or {}
    for status in _error_statuses(path, method, operation):
        responses[status] = OpenAPIResponse(
            description=_DESCRIPTIONS[status], content={PROBLEM_JSON: problem}
        )
    operation.responses = responses
    for response in responses.values():
        if isinstance(response, OpenAPIResponse):
            for media in (response.content or {}).values():
                _walk(media.schema, seen)
    _in_path_order(path, operation.parameters or [])
    for parameter in operation.parameters or []:
        _walk(getattr(parameter, "schema", None), seen)


def _refs_of_body(operation: Operation, found: set[str]) -> None:
    if operation.request_body is not None and not isinstance(operation.request_body, Reference):
        for media in (operation.request_body.content or {}).values():
            _refs(media.schema, found)


def _forbid_unknown_fields(components: dict[str, Any], request_bodies: set[str]) -> None:
    """Request objects refuse unknown fields (msgspec forbid_unknown_fields): say so, nested
    too."""
    pending = list(request_bodies)
    while pending:
        name = pending.pop()
        schema = components.get(name)
        if not isinstance(schema, Schema) or schema.type != OpenAPIType.OBJECT:
            continue
        schema.additional_properties = False
        nested: set[str] = set()
        _refs(schema, nested)
        pending.extend(nested - request_bodies)
        request_bodies |= nested
