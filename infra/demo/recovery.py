"""The declined charge recovered with another card, and a client's month read as a statement.

Avery Patel's card declined at completion (payments.py). Ops find the charge in their failed
payments (`GET /payments/failed`) once the worker's follow-up has classified the decline and
queued the client's balance-due email; the demo reads that email from the SMTP sink's HTTP side
(`GET /messages?to=`) by the pay link naming the charge. Avery then pays on-session as a
frontend would: `POST /client-charges/{id}/payment` answers the charge's own PaymentIntent's
client secret (the SAME intent the decline left waiting for a card), Stripe.js's
confirmCardPayment confirms it at the Stripe simulator with a 4242 card typed in (not saved),
and `GET /client-charges/{id}/payment` shows it succeeded; `GET /clients/{id}/balance` shows
the balance gone (summary.json `recovered`).

Then one client's statement (`GET /clients/{id}/statements/{YYYY-MM}`, the platform's time
zone): a client whose completion charge a true-up refunded (else one charged), for the month
of their session, or the next month holding the session's lines when the charge was made
after the session's month had ended (summary.json `statement`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from infra.demo.base import Demo, DemoFailed, pages, say, today
from infra.demo.payments import VISA, Stripe, total, usd, wait_for


def _failed_row(demo: Demo, ops: str, client_id: str, charge_id: str) -> dict[str, Any] | None:
    """Ops' failed payment, once the follow-up job has taken it into recovery."""
    rows = pages(demo, "/payments/failed", ops, client_id=client_id)
    return next((r for r in rows if r["id"] == charge_id and r["recovery_status"]), None)


def _notice(demo: Demo, email: str, charge_id: str) -> dict[str, Any] | None:
    """The balance-due email to `email` whose pay link names the charge, from the sink."""
    response = demo.http.get(f"{demo.mail_url}/messages", params={"to": email})
    if response.status_code != 200:
        raise DemoFailed(f"the SMTP sink at {demo.mail_url} answered {response.status_code}")
    return next((m for m in response.json() if f"/pay/{charge_id}" in m["body"]), None)


def _balance(demo: Demo, who: str) -> dict[str, Any]:
    card = demo.cards[who]
    return dict(demo.call("GET", f"/clients/{card['client_id']}/balance", card["token"], 200))


def _recover(demo: Demo, ops: str, stripe: Stripe, item: dict[str, Any]) -> dict[str, Any]:
    who, charge_id = item["client"], item["charge_id"]
    card = demo.cards[who]
    row = wait_for(f"{who}'s declined charge in ops' GET /payments/failed",
                   lambda: _failed_row(demo, ops, card["client_id"], charge_id))  # fmt: skip
    say("ops: failed payments", f"{row['client_name']} {usd(row['amount_cents'])} {row['kind']}"
        f" ({row['failure_code']}: {row['decline_code']}, a {row['decline_class']} decline,"
        f" {row['recovery_status'].replace('_', ' ')}): {row['failure']}")  # fmt: skip
    mail = wait_for(f"the balance-due email to {card['email']} at {demo.mail_url}",
                    lambda: _notice(demo, card["email"], charge_id))  # fmt: skip
    lines = [line for line in mail["body"].splitlines() if line.strip()]
    say(f"balance-due email: {who}", f"to {card['email']}, \"{mail['subject']}\": "
        + " ".join(lines[1:]))  # fmt: skip
    before = _balance(demo, who)
    path = f"/client-charges/{charge_id}/payment"
    key = {"Idempotency-Key": f"demo-{demo.run}-pay-{charge_id}"}
    pay = demo.call("POST", path, card["token"], 200, headers=key)
    if pay["payment_intent_id"] != item["intent"] or not pay["client_secret"]:
        raise DemoFailed(f"POST {path} answered {pay}, not the declined intent {item['intent']}")
    say(f"{who} pays on-session", f"POST {path}: the declined intent {pay['payment_intent_id']}"
        f" ({pay['intent_status']}), {usd(pay['amount_cents'])}")  # fmt: skip
    confirmed = stripe.confirm("payment_intents", pay["client_secret"], VISA)
    if (confirmed["id"], confirmed["status"]) != (item["intent"], "succeeded"):
        raise DemoFailed(f"confirmCardPayment of {item['intent']} answered {confirmed}")
    say("Stripe.js: confirmCardPayment", f"a card typed in (..{VISA[-4:]}) on the same intent:"
        f" {confirmed['id']} {confirmed['status']}")  # fmt: skip
    paid = demo.call("GET", path, card["token"], 200)
    if paid["charge_status"] != "succeeded":
        raise DemoFailed(f"GET {path} after the card's confirmation: {paid}")
    after = _balance(demo, who)
    if after["balance_cents"] != before["balance_cents"] - item["cents"]:
        raise DemoFailed(f"{who}'s balance after paying {usd(item['cents'])}: {before} -> {after}")
    say(f"recovered: {who}", f"GET {path}: {paid['charge_status']}; GET /clients/{{id}}/balance:"
        f" owed now {usd(after['owed_now_cents'])}, balance {usd(after['balance_cents'])}"
        f" (was {usd(before['balance_cents'])})")  # fmt: skip
    return item | {"client_id": card["client_id"], "email_subject": mail["subject"],
                   "owed_now_cents": after["owed_now_cents"],
                   "balance_cents": after["balance_cents"]}  # fmt: skip


def recover_declined(demo: Demo, ops: str) -> None:
    """Each balance due of the run's completion charges, paid by the client with another card."""
    stripe = Stripe(demo)
    items = [_recover(demo, ops, stripe, item) for item in demo.payments["balances_due"]["items"]]
    demo.payments["recovered"] = total(items) | {"ids": [i["charge_id"] for i in items]}


def _months(first: str) -> list[str]:
    """The session's month (YYYY-MM) and each after it up to this month (charges are posted
    when made, which may be after the session's month ended)."""
    year, month = int(first[:4]), int(first[5:7])
    now = today()
    months = [first[:7]]
    while (year, month) < (now.year, now.month):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        months.append(date(year, month, 1).isoformat()[:7])
    return months


def show_statement(demo: Demo) -> None:
    """One client's month: a refunded client's if any, else a charged one's."""
    refunded = {i["charge_id"] for i in demo.payments["refunds"]["items"]}
    charged = demo.payments["copays_charged"]["items"]
    if not charged:
        raise DemoFailed("no completion charge this run: no statement to show")
    item = next((i for i in charged if i["charge_id"] in refunded), charged[0])
    who, session = item["client"], item["session_id"]
    card = demo.cards[who]
    for month in _months(item["session_date"]):
        path = f"/clients/{card['client_id']}/statements/{month}"
        statement = demo.call("GET", path, card["token"], 200)
        mine = [line for line in statement["lines"] if line["session_id"] == session]
        if mine:
            break
    else:
        raise DemoFailed(f"{who}'s statements from {item['session_date'][:7]} on show no line of"
                         f" session {session}")  # fmt: skip
    totals = statement["totals"]
    say(f"statement {month}: {who}", f"GET {path} ({statement['time_zone']}): opening"
        f" {usd(statement['opening_balance_cents'])}")  # fmt: skip
    zone = ZoneInfo(statement["time_zone"])
    for line in mine:
        day = datetime.fromisoformat(line["occurred_at"]).astimezone(zone).date()
        say(f"  {day} {line['kind']}",
            f"{usd(line['amount_cents']):>10}  {line['description']}")  # fmt: skip
    others = len(statement["lines"]) - len(mine)
    say("  totals", f"sessions {usd(totals['sessions_cents'])}, insurer"
        f" {usd(totals['insurer_cents'])}, payments {usd(totals['payments_cents'])}, refunds"
        f" {usd(totals['refunds_cents'])}, other {usd(totals['other_cents'])}"
        + (f" ({others} line(s) of other sessions not shown)" if others else ""))  # fmt: skip
    say("  closing balance", usd(statement["closing_balance_cents"]))
    demo.payments["statement"] = {
        "client": who, "client_id": card["client_id"], "month": month, "session_id": session,
        "session_date": item["session_date"], "time_zone": statement["time_zone"],
        "opening_cents": statement["opening_balance_cents"],
        "closing_cents": statement["closing_balance_cents"],
        "lines": [{"kind": line["kind"], "cents": line["amount_cents"]} for line in mine],
        "all_lines_cents": sum(line["amount_cents"] for line in statement["lines"]),
    }  # fmt: skip
