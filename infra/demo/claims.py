"""Ops submit the claims the demo completed and follow each to the payer's answer.

"Submit now" queues each payer's ready claims (the worker sends them as 837P batches over CORE
and fetches the 999 and 277CA); the demo polls every claim until it is accepted or rejected,
prints its acknowledgement path, shows a rejection's reason from the ops queue, and writes
every 837P, 999 and 277CA of its batches to the EDI directory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from infra.demo.base import Demo, DemoFailed, pages, say

# CORE PayloadTypes (CAQH CORE Phase II) of the files kept, and the names they are written as.
FILE_KINDS = {
    ("sent", "X12_837_Request_005010X222A1"): "837P",
    ("received", "X12_999_Response_005010X231A1"): "999",
    ("received", "X12_TA1_Response_00501X231A1"): "TA1",
    ("received", "X12_005010_Response_Batch_Results_277"): "277CA",
}
OPEN = ("ready", "submitted", "acknowledged")
FINAL = ("accepted", "rejected")
ACK_999 = ("IK5:", "IK3:", "IK4:", "AK9:", "TA1:")  # a 999's (or TA1's) codes; others: 277CA
# What the 277CA codes the demo expects mean (X12 external codes 507 and 508).
MEANINGS = {
    "A2": "accepted into adjudication",
    "A3": "returned as unprocessable",
    "33": "subscriber and subscriber id not found",
}
# The worker relays outbox rows every 5 s: a claim takes two hand-offs (send, then fetch).
TIMEOUT_S = float(os.environ.get("HEARTH_DEMO_CLAIMS_TIMEOUT_S", "120"))
RESUBMIT_S = 15.0
POLL_S = 1.0


def submit_and_acknowledge(demo: Demo, ops: str, edi: Path) -> None:
    """Submit the demo's claims now, wait for the payers' answers, show and keep them."""
    queued = demo.call("POST", "/claims/submissions", ops, 202)["payers_queued"]
    say("ops: submit now", f"{queued} payer(s) queued for an 837P batch")
    answered = follow(demo, ops, list(demo.claims), FINAL, edi)
    for claim_id, (claim, _) in answered.items():
        demo.outcomes.setdefault("submitted", []).append(claim_id)
        demo.outcomes.setdefault(claim["status"], []).append(claim_id)
    _show_rejections(demo, ops, [c for c in answered if answered[c][0]["status"] == "rejected"])


def follow(
    demo: Demo, ops: str, claim_ids: list[str], final: tuple[str, ...], edi: Path
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Wait until every claim reaches a `final` status, print each one's acknowledgement path,
    and write its batches' files: each claim with its latest version, in the order given."""
    claims = _wait_for_answers(demo, ops, claim_ids, final)
    answered = {c: (claims[c], _latest_version(demo, ops, c)) for c in claim_ids}
    for claim_id, (claim, version) in answered.items():
        _show_ack_path(demo.claims[claim_id], claim, version)
    for batch_id in dict.fromkeys(version["batch_id"] for _, version in answered.values()):
        _write_batch_files(demo, ops, batch_id, edi)
    return answered


def _wait_for_answers(
    demo: Demo, ops: str, claim_ids: list[str], final: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Each claim once in a `final` status; DemoFailed naming those still open at the end."""
    started = last_submit = time.monotonic()
    seen: dict[str, dict[str, Any]] = {}
    while True:
        for claim_id in claim_ids:
            if seen.get(claim_id, {}).get("status") not in final:
                seen[claim_id] = demo.call("GET", f"/claims/{claim_id}", ops, 200)["claim"]
        still = [c for c in claim_ids if seen[c]["status"] not in final]
        if not still:
            return seen
        now = time.monotonic()
        if now - started > TIMEOUT_S:
            stuck = ", ".join(
                f"{demo.claims[c]} {seen[c]['claim_number']} ({seen[c]['status']})" for c in still
            )
            raise DemoFailed(
                f"claims still open {TIMEOUT_S:.0f} s after submission: {stuck}; is the worker"
                " running (make run starts it)? GET /claim-batches shows each batch's last error"
            )
        if any(seen[c]["status"] == "ready" for c in still) and now - last_submit > RESUBMIT_S:
            # A payer's submission queued just before ours (the cron's) may have run before
            # these claims were due: asking again is harmless (one queued row per payer).
            demo.call("POST", "/claims/submissions", ops, 202)
            last_submit = now
        time.sleep(POLL_S)


def _latest_version(demo: Demo, ops: str, claim_id: str) -> dict[str, Any]:
    versions = demo.call("GET", f"/claims/{claim_id}/versions", ops, 200)
    latest: dict[str, Any] = versions[-1]
    if latest["batch_id"] is None:
        raise DemoFailed(f"claim {claim_id} was answered but names no batch")
    return latest


def _show_ack_path(who: str, claim: dict[str, Any], version: dict[str, Any]) -> None:
    codes = version["ack_codes"]
    ack = [c for c in codes if c.startswith(ACK_999)] or ["none"]
    payer = [c for c in codes if not c.startswith(ACK_999)] or ["none"]
    category = payer[0].split(":")[0]
    number = version["payer_claim_number"]
    say(
        f"{claim['status']}: {who}",
        f"{claim['claim_number']} (CLM01 {version['clm01']}, frequency {version['frequency']}):"
        f" 999 {' '.join(ack)} -> 277CA "
        f"{' '.join(payer)} ({MEANINGS.get(category, category)})"
        + (f", payer claim number {number}" if number else ""),
    )


def _show_rejections(demo: Demo, ops: str, rejected: list[str]) -> None:
    """Each rejected claim as ops find it in their queue, with the reason it keeps."""
    if not rejected:
        return
    queue = {c["id"]: c for c in pages(demo, "/claims/queues/rejected", ops)}
    for claim_id in rejected:
        found = queue.get(claim_id)
        if found is None:
            raise DemoFailed(f"rejected claim {claim_id} is not in the rejected queue")
        explained = "; ".join(
            MEANINGS[part] for code in found["reason"].split()[1:] for part in code.split(":")
            if part in MEANINGS
        )  # fmt: skip
        say(
            "rejected queue (ops)",
            f"{demo.claims[claim_id]} {found['claim_number']}: {found['reason']}"
            + (f" ({explained})" if explained else ""),
        )


def _write_batch_files(demo: Demo, ops: str, batch_id: str, edi: Path) -> None:
    """The batch's 837P and what came back for it, named by the 837P's ISA13."""
    detail = demo.call("GET", f"/claim-batches/{batch_id}", ops, 200)
    interchange = f"{detail['batch']['interchange_control']:09d}"
    written = []
    for meta in detail["files"]:
        kind = FILE_KINDS.get((meta["direction"], meta["payload_type"]))
        if kind is None:
            continue  # receipts, retrieval requests, "no file yet" answers
        path = edi / f"{kind}-{interchange}.x12"
        if path.exists():  # a second copy of one kind (a retrieval repeated): keep both
            path = edi / f"{kind}-{interchange}-{meta['id']}.x12"
        response = demo.http.get(
            f"/claim-batches/{batch_id}/files/{meta['id']}",
            headers={"Authorization": f"Bearer {ops}"},
        )
        if response.status_code != 200:
            raise DemoFailed(f"batch file {meta['id']} answered {response.status_code}")
        path.write_text(response.text)
        demo.count("edi_files")
        written.append(path.name)
    say("EDI files written", f"batch {interchange}: {', '.join(written)}")
