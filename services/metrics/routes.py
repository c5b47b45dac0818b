"""Prometheus metrics for ops: request latency by route template, and the ledger's latest
trial-balance check read from the database at each scrape (the worker that runs the check
serves no /metrics; any API process answers with the same stored value)."""

from __future__ import annotations

from litestar import Response, get
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
)

from schemas.payouts import TrialBalanceCheckOut
from services.core.auth import BEARER, allow
from services.core.deps import Conn
from services.payouts import service as payouts

# group_path labels requests by route template (/clients/{id}), never by a raw path with ids.
PROMETHEUS = PrometheusConfig(app_name="hearth", group_path=True, exclude=["^/metrics", "^/health"])


def _ledger(check: TrialBalanceCheckOut | None) -> bytes:
    """The check's gauges, or none before the first check (absent, not a reassuring 0)."""
    registry = CollectorRegistry()
    if check is not None:
        Gauge("hearth_ledger_imbalance_cents",
              "Debits less credits of the ledger's trial balance at the last check (0 when sound)",
              registry=registry).set(check.imbalance_cents)  # fmt: skip
        Gauge("hearth_ledger_trial_balance_checked_timestamp_seconds",
              "When the last trial-balance check ran (Unix time): alert when it is old",
              registry=registry).set(check.created_at.timestamp())  # fmt: skip
    return generate_latest(registry)


@get(
    "/metrics",
    guards=[allow("ops")],
    security=BEARER,
    operation_id="metrics",
    tags=["ops"],
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics(conn: Conn) -> Response[bytes]:
    """Prometheus exposition of this process's metrics and the ledger's last check (ops only)."""
    check = await payouts.latest_trial_balance_check(conn)
    return Response(generate_latest(REGISTRY) + _ledger(check))
