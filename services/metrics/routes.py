"""Prometheus metrics for ops: request latency by route template (more as jobs arrive)."""

from __future__ import annotations

from litestar import Response, get
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from services.core.auth import BEARER, allow

# group_path labels requests by route template (/clients/{id}), never by a raw path with ids.
PROMETHEUS = PrometheusConfig(app_name="hearth", group_path=True, exclude=["^/metrics", "^/health"])


@get(
    "/metrics",
    guards=[allow("ops")],
    security=BEARER,
    operation_id="metrics",
    tags=["ops"],
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics() -> Response[bytes]:
    """Prometheus exposition of this process's metrics (ops only)."""
    return Response(generate_latest(REGISTRY))
