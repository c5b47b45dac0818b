"""Benchmarks of pure service code; `make bench` runs this through infra/bench.py.

Prints one line per benchmark as `bench NAME key=value ...`. Each workload runs in growing
batches until it has run for HEARTH_BENCH_SECONDS (default 1) and reports calls per second.
The baseline is a named reference workload measured in the same run, so the ratio says how
the engine compares with something this machine's speed affects alike. `estimate` measures the
engine's figures (one session, and a 5-session projection); `estimate_rendered` a 5-session
projection with its text written for ops, as the API renders it, so the text's cost stays seen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import msgspec

from schemas.eligibility import Accumulator, Benefits, Cents, Count, Fraction, TierBenefits
from schemas.estimates import ProjectionFigures, SessionFigures
from services.eligibility.estimate import estimate_session, initial_state, project_sessions
from services.eligibility.estimate_view import render_projection

BASELINE = "msgspec_roundtrip_benefits"
ALLOWED_90837 = 14500
START = date(2026, 3, 2)

# A high-deductible plan with every figure the engine reads: deductible, coinsurance,
# out-of-pocket maximum, visit limit, IND and FAM remaining amounts.
BENEFITS = Benefits(
    status="active",
    trace="BENCH",
    plan_begin=date(2026, 1, 1),
    plan_end=date(2026, 12, 31),
    in_network=TierBenefits(
        covered=True,
        coinsurance=Fraction(value=Decimal("0.2"), source="MH"),
        deductible=Accumulator(
            total=Cents(cents=300000, source="MH"),
            remaining=Cents(cents=20000, source="MH"),
            family_total=Cents(cents=600000, source="MH"),
            family_remaining=Cents(cents=150000, source="MH"),
        ),
        out_of_pocket=Accumulator(
            total=Cents(cents=600000, source="MH"), remaining=Cents(cents=550000, source="MH")
        ),
        visit_limit=Count(value=30, source="MH"),
        visits_remaining=Count(value=12, source="MH"),
        prior_auth_required=True,
    ),
)
STATE = initial_state(BENEFITS, "in", START)


def per_second(work: Callable[[], object], seconds: float) -> float:
    """Calls of `work` per second over at least `seconds`, timed in doubling batches."""
    calls, elapsed, batch = 0, 0.0, 1
    while elapsed < seconds:
        began = time.perf_counter()
        for _ in range(batch):
            work()
        elapsed += time.perf_counter() - began
        calls += batch
        batch *= 2
    return calls / elapsed


def one_estimate() -> SessionFigures:
    return estimate_session(
        BENEFITS,
        network="in",
        allowed_cents=ALLOWED_90837,
        self_pay_cents=None,
        oon_allowed_cents=None,
        session_date=START,
        state=STATE,
    )


def projection_of_5() -> ProjectionFigures:
    return project_sessions(
        BENEFITS,
        network="in",
        allowed_cents=ALLOWED_90837,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=STATE,
        start=START,
        count=5,
    )


def rendered_projection_of_5() -> object:
    return render_projection(projection_of_5(), full=True)


def msgspec_roundtrip() -> object:
    return msgspec.json.decode(msgspec.json.encode(BENEFITS), type=Benefits)


def main() -> None:
    seconds = float(os.environ.get("HEARTH_BENCH_SECONDS", "1"))
    estimates = per_second(one_estimate, seconds)
    projections = per_second(projection_of_5, seconds)
    rendered = per_second(rendered_projection_of_5, seconds)
    baseline = per_second(msgspec_roundtrip, seconds)
    print(
        f"bench estimate estimates_per_s={estimates:.0f} projection_5_per_s={projections:.0f} "
        f"baseline={BASELINE} baseline_per_s={baseline:.0f} ratio={estimates / baseline:.3f}"
    )
    print(f"bench estimate_baseline name={BASELINE} per_s={baseline:.0f}")
    print(
        f"bench estimate_rendered projection_5_per_s={rendered:.0f} baseline={BASELINE} "
        f"ratio={rendered / baseline:.3f} figures_ratio={projections / baseline:.3f}"
    )


if __name__ == "__main__":
    main()
