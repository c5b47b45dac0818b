"""The weekly payout (issue 18 item 6): the demo's providers paid through Stripe Connect, one
statement shown, and the ledger's trial balance read.

Each of the demo's providers (the demo world's therapist and the one this run onboarded) gets a
payout account (`POST /providers/{id}/payout-account`; a repeat answers 200) and is onboarded at
the Stripe simulator's hosted page, until Stripe's account.updated has the worker mark payouts
enabled. Ops top up the platform's Stripe balance from the bank (`POST /payouts/top-ups`), then
press "run now" for today for each provider (`POST /payouts/runs`, Idempotency-Key): today's
run takes everything due at that instant (development closes a session's edit window at once),
so each run pays the sessions it completed, less what the 835s took back, and a second run on
the same day pays only what became due since. The demo waits until the transfers are paid
(`GET /payouts?status=paid`), prints the therapist's statement (`GET /payouts/{id}/statement`
as she reads it, and the same as CSV and PDF into the output folder) and reads the trial
balance (`GET /ledger/trial-balance`). summary.json gains `payouts` (count, cents, ids, each
statement's lines) and `ledger_imbalance_cents` (debits less credits: 0).
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

from infra.demo.base import Demo, DemoFailed, pages, say, today
from infra.demo.payments import usd
from infra.demo.sessions import PROVIDER

TOP_UP_CENTS = 500_000  # $5,000.00 from the bank: more than a demo run's payouts
WAIT_S = 60.0


def _wait(what: str, check: Any, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(0.5)
    raise DemoFailed(f"{what}: not after {timeout} s")


def _payout_account(demo: Demo, ops: str, provider_id: str, name: str) -> None:
    path = f"/providers/{provider_id}/payout-account"
    answer = demo.http.post(path, headers={"Authorization": f"Bearer {ops}"})
    if answer.status_code not in (200, 201):
        raise DemoFailed(f"POST {path}: {answer.status_code} {answer.text[:300]}")
    account = answer.json()
    if not account["payouts_enabled"]:
        # The provider fills in Stripe's hosted onboarding (the simulator's page asks nothing).
        url = account["onboarding_url"].replace(account["onboarding_url"].split("/_admin")[0],
                                                demo.stripe_url)  # fmt: skip
        demo.http.get(url).raise_for_status()

        def enabled() -> Any:
            seen = demo.call("GET", path, ops, 200)
            return seen if seen["payouts_enabled"] else None

        account = _wait(f"{name}'s payouts enabled", enabled)
    say(f"payout account: {name}", f"{account['stripe_account_id']}, payouts enabled")


def _top_up(demo: Demo, ops: str) -> None:
    key = {"Idempotency-Key": f"demo-{demo.run}-top-up"}
    body = {"amount_cents": TOP_UP_CENTS, "description": f"demo {demo.run}: bank to Stripe"}
    made = demo.call("POST", "/payouts/top-ups", ops, 201, json=body, headers=key)

    def succeeded() -> Any:
        for top_up in pages(demo, "/payouts/top-ups", ops):
            if top_up["id"] == made["id"] and top_up["status"] == "succeeded":
                return top_up
            if top_up["id"] == made["id"] and top_up["status"] == "failed":
                raise DemoFailed(f"top-up {made['id']} failed: {top_up['failure_code']}")
        return None

    _wait("the top-up", succeeded)
    say("ops: top-up", f"${TOP_UP_CENTS / 100:,.2f} bank -> Stripe balance, succeeded")


def statement_of(demo: Demo, token: str, payout: dict[str, Any], out: Path) -> dict[str, Any]:
    path = f"/payouts/{payout['id']}/statement"
    statement: dict[str, Any] = demo.call("GET", path, token, 200)
    say("statement", f"{statement['provider_name']}, payout of {statement['run_date']}:")
    for line in statement["lines"]:
        who = f"{line['client_initials'] or '':5} {' '.join(line['cpt_codes']):12}"
        cents = line["amount_cents"]
        sign = "-" if cents < 0 else " "
        text = line["description"]
        short = text if len(text) <= 50 else ""
        say(f"  {line['date']} {line['kind']}",
            f"{who} {sign}${abs(cents) / 100:>9,.2f}  {short}".rstrip())  # fmt: skip
        if len(text) > 50:  # a recoupment's reason, an adjustment's memo: in full, below
            for part in textwrap.wrap(text, 60):
                print(f"{'':39}{part}")
    say("  total", f"{usd(statement['total_cents'])} (sessions {usd(statement['sessions_cents'])},"
        f" adjustments {usd(statement['adjustments_cents'])}): the payout's amount")  # fmt: skip
    if statement["total_cents"] != payout["amount_cents"]:
        raise DemoFailed(f"statement {payout['id']} adds up to {statement['total_cents']}")
    auth = {"Authorization": f"Bearer {token}"}
    for kind, suffix in (("text/csv", "csv"), ("application/pdf", "pdf")):
        answer = demo.http.get(path, headers={**auth, "Accept": kind})
        if answer.status_code != 200 or not answer.headers["content-type"].startswith(kind):
            raise DemoFailed(f"GET {path} as {kind}: {answer.status_code}")
        (out / f"payout-statement-{payout['id']}.{suffix}").write_bytes(answer.content)
    return statement


def maya(demo: Demo) -> tuple[str, str]:
    """The demo world's therapist signed in: her token and provider id."""
    email, password = PROVIDER
    login = {"email": email, "password": password}
    token = demo.call("POST", "/auth/login", None, 200, json=login)["access_token"]
    return token, demo.call("GET", "/auth/me", token, 200)["provider_id"]


def pay_now(demo: Demo, ops: str, providers: dict[str, str], tag: str) -> list[dict[str, Any]]:
    """Ops "run now" for today for each provider (named by id); their new payouts once paid
    (a provider owed nothing gets none and says so)."""
    day = today().isoformat()
    before = {p["id"] for p in pages(demo, "/payouts", ops, period=day)}
    for provider_id in providers:
        key = {"Idempotency-Key": f"demo-{demo.run}-{tag}-{provider_id}"}
        body = {"run_date": day, "provider_id": provider_id}
        demo.call("POST", "/payouts/runs", ops, 201, json=body, headers=key)

    def made() -> list[dict[str, Any]]:
        return [p for p in pages(demo, "/payouts", ops, period=day)
                if p["id"] not in before and p["provider_id"] in providers]  # fmt: skip

    def all_paid() -> Any:
        new = made()
        if any(p["status"] in ("held", "failed") for p in new):
            bad = [(p["id"], p["status"], p["hold_reason"]) for p in new
                   if p["status"] in ("held", "failed")]  # fmt: skip
            raise DemoFailed(f"payouts not paid: {bad}")
        return new if new and all(p["status"] == "paid" for p in new) else None

    paid = _wait("this run's payouts paid", all_paid)
    for provider_id, name in providers.items():
        mine = [p for p in paid if p["provider_id"] == provider_id]
        done = ", ".join(f"{usd(p['amount_cents'])} paid ({p['stripe_transfer_id']})" for p in mine)
        say(f"ops: run now: {name}", f"{day}: {done or 'nothing due (no session completed)'}")
    return list(paid)


def run_payouts(demo: Demo, ops: str, provider_ids: dict[str, str], out: Path) -> None:
    """The demo's providers paid once for what is due now; one statement printed."""
    token, maya_id = maya(demo)
    providers = {maya_id: "Maya Okafor", **provider_ids}
    for provider_id, name in providers.items():
        _payout_account(demo, ops, provider_id, name)
    _top_up(demo, ops)
    paid = pay_now(demo, ops, providers, "payout")
    shown = next(p for p in paid if p["provider_id"] == maya_id)
    statement = statement_of(demo, token, shown, out)
    demo.review["payouts"] = {
        "count": len(paid),
        "cents": sum(p["amount_cents"] for p in paid),
        "ids": [p["id"] for p in paid],
        "statement": {
            "payout_id": shown["id"],
            "total_cents": statement["total_cents"],
            "lines": statement["lines"],
        },
    }


def show_trial_balance(demo: Demo, ops: str) -> None:
    """Ops read the trial balance at the end: debits less credits must be zero."""
    trial = demo.call("GET", "/ledger/trial-balance", ops, 200)
    debits, credits = trial["debits_cents"], trial["credits_cents"]
    say("ops: trial balance", f"debits {usd(debits)}, credits {usd(credits)}:"
        f" {debits - credits} cents apart")  # fmt: skip
    demo.review["ledger_imbalance_cents"] = debits - credits
