"""A recoupment netted against a later payout (issue 18 item 6).

After Maya's first payout, Evergreen reviews a claim it paid (Jordan Lee's 90837 with the 90785
add-on) and finds the session not medically necessary: the simulator's post-payment review
(`POST /_admin/takeback`, CARC 50) denies it under a new payer claim number, and the payers'
next payment run sends an 835 that reverses the payment (CLP02 22) and reports the claim denied
(CLP02 4, CO-50). Ops press "fetch now"; posting books the loss and, CO-50 being the
provider's to carry (`GET /recoupment-policies`), a recoupment against Maya's payable. Her
next payout (`net_recoupment`, after she completed another session: superbills.py) pays that
session less the recoupment: its statement shows the session line and a recoupment line a
denied line (each at most that line's provider rate), with the reason, adding up to the
payout. summary.json gains `recoupments_netted` (count, cents, the payout, each recoupment
line).
"""

from __future__ import annotations

from pathlib import Path

from infra.demo.base import Demo, DemoFailed, pages, say
from infra.demo.payments import usd
from infra.demo.payouts import maya, pay_now, statement_of
from infra.demo.remittance import (
    CARCS,
    _admin,
    _files_of,
    _payment_run,
    _simulator,
    _wait_for_postings,
    _write_835s,
)

REVIEWED = "add_on"  # the visit (sessions.VISITS key) whose paid claim the payer takes back
REASON = "50"  # CARC 50: not medically necessary, which the provider carries (DESIGN.md)


def _paid_claim(demo: Demo) -> str:
    """This run's claim of the REVIEWED visit, which its 835 paid."""
    found = [c for c in demo.outcomes.get("paid", []) if demo.visits[c] == REVIEWED]
    if len(found) != 1:
        raise DemoFailed(f"no paid claim of the {REVIEWED!r} visit for the payer to review")
    return found[0]


def _policy(demo: Demo, ops: str) -> str:
    """How CO-50's loss is shared, as ops read the recoupment policies."""
    for policy in pages(demo, "/recoupment-policies", ops):
        if (policy["group"], policy["code"]) == ("CO", REASON):
            return str(policy["rule"])
    raise DemoFailed(f"GET /recoupment-policies has no CO-{REASON}")


def take_back(demo: Demo, ops: str, edi: Path, clearinghouse: str) -> None:
    """The payer takes a paid claim back after Maya's payout; its 835 posted, the loss
    recouped from her payable."""
    claim_id = _paid_claim(demo)
    who = demo.claims[claim_id]
    clm01 = demo.call("GET", f"/claims/{claim_id}/versions", ops, 200)[-1]["clm01"]
    review = _simulator(demo, "POST", f"{_admin(clearinghouse)}/takeback",
                        json={"claim_id": clm01, "reason": REASON})  # fmt: skip
    say(f"payers: post-payment review ({review['payer']})",
        f"{who}'s claim {clm01} ({review['original']}), paid {usd(review['taken_back'])}:"
        f" not medically necessary (CO-{REASON}), taken back as"
        f" {review['payer_claim_number']}")  # fmt: skip
    say("ops: recoupment policy", f"CO-{REASON}: {_policy(demo, ops)}")
    _payment_run(demo, clearinghouse)
    demo.call("POST", "/remittances/fetches", ops, 202)
    say("ops: fetch now", "the payer's 835 with the takeback")
    ((claim, remittance),) = _wait_for_postings(demo, ops, {claim_id: "replace"}).values()
    items = [item["remitted"] for item in remittance["items"]]
    standing = [i for i in items if i["claim"]["reversed_by"] is None
                and i["claim"]["outcome"] != "reversed"]  # fmt: skip
    if [i["claim"]["outcome"] for i in standing] != ["denied"]:
        raise DemoFailed(f"{who}'s claim after the takeback: {remittance}")
    codes = sorted({f"{a['group']}-{a['code']}" for a in standing[0]["adjustments"]})
    say(f"835 {claim['status']}: {who}",
        f"{claim['claim_number']}: payment reversed, the claim denied"
        f" {' '.join(codes)} ({CARCS.get(REASON, REASON)}); payer paid"
        f" {usd(remittance['paid_cents'])} in all")  # fmt: skip
    payments = {item["remitted"]["claim"]["payment_id"] for item in remittance["items"]}
    known = {trace for era in demo.eras for trace in era["traces"]}
    files = [f for f in _files_of(demo, ops, payments) if not set(f["traces"]) <= known]
    _write_835s(demo, clearinghouse, files, edi)
    demo.review["taken_back"] = {"claim_id": claim_id, "client": who, "clm01": clm01,
                                 "session_id": demo.sessions[claim_id], "reason": f"CO-{REASON}",
                                 "payer_claim_number": review["payer_claim_number"],
                                 "taken_back_cents": review["taken_back"]}  # fmt: skip


def net_recoupment(demo: Demo, ops: str, out: Path) -> None:
    """Maya's next payout: what became due since her first, less the recoupment."""
    taken = demo.review["taken_back"]
    token, maya_id = maya(demo)
    schedule = demo.call("GET", f"/providers/{maya_id}/payout-schedule", token, 200)
    due = schedule["expected"]
    say("Maya: her next payout", f"due {schedule['next_payout_date']} (weekly):"
        f" {usd(due['amount_cents'])} owed now, recoupments netted; ops pay her now")  # fmt: skip
    (payout,) = pay_now(demo, ops, {maya_id: "Maya Okafor"}, "netted")
    statement = statement_of(demo, token, payout, out)
    lines = statement["lines"]
    recouped = [x for x in lines if x["kind"] == "recoupment"]
    mine = [x for x in recouped if x["session_id"] == taken["session_id"]]
    if not mine or not any(x["kind"] == "session" for x in lines):
        raise DemoFailed(f"payout {payout['id']}'s statement has no session line or no"
                         f" recoupment of {taken['client']}'s session: {lines}")  # fmt: skip
    cents = -sum(x["amount_cents"] for x in recouped)
    sessions = sum(x["amount_cents"] for x in lines if x["kind"] == "session")
    say("recoupment netted", f"{usd(cents)} for {taken['client']}'s session ({taken['reason']})"
        f" taken back from Maya: sessions {usd(sessions)} less {usd(cents)} is the payout of"
        f" {usd(payout['amount_cents'])}")  # fmt: skip
    demo.review["recoupments_netted"] = {
        "count": len(recouped), "cents": cents, "payout_id": payout["id"],
        "payout_cents": payout["amount_cents"], "claim_id": taken["claim_id"],
        "session_id": taken["session_id"], "reason": taken["reason"],
        "statement_total_cents": statement["total_cents"], "lines": lines,
    }  # fmt: skip
