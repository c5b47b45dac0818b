"""Ops review what the 835s said: the estimate accuracy (issue 16 item 6).

The estimate accuracy is ops' view over every claim whose 835 stands in the last 90 days (this
run's and earlier runs' on the same stack): how often the client's estimated share was exact to
the cent, the mean absolute error, per payer.
"""

from __future__ import annotations

from typing import Any

from infra.demo.base import Demo, say


def _figures(figures: dict[str, Any]) -> str:
    if not figures["claims"]:
        return "no claims"
    return (
        f"{figures['claims']} claim(s), {figures['exact']} exact to the cent"
        f" ({figures['exact_percent']}%), mean absolute error"
        f" ${float(figures['mean_absolute_error_cents']) / 100:.2f}"
    )


def show_estimate_accuracy(demo: Demo, ops: str) -> None:
    """Print the estimate accuracy overall and per payer; keep it for summary.json."""
    accuracy = demo.call("GET", "/remittances/estimate-accuracy", ops, 200)
    say("ops: estimate accuracy", f"{accuracy['date_from']} to {accuracy['date_to']}: "
        + _figures(accuracy["overall"]))  # fmt: skip
    for payer in accuracy["payers"]:
        say(f"  {payer['payer_name']}", _figures(payer["figures"]))
    demo.review["estimate_accuracy"] = accuracy
