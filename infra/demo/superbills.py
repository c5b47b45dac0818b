"""An out-of-network client's superbill (issue 19 items 1 and 2).

Jamie Rivera's Summit Mutual plan pays mental health only out of network, and Maya is not in
Summit's network (her credentialing there is still in review): he sees her as a self-pay client
and asks Summit to reimburse him. He saves a card (as in payments.py); after Maya's first
payout, ops record his in-office session with her with no policy (`POST
/therapy-sessions/recorded`): no claim, her self-pay rate charged to his card at completion
(`GET /clients/{id}/charges`). Jamie then reads the session's superbill
(`GET /therapy-sessions/{id}/superbill`) as JSON and as the PDF he sends Summit (`Accept:
application/pdf`, written beside summary.json as `superbill-<session id>.pdf`), reads his
month's superbill (`GET /clients/{id}/superbills/{YYYY-MM}`) and opts in to the monthly email
(`PUT /clients/{id}/superbill-preferences`). That email is sent by a daily job for the month
before, once per client and month; nothing in the API runs it sooner, so the demo says when it
will come rather than show it. summary.json gains `superbills` (count, each superbill read).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from infra.demo.base import Demo, DemoFailed, say
from infra.demo.payments import charge_of, payment_of, save_cards, usd, wait_for
from infra.demo.payouts import maya
from infra.demo.sessions import VISITS, find_client

CLIENT = ("Jamie", "Rivera")  # a demo-world member whose plan covers therapy out of network only
WHO = " ".join(CLIENT)
LINES: list[tuple[str, list[str]]] = [("90837", [])]  # in office at Maya's: 53 minutes or more
MINUTES = 55
DIAGNOSES = ["F41.1"]


def save_card(demo: Demo) -> None:
    """Jamie saves his card before the session, as the visits' clients did."""
    save_cards(demo, [CLIENT])


def _record(demo: Demo, ops: str, client_id: str) -> dict[str, Any]:
    """Ops record Jamie's session with Maya, self-pay: the run's day, after the visits."""
    if demo.service_day is None:
        raise DemoFailed("the run's sessions were not recorded first")
    _, maya_id = maya(demo)
    started = demo.service_day + timedelta(hours=len(VISITS))
    body = {
        "provider_id": maya_id, "client_id": client_id, "policy_id": None,
        "started_at": started.isoformat(), "place_of_service": "11",
        "duration_minutes": MINUTES, "note_attested": True, "diagnosis_codes": DIAGNOSES,
        "lines": [{"cpt_code": code, "modifiers": modifiers, "diagnosis_pointers": [1]}
                  for code, modifiers in LINES],
    }  # fmt: skip
    out: dict[str, Any] = demo.call(
        "POST", "/therapy-sessions/recorded", ops, 201, json=body,
        headers={"Idempotency-Key": f"demo-{demo.run}-self-pay"},
    )  # fmt: skip
    if out["session"]["status"] != "confirmed" or out["claim_id"] is not None:
        raise DemoFailed(f"Jamie's self-pay session was not confirmed without a claim: {out}")
    say(f"ops recorded: {WHO}", f"{' + '.join(c for c, _ in LINES)}, POS 11 (in office), self-pay"
        f" with Maya (out of Summit's network), {MINUTES} min, ICD-10 {', '.join(DIAGNOSES)};"
        " no claim")  # fmt: skip
    return out


def _charged(demo: Demo, session_id: str) -> dict[str, Any]:
    charge = wait_for(f"{WHO}'s completion charge (session {session_id})",
                      lambda: charge_of(demo, WHO, "completion", session_id))  # fmt: skip
    if charge["status"] != "succeeded":
        raise DemoFailed(f"{WHO}'s self-pay charge: {charge}")
    intent = payment_of(demo, WHO, charge["id"])["payment_intent_id"]
    say(f"charged at completion: {WHO}", f"{usd(charge['amount_cents'])} (Maya's self-pay rate)"
        f" to {charge['card_brand']} ..{charge['card_last4']} ({intent})")  # fmt: skip
    return {"charge_id": charge["id"], "intent": intent, "cents": charge["amount_cents"]}


def _show(superbill: dict[str, Any]) -> None:
    (provider,) = superbill["providers"]
    (session,) = superbill["sessions"]
    place = provider["address"]
    say("  provider", f"{provider['name']}, NPI {provider['npi']}, taxonomy"
        f" {provider['taxonomy_code']}, tax id ..{provider['tax_id_last4']}"
        + (f", {place['line1']}, {place['city']} {place['state']}" if place else ""))  # fmt: skip
    say("  billed by", f"{superbill['billed_by']['name']}, NPI {superbill['billed_by']['npi']}")
    say("  client", f"{superbill['client']['name']}, born {superbill['client']['date_of_birth']}")
    for line in session["lines"]:
        say(f"  {session['date_of_service']} {line['cpt_code']}",
            f"POS {session['place_of_service']}, ICD-10 {', '.join(session['diagnosis_codes'])}:"
            f" {usd(line['charge_cents'])}")  # fmt: skip
    reason = session["reason"].replace("_", " ")
    say("  total", f"charged {usd(superbill['total_charged_cents'])}, paid"
        f" {usd(superbill['total_paid_cents'])} ({reason})")  # fmt: skip


def _pdf(demo: Demo, token: str, session_id: str, out: Path) -> str:
    path = f"/therapy-sessions/{session_id}/superbill"
    answer = demo.http.get(path, headers={"Authorization": f"Bearer {token}",
                                          "Accept": "application/pdf"})  # fmt: skip
    if answer.status_code != 200 or not answer.content.startswith(b"%PDF"):
        raise DemoFailed(f"GET {path} as a PDF: {answer.status_code} {answer.text[:200]}")
    name = f"superbill-{session_id}.pdf"
    (out / name).write_bytes(answer.content)
    say("superbill PDF", f"{len(answer.content):,} bytes, written to {out / name}")
    return name


def _month_email(demo: Demo, token: str, client_id: str, month: str) -> dict[str, Any]:
    """Jamie's month and his opt-in to the monthly email, with when it will come."""
    whole = demo.call("GET", f"/clients/{client_id}/superbills/{month}", token, 200)
    say(f"superbill {month}: {WHO}", f"{len(whole['sessions'])} session(s), charged"
        f" {usd(whole['total_charged_cents'])}, paid {usd(whole['total_paid_cents'])}")  # fmt: skip
    path = f"/clients/{client_id}/superbill-preferences"
    chosen = demo.call("PUT", path, token, 200, json={"monthly_email": True})
    year, number = int(month[:4]), int(month[5:7])
    sent_from = date(year + number // 12, number % 12 + 1, 1)
    say(f"opted in: {WHO}", f"PUT {path}: monthly_email {str(chosen['monthly_email']).lower()};"
        f" the daily job mails {month}'s superbill from {sent_from}"
        " (not run by the demo)")  # fmt: skip
    return {"month": month, "month_sessions": len(whole["sessions"]),
            "month_paid_cents": whole["total_paid_cents"],
            "monthly_email": chosen["monthly_email"]}  # fmt: skip


def self_pay_superbill(demo: Demo, ops: str, out: Path) -> None:
    """Jamie's self-pay session with Maya, charged, and his superbill as JSON and PDF."""
    client = find_client(demo, ops, CLIENT)
    if client is None:
        raise DemoFailed(f"the demo world has no client {WHO}")
    session_id = _record(demo, ops, client["id"])["session"]["id"]
    paid = _charged(demo, session_id)
    token = demo.cards[WHO]["token"]
    superbill = demo.call("GET", f"/therapy-sessions/{session_id}/superbill", token, 200)
    (session,) = superbill["sessions"]
    say(f"superbill: {WHO}", f"GET /therapy-sessions/{{id}}/superbill, for {WHO} to send his"
        " insurer for out-of-network reimbursement:")  # fmt: skip
    _show(superbill)
    if superbill["total_paid_cents"] != paid["cents"]:
        raise DemoFailed(f"the superbill says {superbill['total_paid_cents']} paid, the card"
                         f" {paid['cents']}")  # fmt: skip
    pdf = _pdf(demo, token, session_id, out)
    month = _month_email(demo, token, client["id"], session["date_of_service"][:7])
    demo.payments["superbills"] = {"count": 1, "items": [{
        "client": WHO, "client_id": client["id"], "session_id": session_id,
        "reason": session["reason"], "date_of_service": session["date_of_service"],
        "npi": superbill["providers"][0]["npi"],
        "cpt_codes": [line["cpt_code"] for line in session["lines"]],
        "diagnosis_codes": session["diagnosis_codes"],
        "charged_cents": superbill["total_charged_cents"],
        "paid_cents": superbill["total_paid_cents"], "pdf": pdf, **paid, **month,
    }]}  # fmt: skip
