"""The demo's closing summary: one block, in plain words, read from summary.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.demo.payments import usd


def _n(count: int, thing: str, things: str | None = None) -> str:
    return f"{count} {thing if count == 1 else things or thing + 's'}"


def _money(summary: dict[str, Any], key: str, what: str) -> str:
    total = summary.get(key, {"count": 0, "cents": 0})
    return f"{_n(total['count'], what)} ({usd(total['cents'])})"


def _claims(s: dict[str, Any]) -> list[tuple[str, str]]:
    count = {k: s[f"claims_{k}"]["count"] for k in
             ("submitted", "accepted", "rejected", "resent", "replaced", "voided", "paid",
              "denied", "written_off")}  # fmt: skip
    return [
        ("Claims", f"{_n(count['submitted'], 'claim')} sent as 837P: {count['accepted']}"
         f" accepted, {count['rejected']} rejected (a mistyped member id) and"
         f" {count['resent']} resent once corrected; {count['replaced']} replaced and"
         f" {count['voided']} voided by ops"),
        ("Remittance", f"{_n(s['eras_posted']['count'], '835 file')} posted: {count['paid']}"
         f" claim(s) paid ({int('taken_back' in s)} taken back after the payout),"
         f" {count['denied']} denied ({count['written_off']} written off by ops)"),
    ]  # fmt: skip


def _money_lines(s: dict[str, Any]) -> list[tuple[str, str]]:
    statement = s["statement"]
    return [
        ("Cards", f"{_n(s['cards_saved'], 'card')} saved; {_money(s, 'copays_charged', 'charge')}"
         " captured at completion"
         + (f", {_money(s, 'settled_by_credit', 'charge')} settled by the client's credit"
            if s["settled_by_credit"]["count"] else "")
         + f", {_money(s, 'recovered', 'declined charge')} paid later by the client"),
        ("True-ups", f"{_money(s, 'true_up_charges', 'charge')} and"
         f" {_money(s, 'refunds', 'refund')} once the 835s said what clients owe"),
        ("Statement", f"{statement['client']}'s {statement['month']} statement closes at"
         f" {usd(statement['closing_cents'])}"),
    ]  # fmt: skip


def _payout_lines(s: dict[str, Any]) -> list[tuple[str, str]]:
    payouts, netted, taken = s["payouts"], s["recoupments_netted"], s["taken_back"]
    (superbill,) = s["superbills"]["items"]
    return [
        ("Payouts", f"{_n(payouts['count'], 'weekly payout')} ({usd(payouts['cents'])}) through"
         f" Stripe Connect; after the payer took back {taken['client']}'s claim"
         f" ({taken['reason']}), the next payout of {usd(netted['payout_cents'])} netted"
         f" {_n(netted['count'], 'recoupment')} of {usd(netted['cents'])}"),
        ("Superbill", f"{superbill['client']}: self-pay session, {usd(superbill['paid_cents'])}"
         " paid by card; superbill read as JSON and PDF; monthly email"
         f" {'opted in' if superbill['monthly_email'] else 'not chosen'}"),
        ("Ledger", "debits equal credits" if s["ledger_imbalance_cents"] == 0
         else f"OUT OF BALANCE by {s['ledger_imbalance_cents']} cents"),
    ]  # fmt: skip


def print_summary(s: dict[str, Any], out: Path) -> None:
    """The run's outcome, part by part, then where its files are."""
    completed = s["sessions_completed"]["count"] + s["superbills"]["count"]
    rows = [
        ("Set-up", f"ops created {_n(s['payers_created'], 'payer')} with"
         f" {_n(s['fee_schedules_created'], 'fee schedule')} and onboarded and credentialed"
         f" {_n(s['providers_onboarded'], 'therapist')}; {_n(s['clients_signed_up'], 'client')}"
         " signed up, verified their email and booked a session"),
        ("Benefits", f"{_n(s['benefit_checks'], 'benefit check')} (270/271): Jordan Lee's plan"
         f" {s['benefit_check_status']}, a copay per {s['copay_period']}; Sydney Park's mental"
         f" health handled by {s['carve_out_to']}; {_n(s['estimates'], 'estimate')} of five"
         " sessions"),
        ("Sessions", f"{completed} completed with Maya Okafor: {s['sessions_completed']['count']}"
         f" billed to insurers, {s['superbills']['count']} self-pay"),
        *_claims(s), *_money_lines(s), *_payout_lines(s),
        ("Files", f"{out / 'summary.json'}; {_n(s['edi_files'], 'X12 file')} in {out / 'edi'};"
         f" payout statements (CSV, PDF) and the superbill PDF in {out}"),
    ]  # fmt: skip
    print(f"\nSummary of demo run {s['run_id']} ({s['seconds']:.0f} s)")
    for title, text in rows:
        print(f"  {title:<11} {text}")
