"""The payers pay: a payment run, ops "fetch now", and each claim's 835 posted.

The simulator's payment run (`POST /_admin/payment-run`) stands for the payers' weekly check
run: each payer pays the claims it adjudicated and not yet reported and sends one ERA (an 835)
per payee to the clearinghouse. Ops then press "fetch now" (`POST /remittances/fetches`, which
queues the worker's clearinghouse fetch as the cron would): the worker fetches each new 835 over
CORE and posts it. The demo polls each of its claims (`GET /claims/{id}/remittance`) until the
payer's answer is posted: an adjudication for a claim paid or denied; for the replaced claim the
reversal of its original and the corrected claim paid; for the voided claim the reversal. It
prints each claim's status, what the payer paid, the client's share and the CARCs, then finds
the 835 files that carried them (`GET /remittances`, newest first, and each file's payments)
and writes each to the EDI directory as `835-<ISA13>.x12`: the text is the simulator's copy
(`GET /_admin/remittances`; we store a file's SHA-256, not its bytes), written only when its
SHA-256 is the one we stored for the file we posted, so it is what we received.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import httpx

from infra.demo.base import Demo, DemoFailed, say

# The worker relays outbox rows every 5 s, and the fetch posts each 835 it finds.
TIMEOUT_S = float(os.environ.get("HEARTH_DEMO_REMITTANCE_TIMEOUT_S", "120"))
REFETCH_S = 15.0
POLL_S = 1.0
ADJUDICATED = ("paid", "partially_paid", "denied")
# What the CARCs the demo's payers use mean (X12 external code 139), in a biller's words.
CARCS = {
    "1": "deductible",
    "2": "coinsurance",
    "3": "copay",
    "18": "duplicate claim",
    "27": "coverage ended before the date of service",
    "45": "charge over the fee schedule",
    "50": "not medically necessary",
    "96": "not covered",
    "119": "benefit maximum (visit limit) reached",
    "197": "prior authorization absent",
}


def post_remittances(demo: Demo, ops: str, edi: Path, clearinghouse: str) -> None:
    """The payers' payment run, ops' "fetch now", every claim's 835 posted, shown and kept."""
    expected = _expected(demo)
    _payment_run(demo, clearinghouse)
    fetch = demo.call("POST", "/remittances/fetches", ops, 202)
    say(
        "ops: fetch now",
        "the clearinghouse's 835 fetch queued" if fetch["queued"]
        else "a fetch of the clearinghouse's 835s was already open",
    )  # fmt: skip
    remitted = _wait_for_postings(demo, ops, expected)
    for claim_id, (claim, remittance) in remitted.items():
        shown = _show(demo, claim_id, claim, remittance)
        demo.remittances.append(shown)
        if shown["paid_cents"] > 0:
            demo.outcomes.setdefault("paid", []).append(claim_id)
        if shown["status"] == "denied":
            demo.outcomes.setdefault("denied", []).append(claim_id)
    payments = {
        item["remitted"]["claim"]["payment_id"]
        for _, remittance in remitted.values() for item in remittance["items"]
    }  # fmt: skip
    files = _files_of(demo, ops, payments)
    _write_835s(demo, clearinghouse, files, edi)


def _expected(demo: Demo) -> dict[str, str]:
    """Each claim the payers accepted, and what its 835 must show: "void" (the reversal),
    "replace" (the reversal and the corrected claim), else "adjudicated"."""
    rejected = set(demo.outcomes.get("rejected", [])) - set(demo.outcomes.get("resent", []))
    voided, replaced = set(demo.outcomes.get("voided", [])), set(demo.outcomes.get("replaced", []))
    return {
        claim_id: "void" if claim_id in voided else "replace" if claim_id in replaced
        else "adjudicated"
        for claim_id in demo.claims if claim_id not in rejected
    }  # fmt: skip


def _simulator(demo: Demo, method: str, url: str, **kw: Any) -> Any:
    """An answer of the simulator's admin routes; DemoFailed saying where the demo looked."""
    try:
        response = demo.http.request(method, url, **kw)
        answered = f"{response.status_code}: {response.text[:300]}"
    except httpx.HTTPError as exc:
        response, answered = None, f"nothing ({exc})"
    if response is None or response.status_code != 200:
        raise DemoFailed(
            f"the clearinghouse simulator at {url} answered {answered}; `make run` starts it on"
            " port 8090 (HEARTH_CLEARINGHOUSE_PORT): pass its URL with --clearinghouse-url"
        )
    return response.json()


def _payment_run(demo: Demo, clearinghouse: str) -> None:
    eras = _simulator(demo, "POST", f"{_admin(clearinghouse)}/payment-run", json={})["items"]
    if not eras:
        say("payers: payment run", "nothing new to pay (an earlier fetch already had them pay)")
    for era in eras:
        say(
            f"payers: payment run ({era['payer']})",
            f"835 {era['control']}, EFT trace {era['trace']}: ${era['amount'] / 100:.2f} for"
            f" {len(era['claims'])} claim(s)",
        )


def _admin(clearinghouse: str) -> str:
    """The simulator's admin routes beside its CORE endpoint."""
    return clearinghouse.removesuffix("/").removesuffix("/core") + "/_admin"


def _posted(kind: str, remittance: dict[str, Any]) -> bool:
    """Whether the claim's remittance shows what its 835 must (see `_expected`)."""
    rows = [item["remitted"]["claim"] for item in remittance["items"]]
    reversed_ = any(row["outcome"] == "reversed" for row in rows)
    standing = any(row["outcome"] != "reversed" and row["reversed_by"] is None for row in rows)
    return {"void": reversed_, "replace": reversed_ and standing}.get(kind, standing)


def _wait_for_postings(
    demo: Demo, ops: str, expected: dict[str, str]
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each claim with its remittance once posted; DemoFailed naming those still missing."""
    started = last_fetch = time.monotonic()
    seen: dict[str, dict[str, Any]] = {}
    while True:
        for claim_id, kind in expected.items():
            if claim_id not in seen or not _posted(kind, seen[claim_id]):
                seen[claim_id] = demo.call("GET", f"/claims/{claim_id}/remittance", ops, 200)
        missing = [c for c, kind in expected.items() if not _posted(kind, seen[c])]
        if not missing:
            _check_outcomes(demo, seen)
            return {
                c: (demo.call("GET", f"/claims/{c}", ops, 200)["claim"], seen[c]) for c in expected
            }
        now = time.monotonic()
        if now - started > TIMEOUT_S:
            wanted = {"void": "its reversal", "replace": "its reversal and the corrected claim",
                      "adjudicated": "the payer's answer"}  # fmt: skip
            names = "; ".join(
                f"{demo.claims[c]} (claim {c}): {wanted[expected[c]]}" for c in missing
            )
            raise DemoFailed(
                f"835s not posted {TIMEOUT_S:.0f} s after the payment run: {names}. Is the worker"
                " running (make run starts it)? GET /remittances lists the files posted,"
                " GET /remittances/queues/needs-ops what went to ops, the simulator's"
                " GET /_admin/remittances every 835 it wrote and the claims still pending"
            )
        if now - last_fetch > REFETCH_S:
            # A fetch that was running when the payers paid may have ended before their 835s:
            # asking again is harmless (one open fetch per clearinghouse).
            demo.call("POST", "/remittances/fetches", ops, 202)
            last_fetch = now
        time.sleep(POLL_S)


def _check_outcomes(demo: Demo, seen: dict[str, dict[str, Any]]) -> None:
    """Every 835 the demo's claims got was posted as an answer (not a duplicate, not for ops)."""
    for claim_id, remittance in seen.items():
        for item in remittance["items"]:
            row = item["remitted"]["claim"]
            if row["outcome"] not in (*ADJUDICATED, "reversed"):
                raise DemoFailed(
                    f"{demo.claims[claim_id]}'s 835 (TRN {item['trace_number']}) was posted as"
                    f" {row['outcome']}: {row['ops_reason'] or 'no reason'}; GET"
                    " /remittances/queues/needs-ops shows it"
                )


def _show(
    demo: Demo, claim_id: str, claim: dict[str, Any], remittance: dict[str, Any]
) -> dict[str, Any]:
    """Print the claim's 835 outcome; what was printed, for summary.json."""
    items = [item["remitted"] for item in remittance["items"]]
    standing = [
        i for i in items if i["claim"]["reversed_by"] is None and i["claim"]["reversal_of"] is None
        and i["claim"]["outcome"] in ADJUDICATED
    ]  # fmt: skip
    codes = list(dict.fromkeys(f"{a['group']}-{a['code']}" for i in standing
                               for a in i["adjustments"]))  # fmt: skip
    words = ", ".join(
        CARCS.get(code.split("-")[1], code) for code in codes if code.split("-")[1] in CARCS
    )
    reversed_numbers = [i["claim"]["payer_claim_number"] for i in items
                        if i["claim"]["outcome"] == "reversed"]  # fmt: skip
    history = ""
    if reversed_numbers:
        history = f"; payment reversed ({', '.join(reversed_numbers)})"
        if standing:
            history += f", corrected claim {standing[-1]['claim']['payer_claim_number']} paid"
    paid, share = remittance["paid_cents"], remittance["patient_responsibility_cents"]
    say(
        f"835 {claim['status']}: {demo.claims[claim_id]}",
        f"{claim['claim_number']}: payer paid ${paid / 100:.2f}, client's share"
        f" ${share / 100:.2f}; CARC {' '.join(codes) or 'none'}"
        + (f" ({words})" if words else "")
        + history,
    )
    return {
        "claim_id": claim_id, "client": demo.claims[claim_id], "status": claim["status"],
        "paid_cents": paid, "client_share_cents": share, "carcs": codes,
        "reversals": len(reversed_numbers),
    }  # fmt: skip


def _files_of(demo: Demo, ops: str, payments: set[str]) -> list[dict[str, Any]]:
    """The 835 files holding these payments: newest first, until every payment is found."""
    files: list[dict[str, Any]] = []
    left, cursor = set(payments), None
    while left:
        query = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        page = demo.call("GET", "/remittances", ops, 200, params=query)
        for row in page["items"]:
            detail = demo.call("GET", f"/remittances/{row['id']}", ops, 200)
            held = {p["payment"]["id"] for p in detail["payments"]} & left
            if held:
                files.append({**row, "traces": [p["payment"]["trace_number"]
                                                for p in detail["payments"]]})  # fmt: skip
                left -= held
        if left and (cursor := page["next_cursor"]) is None:
            raise DemoFailed(f"payments {sorted(left)} posted but in no file of GET /remittances")
    return files


def _write_835s(demo: Demo, clearinghouse: str, files: list[dict[str, Any]], edi: Path) -> None:
    """Each file we posted, as the simulator kept it, once its SHA-256 is the one we stored."""
    kept = _simulator(demo, "GET", f"{_admin(clearinghouse)}/remittances")["items"]
    eras = {hashlib.sha256(era["text"].encode()).hexdigest(): era for era in kept}
    written = []
    for row in files:
        era = eras.get(row["sha256"])
        if era is None:
            raise DemoFailed(
                f"the 835 file {row['id']} we posted (SHA-256 {row['sha256']}) is not among the"
                " simulator's: was the simulator restarted since?"
            )
        path = edi / f"835-{era['control']}.x12"
        path.write_text(era["text"])
        demo.eras.append({"id": row["id"], "traces": row["traces"]})
        demo.count("edi_files")
        written.append(path.name)
    say("EDI files written", ", ".join(written))
