"""The scripted demo: drives Hearth through its HTTP API only, as a frontend would.

`make demo` (`python -m infra.demo`) runs it against the stack `make run` started; it can run
again and again against one stack (every name it creates is new, and it follows only the
sessions and claims it made). It prints a readable account of each step and writes the counts
it observed to .data/demo/summary.json, and the X12 files exchanged to .data/demo/edi/.

1. `onboarding`: ops sign in, create a payer with a fee schedule, onboard a provider and take
   their credentialing to approved; the provider accepts the invitation; a client signs up,
   reads the verification email from the local SMTP sink (`make run` starts it), verifies the
   address and is signed in, adds a policy and books a session; the provider then sees them.
2. `benefits`: a demo-world client checks their benefits (270/271 through the clearinghouse
   simulator) and gets an estimate with a five-session projection; ops check a member whose
   plan carves mental health out. Status, copay and visit-limit periods go to summary.json.
3. `payments` (cards): before their sessions, each client the run bills signs in, asks for a
   card setup (`POST /clients/{id}/payment-setup`) and confirms its SetupIntent at the Stripe
   simulator as Stripe.js would; the card appears once Stripe's webhook has had the worker save
   it (`GET /clients/{id}/payment-methods`). Avery Patel's card (4000 0000 0000 0341) declines
   when charged; everyone else's is 4242 4242 4242 4242 (`cards_saved`).
4. `sessions`: the demo world's therapist records and completes sessions that took place with
   four of her clients (in office, telehealth with the payer's modifier, a dependant's under a
   prior authorization ops record, which a later run reuses while it has visits left, and 90837
   with the 90785 add-on), and ops record intakes for two more, Blake Ellison, typing his
   card's member id in without a zero (EVG10040, every run: an earlier run corrected it), and
   Morgan Diaz, checking no benefits for either, and Casey Morgan's first session with her
   after checking her benefits; each is a claim `ready` (`sessions_completed`).
   A run's sessions took place on a day on which Maya has none recorded yet (the payers deny a
   service billed twice for one day as a duplicate). Then each session priced from a benefit
   check has its estimate charged off-session by the worker, read as the client reads their
   charges (`GET /clients/{id}/charges`, each intent from `GET /client-charges/{id}/payment`;
   only Stripe's fee is read at the simulator): summary.json gains `copays_charged` (the
   captured completion charges: count, cents, each intent) and `balances_due` (Avery's
   declined charge, with its Hearth charge id). Ops see it in `GET /payments/failed`, Avery
   gets the balance-due email (read from the SMTP sink), asks to pay (`POST
   /client-charges/{id}/payment`: the declined intent's client secret) and confirms that SAME
   PaymentIntent at the Stripe simulator with a 4242 card typed in, as Stripe.js's
   confirmCardPayment would; `GET /client-charges/{id}/payment` shows it succeeded and `GET
   /clients/{id}/balance` the balance gone: summary.json gains `recovered` (count, cents,
   charge ids, each item).
5. `claims`: ops press "submit now" (`POST /claims/submissions`; development holds claims 0
   hours); the worker sends each payer's 837P batch over CORE and applies the 999 and 277CA;
   the demo polls each claim until accepted or rejected, prints its path (999 code, 277CA
   category, payer claim number), shows the mistyped card's rejection (277CA A3:33:IL) from
   the ops queue, and writes every 837P, 999 and 277CA of its batches to .data/demo/edi/
   (`837P-<ISA13>.x12`, `999-...`, `277CA-...`) next to the 270/271. summary.json gains
   `claims_submitted`, `claims_accepted` and `claims_rejected` (count and ids): the payers'
   first answers.
6. `corrections`: ops correct the mistyped member id on Blake Ellison's policy and resend his
   rejected claim as frequency 1; replace Jordan Lee's accepted in-office claim with a corrected
   diagnosis (frequency 7, REF*F8 naming the payer's claim number); void Alex Kim's accepted
   claim (frequency 8; his prior authorization's visit is given back, shown from the
   authorization). Each goes back to `ready`; ops press "submit now" and the demo follows the
   three like the first submission (acknowledgement paths, the new batches' files in edi/):
   the resend accepted, the replacement accepted under a new payer claim number, the void
   accepted and the claim `voided`; then each claim's status history. summary.json gains
   `claims_resent`, `claims_replaced` and `claims_voided` (count and ids).
7. `remittance`: the payers' payment run on the clearinghouse simulator (each payer pays what it
   adjudicated and sends its 835), ops press "fetch now" (`POST /remittances/fetches`), and the
   demo waits until every claim's 835 is posted, prints its status, what the payer paid, the
   client's share and the CARCs (Morgan Diaz's intake, recorded by ops on a card whose coverage
   had ended, denied CO-27; Jordan's replaced claim reversed and paid again; Alex's voided claim
   reversed), and writes each 835 file to .data/demo/edi/ (`835-<ISA13>.x12`). summary.json
   gains `claims_paid` (the payer paid money on it, net of reversals, a client's share or not),
   `claims_denied` (the whole claim), `eras_posted` (the 835 files posted that carried the
   run's claims, with their payments' EFT traces) and `remittances` (each claim as printed).
   Then this run's true-ups (`GET /true-ups`) once the worker settled them: Blake Ellison's
   deductible, nothing estimated without a benefit check, charged to his card; Casey Morgan's
   coinsurance on Evergreen's lower allowed amount, refunded to her completion charge.
   summary.json gains `true_up_charges` and `refunds` (count, cents, each charge's intent, each
   refund's Hearth id), as the clients read them (`GET /clients/{id}/charges`, `/refunds`).
   Then Casey's monthly statement (`GET /clients/{id}/statements/{YYYY-MM}`, the month of her
   session, or the next holding its lines): her session's lines, the month's totals and its
   closing balance (summary.json `statement`).
8. `review`: ops open the denial work queue (`GET /denials`, grouped by reason) and resolve
   Morgan Diaz's CO-27 denial there (coverage ended, nothing to appeal: `POST
   /denials/{id}/write-off` with the reason; it leaves the queue), then read the estimate
   accuracy (`GET /remittances/estimate-accuracy`: the claims whose 835 stands in the last 90
   days, exact to the cent, mean absolute error, per payer). summary.json gains
   `claims_written_off` and `estimate_accuracy` (the answer as read).
9. `payouts`: the demo's providers (Maya and the run's new therapist) get a payout account,
   onboarded at the Stripe simulator; ops top up the platform's Stripe balance and press "run
   now" for today for each (`POST /payouts/runs`): today's run takes what is due at that
   instant, so each run pays the sessions it completed (net of what the 835s took back). The
   demo waits for the transfers to be paid and prints Maya's statement (and writes it as CSV
   and PDF beside summary.json). summary.json gains `payouts` (count, cents, ids, the
   statement's lines).
10. `recoupment`: after that payout, Evergreen's post-payment review (the simulator's
   `/_admin/takeback`) finds Jordan Lee's paid add-on session not medically necessary (CO-50):
   its next 835 reverses the payment and denies the claim; ops fetch and post it, and CO-50's
   policy recoups the loss from Maya's payable (summary.json `taken_back`).
11. `superbills`: Jamie Rivera, whose plan pays therapy only out of network, saves a card; ops
   record his in-office session with Maya as self-pay (no claim), her self-pay rate is charged
   to his card, and he reads the session's superbill as JSON and as a PDF (written beside
   summary.json), reads his month's superbill and opts in to the monthly superbill email
   (summary.json `superbills`). The email itself is sent by a daily job for the month before:
   the demo says when, it does not run it.
12. `recoupment` again: ops run Maya's payout now once more: it pays Jamie's session less the
   recoupment, and its statement shows both lines, with the recoupment's reason, adding up to
   the payout (summary.json `recoupments_netted`, checked against the API by tests/test_demo.py).
   Last, ops read the trial balance (`ledger_imbalance_cents`: debits less credits, 0), and the
   demo prints a summary of the whole run in plain words.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from infra import shifted_clock as clock
from infra.demo.base import REPO, Demo, DemoFailed, section
from infra.demo.benefits import benefits_and_estimate
from infra.demo.claims import submit_and_acknowledge
from infra.demo.corrections import correct_claims
from infra.demo.onboarding import client_journey, onboard_provider, ops_setup
from infra.demo.payments import save_cards, show_completion_charges, show_true_ups
from infra.demo.payouts import run_payouts, show_trial_balance
from infra.demo.recoupment import net_recoupment, take_back
from infra.demo.recovery import recover_declined, show_statement
from infra.demo.remittance import post_remittances
from infra.demo.review import resolve_denials, show_estimate_accuracy
from infra.demo.sessions import complete_sessions
from infra.demo.summary import print_summary
from infra.demo.superbills import save_card, self_pay_superbill


def _run_steps(demo: Demo, out: Path, clearinghouse: str) -> None:
    """Every step in order, each part under its heading."""
    section("Set-up: ops, a payer, a new therapist and a new client")
    setup = ops_setup(demo)
    ops = setup["ops"]
    provider = onboard_provider(demo, ops, setup["payer"])
    client_journey(demo, setup["payer"], provider)
    edi = out / "edi"
    edi.mkdir(parents=True, exist_ok=True)
    for old in edi.glob("*.x12"):
        old.unlink()
    onboarded = provider["provider"]
    new_provider = {onboarded["id"]: f"{onboarded['first_name']} {onboarded['last_name']}"}

    def review() -> None:
        resolve_denials(demo, ops)
        show_estimate_accuracy(demo, ops)

    def superbill() -> None:
        save_card(demo)
        self_pay_superbill(demo, ops, out)

    steps: list[tuple[str, Callable[[], None]]] = [
        ("Benefits and an estimate (270/271)", lambda: benefits_and_estimate(demo, ops, edi)),
        ("Cards saved before the sessions", lambda: save_cards(demo)),
        ("Sessions completed, each a claim", lambda: complete_sessions(demo, ops)),
        ("The estimates charged at completion", lambda: show_completion_charges(demo)),
        ("A declined charge recovered", lambda: recover_declined(demo, ops)),
        ("Claims sent (837P) and acknowledged (999, 277CA)",
         lambda: submit_and_acknowledge(demo, ops, edi)),
        ("Claims corrected: resent, replaced, voided", lambda: correct_claims(demo, ops, edi)),
        ("The payers pay (835) and ops post it",
         lambda: post_remittances(demo, ops, edi, clearinghouse)),
        ("True-ups: the client's share settled", lambda: show_true_ups(demo, ops)),
        ("A client's monthly statement", lambda: show_statement(demo)),
        ("Ops review: denials and estimate accuracy", review),
        ("The weekly payout", lambda: run_payouts(demo, ops, new_provider, out)),
        ("After the payout: the payer takes a claim back",
         lambda: take_back(demo, ops, edi, clearinghouse)),
        ("An out-of-network client's superbill", superbill),
        ("The next payout nets the recoupment", lambda: net_recoupment(demo, ops, out)),
        ("The ledger", lambda: show_trial_balance(demo, ops)),
    ]  # fmt: skip
    for title, step in steps:
        section(title)
        step()


def _local(url_env: str, port_env: str, port: int, path: str = "") -> str:
    """Where `make run` serves a part: its URL when set, else on 127.0.0.1 at the port it was
    told (the same variable `make run` reads), else at its default port."""
    if url := os.environ.get(url_env):
        return url
    given = os.environ.get(port_env, "")
    return f"http://127.0.0.1:{given if given.isdigit() and given != '0' else port}{path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.demo")
    parser.add_argument("--base-url", default=_local("HEARTH_API_URL", "HEARTH_API_PORT", 8000))
    default_out = Path(os.environ.get("HEARTH_DEMO_DIR", REPO / ".data" / "demo"))
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument(
        "--mail-url",
        default=_local("HEARTH_MAIL_SINK_URL", "HEARTH_MAIL_SINK_PORT", 8025),
        help="the SMTP sink's HTTP side, where the demo reads the verification email",
    )
    parser.add_argument(
        "--clearinghouse-url",
        default=_local("HEARTH_CLEARINGHOUSE_URL", "HEARTH_CLEARINGHOUSE_PORT", 8090, "/core"),
        help="the simulator's CORE endpoint (as the API reaches it); the payment run and the"
        " 835s kept are beside it, under /_admin",
    )
    parser.add_argument(
        "--stripe-url",
        default=_local("HEARTH_STRIPE_API_BASE", "HEARTH_STRIPE_SIM_PORT", 8420),
        help="the Stripe simulator (as the API reaches it), where the clients' cards are"
        " confirmed as Stripe.js would and the charges read",
    )
    args = parser.parse_args(argv)
    run = uuid.uuid4().hex[:6]
    started = time.monotonic()
    print(f"Hearth demo {run} against {args.base_url}")
    with httpx.Client(base_url=args.base_url, timeout=30) as http:
        try:
            http.get("/health/ready").raise_for_status()
        except httpx.HTTPError as exc:
            print(
                f"the API at {args.base_url} is not ready ({exc}); start it with `make run`",
                file=sys.stderr,
            )
            return 2
        demo = Demo(http=http, run=run, mail_url=args.mail_url, stripe_url=args.stripe_url)
        try:
            _run_steps(demo, args.out, args.clearinghouse_url)
        except DemoFailed as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            return 1
    outcomes = ("submitted", "accepted", "rejected", "resent", "replaced", "voided", "paid",
                "denied", "written_off")  # fmt: skip
    claims = {f"claims_{o}": demo.outcomes.get(o, []) for o in outcomes}
    summary = {
        "run_id": run,
        "base_url": args.base_url,
        "finished_at": clock.now().isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 2),
        **demo.counts,
        **demo.shown,
        "sessions_completed": {"count": len(demo.completed), "ids": demo.completed},
        **{name: {"count": len(ids), "ids": ids} for name, ids in claims.items()},
        # The 835 files posted that carried this run's claims (a file: one payer's payment).
        "eras_posted": {"count": len(demo.eras), "ids": [e["id"] for e in demo.eras],
                        "traces": [t for e in demo.eras for t in e["traces"]]},
        "remittances": demo.remittances,
        **demo.payments,
        **demo.review,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_summary(summary, args.out)
    print(f"summary: {args.out / 'summary.json'}")
    return 0
