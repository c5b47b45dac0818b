"""Ops review what the 835s said: the denial work queue and the estimate accuracy (issue 16
items 5 and 6).

Ops open the denial work queue (`GET /denials`, grouped by reason) and resolve this run's
denial there: Morgan Diaz's claim, denied CO-27 because his Blue Harbor coverage ended before
the date of service. An appeal cannot change an ended coverage and no other coverage is on file,
so ops write it off with a note (`POST /denials/{id}/write-off`): the loss booked at posting
stays, and the item leaves the queue.

The estimate accuracy is ops' view over every claim whose 835 stands in the last 90 days (this
run's and earlier runs' on the same stack): how often the client's estimated share was exact to
the cent, the mean absolute error, per payer.
"""

from __future__ import annotations

from typing import Any

from infra.demo.base import Demo, DemoFailed, say


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


def _denials_of(demo: Demo, ops: str, claim_ids: set[str]) -> list[dict[str, Any]]:
    """This run's open denials, read through the queue (every group, every page)."""
    found: list[dict[str, Any]] = []
    for group in demo.call("GET", "/denials", ops, 200)["groups"]:
        say(f"  {group['reason']}", f"{group['count']} open, ${group['denied_cents'] / 100:.2f}"
            " denied")  # fmt: skip
        items, cursor = group["items"], group["next_cursor"]
        while True:
            found += [i for i in items if i["denial"]["claim_id"] in claim_ids]
            if cursor is None:
                break
            page = demo.call("GET", "/denials", ops, 200,
                             params={"reason": group["reason"], "cursor": cursor})  # fmt: skip
            (same,) = page["groups"]
            items, cursor = same["items"], same["next_cursor"]
    return found


def resolve_denials(demo: Demo, ops: str) -> None:
    """Ops resolve this run's denial through the denial work queue (a write-off with its
    reason: coverage ended, nothing to appeal); the queue no longer lists it."""
    denied = set(demo.outcomes.get("denied", []))
    say("ops: denial work queue", "open denials by reason:")
    found = _denials_of(demo, ops, denied)
    if {i["denial"]["claim_id"] for i in found} != denied:
        raise DemoFailed(
            f"the denial work queue lists {len(found)} of this run's {len(denied)} denied"
            " claim(s); GET /denials shows the queue"
        )
    for item in found:
        row = item["denial"]
        code = row["reason"].split("-")[-1]
        words = "; ".join(a["reason_text"] for a in item["adjustments"] if a["code"] == code)
        note = (f"{demo.claims[row['claim_id']]}'s coverage with {row['payer_name']} had ended"
                " before the date of service and no other coverage is on file: nothing to"
                " appeal, written off")  # fmt: skip
        key = {"Idempotency-Key": f"demo-{demo.run}-wo-{row['id']}"}
        resolution = demo.call(
            "POST", f"/denials/{row['id']}/write-off", ops, 200, json={"note": note}, headers=key
        )
        who = f"{demo.claims[row['claim_id']]} {row['claim_number']}"
        say(f"ops: {resolution['action'].replace('_', ' ')}", f"{who} ({row['reason']}: {words})")
        detail = demo.call("GET", f"/denials/{row['id']}", ops, 200)
        if detail["state"] != "resolved":
            raise DemoFailed(f"denial {row['id']} is {detail['state']} after its write-off")
        demo.outcomes.setdefault("written_off", []).append(row["claim_id"])
    left = _denials_of(demo, ops, denied) if found else []
    if left:
        raise DemoFailed(f"{len(left)} denial(s) still open after their write-off")
