"""Ops correct claims the payers answered: a resend (1), a replacement (7) and a void (8).

Blake Ellison's claim was rejected (277CA A3:33:IL) because his card was typed EVG10040: ops
correct the member id on his policy (`PATCH /clients/{id}/policies/{id}`) and resend the claim
as frequency 1. Jordan Lee's in-office 90834 claim was accepted with the wrong diagnosis: ops
replace it (frequency 7, the whole claim with REF*F8 naming the payer's claim number). Alex
Kim's claim was accepted but should never have been billed: ops void it (frequency 8), which
gives his prior authorization's visit back at once. Each correction puts its claim back to
`ready` with the reason in its history; ops press "submit now" and the demo follows the three
to the payers' answers exactly as the first submission (claims.py `follow`): the resend and the
replacement accepted (the replacement under a new payer claim number), the void accepted and
the claim `voided`; the new batches' 837P, 999 and 277CA go to the EDI directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.demo.base import Demo, DemoFailed, say
from infra.demo.claims import follow

CARD = "EVG100040"  # Blake Ellison's card read again: the member id Evergreen knows
DIAGNOSIS = "F43.23"  # the note's diagnosis: adjustment disorder, mixed anxiety and depression
# What a corrected claim may end as; what each of the demo's ends as.
ANSWERED = ("accepted", "rejected", "voided")
EXPECTED = {"resend": "accepted", "replace": "accepted", "void": "voided"}
FREQUENCY = {"resend": "1", "replace": "7", "void": "8"}
OUTCOME = {"resend": "resent", "replace": "replaced", "void": "voided"}


def correct_claims(demo: Demo, ops: str, edi: Path) -> None:
    """Resend the rejected claim corrected, replace one accepted claim, void another."""
    chosen = {
        "resend": _claim_of(demo, "mistyped_card", "rejected"),
        "replace": _claim_of(demo, "office", "accepted"),
        "void": _claim_of(demo, "authorized", "accepted"),
    }
    _correct_card(demo, ops, chosen["resend"])
    _correct(demo, ops, "resend", chosen["resend"], {
        "reason": f"member id corrected on the policy: the card reads {CARD}",
    })  # fmt: skip
    replaced = _accepted_number(demo, ops, chosen["replace"])
    _correct(demo, ops, "replace", chosen["replace"], {
        "reason": f"diagnosis corrected to {DIAGNOSIS}, as the session note documents",
        "diagnosis_codes": [DIAGNOSIS],
    })  # fmt: skip
    voided = demo.call("GET", f"/claims/{chosen['void']}", ops, 200)["claim"]
    authorization = voided["prior_authorization_id"]
    before = _authorization(demo, ops, authorization) if authorization else None
    _correct(demo, ops, "void", chosen["void"], {
        "reason": "billed in error: the family pays for this session privately",
    })  # fmt: skip
    queued = demo.call("POST", "/claims/submissions", ops, 202)["payers_queued"]
    say("ops: submit now", f"{queued} payer(s) queued for the corrected claims")
    answered = follow(demo, ops, list(chosen.values()), ANSWERED, edi)
    for action, claim_id in chosen.items():
        status = answered[claim_id][0]["status"]
        if status != EXPECTED[action]:
            raise DemoFailed(
                f"the {action} of {demo.claims[claim_id]}'s claim ended {status}, not"
                f" {EXPECTED[action]}: GET /claims/{claim_id} shows its history"
            )
        demo.outcomes.setdefault(OUTCOME[action], []).append(claim_id)
    number = answered[chosen["replace"]][1]["payer_claim_number"]
    if number in (None, replaced):
        raise DemoFailed(f"the replacement of {replaced} got no new payer claim number")
    say("replacement", f"payer claim number {replaced} replaced by {number}")
    if before is not None:
        after = _authorization(demo, ops, authorization)
        say(
            "visit given back (void)",
            f"authorization {after['number']}: visits used {before['visits_used']} -> "
            f"{after['visits_used']} of {after['visits_authorized']}",
        )
        if after["visits_used"] != before["visits_used"] - 1:
            raise DemoFailed("the void did not give its prior authorization's visit back")
    for claim_id in chosen.values():
        history = demo.call("GET", f"/claims/{claim_id}", ops, 200)["history"]
        steps = [h["to_status"] for h in history if h["to_status"] is not None]
        say(f"history: {demo.claims[claim_id]}", " -> ".join(steps))


def _claim_of(demo: Demo, visit: str, status: str) -> str:
    """The claim of this run's `visit` (sessions.VISITS key), which the payers left `status`."""
    found = [c for c in demo.outcomes.get(status, []) if demo.visits[c] == visit]
    if len(found) != 1:
        raise DemoFailed(f"no {status} claim of the {visit!r} visit to correct")
    return found[0]


def _correct_card(demo: Demo, ops: str, claim_id: str) -> None:
    """Ops correct the member id on the policy the rejected claim bills."""
    claim = demo.call("GET", f"/claims/{claim_id}", ops, 200)["claim"]
    path = f"/clients/{claim['client_id']}/policies/{claim['policy_id']}"
    typed = demo.call("GET", path, ops, 200)["member_id"]
    policy = demo.call("PATCH", path, ops, 200, json={"member_id": CARD})
    say("ops: member id corrected", f"{demo.claims[claim_id]}: {typed} -> {policy['member_id']}")


def _accepted_number(demo: Demo, ops: str, claim_id: str) -> str:
    """The payer claim number of the claim's accepted version, which REF*F8 will name."""
    versions = demo.call("GET", f"/claims/{claim_id}/versions", ops, 200)
    number: str | None = versions[-1]["payer_claim_number"]
    if number is None:
        raise DemoFailed(f"the accepted claim {claim_id} has no payer claim number")
    return number


def _correct(demo: Demo, ops: str, action: str, claim_id: str, body: dict[str, Any]) -> None:
    out = demo.call(
        "POST", f"/claims/{claim_id}/{action}", ops, 200, json=body,
        headers={"Idempotency-Key": f"demo-{demo.run}-{action}"},
    )  # fmt: skip
    claim, version = out["claim"], out["version"]
    if (claim["status"], version["frequency"]) != ("ready", FREQUENCY[action]):
        raise DemoFailed(f"the {action} left the claim {claim['status']}: {out}")
    say(
        f"ops: {action} (frequency {version['frequency']})",
        f"{demo.claims[claim_id]} {claim['claim_number']} version {version['version']}, CLM01"
        f" {version['clm01']}, ready: {body['reason']}",
    )


def _authorization(demo: Demo, ops: str, authorization_id: str) -> dict[str, Any]:
    found: dict[str, Any] = demo.call("GET", f"/prior-authorizations/{authorization_id}", ops, 200)
    return found
