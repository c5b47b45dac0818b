"""`make run` and `make demo` together: the real supervisor starts migrations, demo data, the API,
the worker, the clearinghouse simulator and the SMTP sink over an empty database; the demo then
runs twice against that one stack, each run saving its clients' cards at the Stripe simulator,
submitting its own claims to the payers, then resending, replacing and voiding three of them,
and then having the payers pay, posting their 835s and settling the client true-ups."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.live import ROOT, app_env, free_port, process, wait_ready
from tests.superbills.helpers import pdf_text
from tests.x12tools import x12valid_errors, x279_errors

# The stack's Stripe API key (development's): the test reads the charges back from Stripe itself.
STRIPE_KEY = {"Authorization": "Bearer sk_test_hearth_development_only"}


def test_make_run_then_demo_twice(
    empty_db: str, redis_url: str, redis_namespace: str, tmp_path: Path
) -> None:
    port, mail_port, clearinghouse_port = free_port(), free_port(), free_port()
    stripe_port = free_port()
    env = app_env(
        empty_db,
        redis_url,
        HEARTH_ENV="development",
        HEARTH_API_PORT=str(port),
        # make run starts the SMTP sink there; the demo reads the verification email from it.
        HEARTH_MAIL_SINK_PORT=str(mail_port),
        HEARTH_MAIL_SINK_URL=f"http://127.0.0.1:{mail_port}",
        # make run starts the simulator there; the demo has its payers pay (payment run).
        HEARTH_CLEARINGHOUSE_PORT=str(clearinghouse_port),
        HEARTH_CLEARINGHOUSE_URL=f"http://127.0.0.1:{clearinghouse_port}/core",
        # make run starts the Stripe simulator there; the demo confirms cards and reads charges.
        HEARTH_STRIPE_SIM_PORT=str(stripe_port),
        HEARTH_STRIPE_API_BASE=f"http://127.0.0.1:{stripe_port}",
        HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-demo",
    )
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    with process([sys.executable, "-m", "infra.local.run"], env, log) as stack:
        wait_ready(base, stack, log, timeout=60)
        seen: set[str] = set()  # every run completes sessions of its own
        claims_seen: set[str] = set()  # and submits claims of its own
        payouts_seen: set[str] = set()  # and pays its providers once for them
        for attempt in (1, 2):
            out = tmp_path / f"demo-{attempt}"
            demo = subprocess.run(
                [sys.executable, "-m", "infra.demo", "--base-url", base, "--out", str(out)],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert demo.returncode == 0, demo.stdout + demo.stderr
            summary = json.loads((out / "summary.json").read_text())
            _set_up_and_checked(summary, demo.stdout)
            # Maya completes four of her clients' sessions and ops record Blake's and Morgan's
            # intakes and Casey's first session, each a claim (ready); the lines say how.
            completed = summary["sessions_completed"]
            assert completed["count"] == 7
            assert len(set(completed["ids"])) == 7
            seen.update(completed["ids"])
            for expected in (
                "completed: Jordan Lee 90834, POS 11 (in office), 45 min",
                "completed: Avery Patel 90837-95, POS 10 (telehealth",
                "completed: Alex Kim 90837-GT, POS 10 (dependant, prior"
                " authorization, modifier GT), 56 min, ICD-10 F90.0; claim ready, prior"
                " authorization used",
                "completed: Jordan Lee 90837-95 + 90785-95, POS 10",
                "ops recorded: Blake Ellison 90791-95, POS 10",
                "ops recorded: Morgan Diaz 90791-GT, POS 10",
                "ops recorded: Casey Morgan 90837-95, POS 10 (recorded by ops after a benefit"
                " check, coinsurance)",
            ):
                assert expected in " ".join(demo.stdout.split())
            _claims_answered(summary, demo.stdout, claims_seen)
            _claims_corrected(summary, demo.stdout)
            _edi_files_valid(out / "edi")
            _remitted(summary, demo.stdout, out / "edi")
            _reviewed(summary, demo.stdout)
            with httpx.Client(base_url=env["HEARTH_STRIPE_API_BASE"], headers=STRIPE_KEY) as sim, \
                    httpx.Client(base_url=base) as api:  # fmt: skip
                _charged(summary, demo.stdout, sim)
                _recovered(summary, demo.stdout, sim, api, _ops(api))
                _settled(summary, demo.stdout, sim)
                _statement(summary, demo.stdout)
                _recouped(summary, demo.stdout, api, _ops(api))
                _superbill(summary, demo.stdout, sim, api, _ops(api), out)
            _paid_out(summary, demo.stdout, payouts_seen)
        assert len(seen) == 14
        assert len(claims_seen) == 14
        os.killpg(stack.pid, signal.SIGINT)
        assert stack.wait(timeout=30) == 0, log.read_text()[-3000:]


def _ops(api: httpx.Client) -> dict[str, str]:
    """The demo world's ops user, signed in (the test reads what the demo did, as ops)."""
    login = api.post("/auth/login", json={"email": "ops@hearth.test",
                                          "password": "hearth-demo-password"})  # fmt: skip
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _set_up_and_checked(summary: dict[str, Any], stdout: str) -> None:
    """Ops set up a payer and a provider, a new client signed up and booked, and benefits were
    checked: Jordan Lee's own, and ops' of a carve-out."""
    assert summary["payers_created"] == 1
    assert summary["fee_schedules_created"] == 3
    assert summary["providers_onboarded"] == 1
    assert summary["credentialing_transitions"] == 3
    assert summary["clients_signed_up"] == 1
    assert summary["policies_added"] == 1
    assert summary["sessions_booked"] == 1  # the new client's; Maya records hers
    assert summary["benefit_checks"] == 2  # Jordan's own, then ops for a carve-out
    assert summary["estimates"] == 1
    # Jordan Lee's plan: active, a $30 copay per visit (EB06 27), no visit limit.
    assert summary["benefit_check_status"] == "active"
    assert (summary["copay_period"], summary["visit_limit_period"]) == ("visit", None)
    assert "active, in-network copay $30.00 (visit), visit limit none" in stdout
    # Sydney Park's plan hands mental health to another payer; the plan stays active.
    assert (summary["carve_out_status"], summary["carve_out_to"]) == (
        "active",
        "Mindful Behavioral Health",
    )
    assert "plan covers in network: yes; mental health is handled by" in stdout


def _claims_answered(summary: dict[str, Any], stdout: str, claims_seen: set[str]) -> None:
    """This run's seven claims went to the payers: six accepted, Blake's mistyped card not."""
    submitted = summary["claims_submitted"]
    accepted, rejected = summary["claims_accepted"], summary["claims_rejected"]
    assert (submitted["count"], accepted["count"], rejected["count"]) == (7, 6, 1)
    assert sorted(accepted["ids"] + rejected["ids"]) == sorted(submitted["ids"])
    assert not claims_seen & set(submitted["ids"])  # new claims, earlier runs' left alone
    claims_seen.update(submitted["ids"])
    lines = " ".join(stdout.split())
    assert "ops: submit now" in lines
    for who in ("Jordan Lee", "Avery Patel", "Alex Kim"):
        assert f"accepted: {who} C" in lines
    assert re.search(r"999 IK5:A -> 277CA A2:20 \(accepted into adjudication\), payer claim"
                     r" number EVGRN\d{8}", lines)  # fmt: skip
    _acknowledged(lines, "rejected: Blake Ellison", "1", "A3:33:IL")
    assert re.search(r"rejected queue \(ops\) Blake Ellison C\w+: 277CA A3:33:IL \(returned as"
                     r" unprocessable; subscriber and subscriber id not found", lines)  # fmt: skip


def _acknowledged(lines: str, outcome: str, frequency: str, answer: str) -> None:
    """The demo printed the claim's path: the 999 accepted its set, the 277CA said `answer`."""
    path = rf"{outcome} C\w+ \(CLM01 \w+, frequency {frequency}\): 999 IK5:A -> 277CA {answer}"
    assert re.search(path, lines), path


def _claims_corrected(summary: dict[str, Any], stdout: str) -> None:
    """Blake's card corrected and his claim resent (1), accepted; Jordan's in-office claim
    replaced (7) under a new payer claim number; Alex's voided (8), his visit given back."""
    resent, replaced = summary["claims_resent"], summary["claims_replaced"]
    voided = summary["claims_voided"]
    assert (resent["count"], replaced["count"], voided["count"]) == (1, 1, 1)
    assert resent["ids"] == summary["claims_rejected"]["ids"]
    assert set(replaced["ids"] + voided["ids"]) <= set(summary["claims_accepted"]["ids"])
    assert replaced["ids"] != voided["ids"]
    lines = " ".join(stdout.split())
    assert "ops typed in the card member id EVG10040, no benefit check" in lines
    assert "ops: member id corrected Blake Ellison: EVG10040 -> EVG100040" in lines
    assert re.search(r"ops: resend \(frequency 1\) Blake Ellison C\w+ version 2, CLM01 \w+,"
                     r" ready: member id corrected", lines)  # fmt: skip
    assert re.search(r"ops: replace \(frequency 7\) Jordan Lee C\w+ version 2, CLM01 \w+,"
                     r" ready: diagnosis corrected to F43.23", lines)  # fmt: skip
    assert re.search(r"ops: void \(frequency 8\) Alex Kim C\w+ version 2", lines)
    accepted = r"A2:20 \(accepted into adjudication\), payer claim number"
    _acknowledged(lines, "accepted: Blake Ellison", "1", rf"{accepted} EVGRN\d{{8}}")
    _acknowledged(lines, "accepted: Jordan Lee", "7", rf"{accepted} EVGRN\d{{8}}")
    _acknowledged(lines, "voided: Alex Kim", "8", rf"{accepted} BLHBR\d{{8}}")
    numbers = re.search(r"replacement payer claim number (EVGRN\d{8}) replaced by (EVGRN\d{8})",
                        lines)  # fmt: skip
    assert numbers is not None
    assert numbers[1] != numbers[2]
    # The visit goes back to the authorization the run recorded (the second run reuses the
    # first's: completion takes the authorization that ends first).
    recorded = re.search(r"prior authorization (?:on file )?(PA\w+):", lines)
    given_back = re.search(r"visit given back \(void\) authorization (PA\w+): visits used 1 -> 0"
                           r" of 12", lines)  # fmt: skip
    assert recorded is not None
    assert given_back is not None
    assert recorded[1] == given_back[1]
    assert (
        "history: Blake Ellison ready -> submitted -> acknowledged -> rejected -> ready ->"
        " submitted -> acknowledged -> accepted" in lines
    )
    assert "-> accepted -> ready -> submitted -> acknowledged -> voided" in lines


def _claim_frequencies(text: str) -> list[tuple[str, bool]]:
    """Each claim of an 837P: its CLM05-3 and whether its 2300 loop carries REF*F8."""
    claims: list[tuple[str, bool]] = []
    in_claim = False
    for segment in (s.strip() for s in text.split("~")):
        elements = segment.split("*")
        if elements[0] == "CLM":
            claims.append((elements[5].split(":")[2], False))
            in_claim = True
        elif elements[0] in ("LX", "HL", "SE"):
            in_claim = False  # the service lines (2400) or the next subscriber begin
        elif in_claim and elements[:2] == ["REF", "F8"]:
            claims[-1] = (claims[-1][0], True)
    return claims


def _edi_files_valid(edi: Path) -> None:
    """The 270/271, then per batch (named by its ISA13) its 837P, 999 and 277CA, all valid."""
    names = sorted(p.name for p in edi.iterdir())
    assert names[:2] == ["0001-270-eligibility-inquiry.x12", "0002-271-eligibility-response.x12"]
    assert x279_errors((edi / names[0]).read_text()) == []
    assert x279_errors((edi / names[1]).read_text()) == []
    batches: dict[str, set[str]] = {}
    for name in names[2:]:
        if name.startswith("835-"):
            continue  # the payers' 835s (_remitted)
        named = re.fullmatch(r"(837P|999|277CA)-(\d{9})\.x12", name)
        assert named is not None, name
        batches.setdefault(named[2], set()).add(named[1])
        assert x12valid_errors((edi / name).read_text()) == [], name
    # Evergreen's and Blue Harbor's, then theirs again for the corrected claims.
    assert len(batches) >= 4
    assert all(kinds == {"837P", "999", "277CA"} for kinds in batches.values()), batches
    claims = [
        claim for n in batches for claim in _claim_frequencies((edi / f"837P-{n}.x12").read_text())
    ]
    assert claims.count(("1", False)) == 8  # seven first sends and Blake's resend
    assert claims.count(("7", True)) == 1  # the replacement names the payer's claim number
    assert claims.count(("8", True)) == 1  # and so does the void
    assert len(claims) == 10


def _remitted(summary: dict[str, Any], stdout: str, edi: Path) -> None:
    """The payers paid, ops fetched, and every claim's 835 was posted: Morgan Diaz's denied
    (CO-27, his coverage ended), Jordan's replaced claim reversed and paid again, Alex's voided
    claim reversed, the others paid with the client's share; each 835 file kept and valid."""
    lines = " ".join(stdout.split())
    assert "payers: payment run" in lines
    assert re.search(r"ops: fetch now (the clearinghouse's 835 fetch queued|a fetch of the"
                     r" clearinghouse's 835s was already open)", lines)  # fmt: skip
    paid, denied, eras = summary["claims_paid"], summary["claims_denied"], summary["eras_posted"]
    assert paid["count"] >= 1
    assert denied["count"] >= 1
    assert eras["count"] >= 1
    assert len(set(eras["ids"])) == eras["count"]
    # What summary.json says is what the demo printed, claim by claim.
    shown = {r["claim_id"]: r for r in summary["remittances"]}
    assert set(shown) == set(summary["claims_accepted"]["ids"]) | set(
        summary["claims_resent"]["ids"]
    )
    assert sorted(paid["ids"]) == sorted(c for c, r in shown.items() if r["paid_cents"] > 0)
    assert sorted(denied["ids"]) == sorted(c for c, r in shown.items() if r["status"] == "denied")
    for r in shown.values():
        line = (rf"835 {r['status']}: {r['client']} C\w+: payer paid \${r['paid_cents'] / 100:.2f},"
                rf" client's share \${r['client_share_cents'] / 100:.2f}; CARC "
                + re.escape(" ".join(r["carcs"]) or "none"))  # fmt: skip
        assert re.search(line, lines), line
    # Morgan Diaz: Blue Harbor ended his coverage on 2025-12-31; nobody re-checked it.
    [morgan] = [r for r in shown.values() if r["client"] == "Morgan Diaz"]
    assert (morgan["status"], morgan["paid_cents"], morgan["carcs"]) == ("denied", 0, ["CO-27"])
    assert denied["ids"] == [morgan["claim_id"]]
    assert "CARC CO-27 (coverage ended before the date of service)" in lines
    # The replaced claim: its original's payment reversed, the corrected claim paid.
    [replaced] = summary["claims_replaced"]["ids"]
    assert shown[replaced]["reversals"] == 1
    assert shown[replaced]["status"] in ("paid", "partially_paid")
    # The client's share: Jordan's copay (PR-3), or his deductible in a plan year just begun.
    assert any(code.startswith("PR-") for code in shown[replaced]["carcs"])
    assert shown[replaced]["client_share_cents"] > 0
    assert re.search(r"payment reversed \(EVGRN\d{8}\), corrected claim EVGRN\d{8} paid", lines)
    # The voided claim: its payment reversed, nothing standing.
    [voided] = summary["claims_voided"]["ids"]
    assert (shown[voided]["status"], shown[voided]["reversals"]) == ("voided", 1)
    assert (shown[voided]["paid_cents"], shown[voided]["client_share_cents"]) == (0, 0)
    # Each 835 file the demo's claims came in, named by its ISA13, valid.
    files = sorted(p.name for p in edi.glob("835-*.x12"))
    assert len(files) == eras["count"], files
    for name in files:
        assert re.fullmatch(r"835-\d{9}\.x12", name), name
        text = (edi / name).read_text()
        assert "CLP*" in text
        assert x12valid_errors(text) == [], name


def _reviewed(summary: dict[str, Any], stdout: str) -> None:
    """Ops wrote off the run's denial through the denial work queue, then read the estimate
    accuracy: every claim of this run whose 835 stands is counted (with earlier runs' on the
    same stack), per payer too, and the figures were printed."""
    # Morgan Diaz's CO-27 denial, found in the denial work queue and written off there.
    assert summary["claims_written_off"]["ids"] == summary["claims_denied"]["ids"]
    assert "ops: denial work queue open denials by reason:" in " ".join(stdout.split())
    assert re.search(
        r"ops: written off Morgan Diaz C\w+ \(CO-27: [^)]+\)", " ".join(stdout.split())
    )
    accuracy = summary["estimate_accuracy"]
    overall = accuracy["overall"]
    standing = [r for r in summary["remittances"] if r["status"] != "voided"]
    assert overall["claims"] >= len(standing) >= 1
    assert 0 <= overall["exact"] <= overall["claims"]
    assert sum(p["figures"]["claims"] for p in accuracy["payers"]) == overall["claims"]
    lines = " ".join(stdout.split())
    assert (
        f"ops: estimate accuracy {accuracy['date_from']} to {accuracy['date_to']}:"
        f" {overall['claims']} claim(s), {overall['exact']} exact to the cent"
    ) in lines


def _charged(summary: dict[str, Any], stdout: str, stripe: httpx.Client) -> None:
    """The cards saved and the estimates charged at completion as summary.json says, read back
    from the simulator: each session priced from a benefit check captured, but Avery's, whose
    card declined (a balance due)."""
    lines = " ".join(stdout.split())
    assert summary["cards_saved"] == 7  # the visits' six clients, then Jamie Rivera's
    assert lines.count("the default (consent") == 7
    assert "card saved: Avery Patel visa ..0341" in lines
    charged, due = summary["copays_charged"], summary["balances_due"]
    # A later run on one stack: Alex's credit (the estimate of the claim the run before voided)
    # settles his completion charge first, and no card is charged for it.
    settled = summary["settled_by_credit"]
    clients = sorted(item["client"] for item in charged["items"] + settled["items"])
    assert clients == ["Alex Kim", "Casey Morgan", "Jordan Lee", "Jordan Lee"]
    assert charged["count"] + settled["count"] == 4
    assert all(item["client"] == "Alex Kim" for item in settled["items"])
    assert set(i["session_id"] for i in charged["items"]) < set(
        summary["sessions_completed"]["ids"]
    )
    for item in charged["items"]:
        intent = stripe.get(f"/v1/payment_intents/{item['intent']}").json()
        assert (intent["status"], intent["amount"]) == ("succeeded", item["cents"])
        assert intent["metadata"]["hearth_kind"] == "completion"
        assert intent["metadata"]["hearth_source_id"] == item["session_id"]
    assert charged["cents"] == sum(item["cents"] for item in charged["items"]) > 0
    [declined] = due["items"]
    assert (declined["client"], due["count"], due["cents"]) == ("Avery Patel", 1, declined["cents"])
    assert re.search(r"declined at completion: Avery Patel \$25\.00 on \.\.0341 \([^;)]+;"
                     r" generic_decline\): a balance due", lines)  # fmt: skip


def _recovered(summary: dict[str, Any], stdout: str, stripe: httpx.Client, api: httpx.Client,
               ops: dict[str, str]) -> None:  # fmt: skip
    """Avery's declined charge: ops saw it, she got the balance-due email and paid it with
    another card on the SAME PaymentIntent (one intent at Stripe for the charge, succeeded,
    for the amount); she owed 0 then, and owes nothing after the whole run (read by ops)."""
    lines = " ".join(stdout.split())
    [declined] = summary["balances_due"]["items"]
    recovered = summary["recovered"]
    assert (recovered["count"], recovered["cents"]) == (1, declined["cents"])
    assert recovered["ids"] == [declined["charge_id"]]
    [item] = recovered["items"]
    assert (item["charge_id"], item["intent"]) == (declined["charge_id"], declined["intent"])
    assert (item["owed_now_cents"], item["balance_cents"]) == (0, 0)
    assert item["email_subject"] == "Your payment to Hearth did not go through"
    assert ("ops: failed payments Avery Patel $25.00 completion (card_declined: generic_decline,"
            " a soft decline, retrying)") in lines  # fmt: skip
    assert re.search(r"balance-due email: Avery Patel to avery\.patel@hearth\.test, \"Your"
                     r" payment to Hearth did not go through\": We could not collect \$25\.00 .*"
                     rf"/pay/{declined['charge_id']}", lines)  # fmt: skip
    assert f"on the same intent: {declined['intent']} succeeded" in lines
    assert "owed now $0.00, balance $0.00 (was $25.00)" in lines
    intent = stripe.get(f"/v1/payment_intents/{declined['intent']}").json()
    assert (intent["status"], intent["amount"]) == ("succeeded", declined["cents"])
    assert intent["metadata"]["hearth_charge_id"] == declined["charge_id"]
    listed = stripe.get("/v1/payment_intents", params={"customer": intent["customer"],
                                                       "limit": 100}).json()["data"]  # fmt: skip
    mine = [i["id"] for i in listed if i["metadata"].get("hearth_charge_id") == item["charge_id"]]
    assert mine == [declined["intent"]]
    # Paid with the card typed in, which Stripe kept off the customer (not saved).
    method = stripe.get(f"/v1/payment_methods/{intent['payment_method']}").json()
    assert (method["card"]["last4"], method["customer"]) == ("4242", None)
    # After the whole run: nothing owed (a true-up Hearth reviews first is not owed yet).
    path = f"/clients/{item['client_id']}"
    balance = api.get(f"{path}/balance", headers=ops).json()
    assert (balance["owed_now_cents"], balance["being_charged_cents"]) == (0, 0)
    assert balance["balance_cents"] == balance["in_review_cents"]
    charges = api.get(f"{path}/charges", headers=ops).json()["items"]
    [paid] = [c for c in charges if c["id"] == item["charge_id"]]
    assert paid["status"] == "succeeded"


def _settled(summary: dict[str, Any], stdout: str, stripe: httpx.Client) -> None:
    """The true-ups settled at Stripe: Blake's deductible charged (nothing was estimated for
    him), Casey's coinsurance on Evergreen's lower allowed amount refunded to her completion
    charge; each read back from the simulator."""
    lines = " ".join(stdout.split())
    charged = summary["copays_charged"]
    remitted = {r["client"]: r for r in summary["remittances"]}
    true_ups = summary["true_up_charges"]
    [blake] = [i for i in true_ups["items"] if i["client"] == "Blake Ellison"]
    assert blake["cents"] == remitted["Blake Ellison"]["client_share_cents"] > 0
    for item in true_ups["items"]:
        intent = stripe.get(f"/v1/payment_intents/{item['intent']}").json()
        assert (intent["status"], intent["amount"]) == ("succeeded", item["cents"])
        assert intent["metadata"]["hearth_kind"] == "true_up"
        assert intent["metadata"]["hearth_source_id"] == item["true_up_id"]
    assert true_ups["cents"] == sum(item["cents"] for item in true_ups["items"])
    assert re.search(
        r"true-up \(adjudication\): Blake Ellison charged \$[0-9.]+ to \.\.4242", lines
    )
    refunds = summary["refunds"]
    [casey] = [i for i in refunds["items"] if i["client"] == "Casey Morgan"]
    [paid] = [i for i in charged["items"] if i["client"] == "Casey Morgan"]
    assert casey["cents"] == paid["cents"] - remitted["Casey Morgan"]["client_share_cents"] > 0
    assert refunds["count"] == len(refunds["items"])
    assert refunds["cents"] == sum(item["cents"] for item in refunds["items"])
    assert (casey["charge_id"], casey["intent"]) == (paid["charge_id"], paid["intent"])
    at_stripe = stripe.get("/v1/refunds", params={"payment_intent": paid["intent"]}).json()
    [refund] = [r for r in at_stripe["data"]
                if r["metadata"].get("hearth_true_up_id") == casey["true_up_id"]]  # fmt: skip
    assert (refund["status"], refund["amount"]) == ("succeeded", casey["cents"])
    assert "true-up (adjudication): Casey Morgan refunded" in lines


def _statement(summary: dict[str, Any], stdout: str) -> None:
    """Casey's month as her statement has it: her session's estimate, its payment, the insurer's
    lower figure and the refund; the closing balance the opening plus every line."""
    statement = summary["statement"]
    [paid] = [i for i in summary["copays_charged"]["items"] if i["client"] == "Casey Morgan"]
    [refund] = [i for i in summary["refunds"]["items"] if i["client"] == "Casey Morgan"]
    assert (statement["client"], statement["session_id"]) == ("Casey Morgan", paid["session_id"])
    assert statement["month"] >= paid["session_date"][:7]
    by_kind: dict[str, int] = {}
    for line in statement["lines"]:
        by_kind[line["kind"]] = by_kind.get(line["kind"], 0) + line["cents"]
    assert by_kind == {"session": paid["cents"], "payment": -paid["cents"],
                       "insurer": -refund["cents"], "refund": refund["cents"]}  # fmt: skip
    assert statement["closing_cents"] == statement["opening_cents"] + statement["all_lines_cents"]
    lines = " ".join(stdout.split())
    assert f"statement {statement['month']}: Casey Morgan GET /clients/" in lines
    assert f"closing balance ${statement['closing_cents'] / 100:,.2f}" in lines


def _paid_out(summary: dict[str, Any], stdout: str, payouts_seen: set[str]) -> None:
    """Ops ran today's payout now: Maya was paid for this run's sessions (a second run on the
    same day: a new payout, none paid twice), her statement adds up to the payout, and the
    ledger's trial balance is zero."""
    payouts = summary["payouts"]
    assert payouts["count"] >= 1
    assert payouts["cents"] > 0
    assert not payouts_seen & set(payouts["ids"])
    payouts_seen.update(payouts["ids"])
    statement = payouts["statement"]
    assert statement["payout_id"] in payouts["ids"]
    assert sum(x["amount_cents"] for x in statement["lines"]) == statement["total_cents"] > 0
    sessions = [x for x in statement["lines"] if x["kind"] == "session"]
    assert sessions
    assert all(re.fullmatch(r"[A-Z]\.[A-Z]\.", x["client_initials"]) for x in sessions)
    assert all(x["cpt_codes"] for x in sessions)
    assert summary["ledger_imbalance_cents"] == 0
    lines = " ".join(stdout.split())
    assert "statement Maya Okafor, payout of" in lines
    assert "ops: trial balance" in lines


def _recouped(summary: dict[str, Any], stdout: str, api: httpx.Client,
              ops: dict[str, str]) -> None:  # fmt: skip
    """After the first payout, Evergreen took Jordan Lee's paid add-on claim back (CO-50, the
    provider's to carry): its 835 reversed the payment and denied the claim, and Maya's next
    payout netted the recoupment: its statement, read from the API, has the session line and
    a recoupment line a denied line, each with its reason, adding up to the payout."""
    taken, netted = summary["taken_back"], summary["recoupments_netted"]
    assert taken["claim_id"] in summary["claims_paid"]["ids"]
    assert (taken["client"], taken["reason"]) == ("Jordan Lee", "CO-50")
    remitted = api.get(f"/claims/{taken['claim_id']}/remittance", headers=ops).json()
    rows = [item["remitted"] for item in remitted["items"]]
    assert [r["claim"]["outcome"] for r in rows if r["claim"]["reversed_by"] is None
            and r["claim"]["outcome"] != "reversed"] == ["denied"]  # fmt: skip
    assert any(r["claim"]["outcome"] == "reversed" for r in rows)
    assert remitted["paid_cents"] == 0
    payout_id = netted["payout_id"]
    assert payout_id not in summary["payouts"]["ids"]  # a later payout than the first
    payout = api.get(f"/payouts/{payout_id}", headers=ops).json()["payout"]
    assert (payout["status"], payout["amount_cents"]) == ("paid", netted["payout_cents"])
    statement = api.get(f"/payouts/{payout_id}/statement", headers=ops).json()
    assert statement["lines"] == netted["lines"]
    recouped = [x for x in statement["lines"] if x["kind"] == "recoupment"]
    sessions = [x for x in statement["lines"] if x["kind"] == "session"]
    # One recoupment a denied line (90837 and 90785), each at most that line's provider rate.
    assert (netted["count"], netted["cents"]) == (len(recouped), -sum(
        x["amount_cents"] for x in recouped)) == (2, netted["cents"])  # fmt: skip
    for line in recouped:
        assert line["session_id"] == taken["session_id"]
        assert "CO-50" in line["description"]
        assert "medically necessary" in line["description"]
    [superbill] = summary["superbills"]["items"]
    assert [x["session_id"] for x in sessions] == [superbill["session_id"]]
    assert 0 < netted["cents"] <= taken["taken_back_cents"]
    total = sum(x["amount_cents"] for x in statement["lines"])
    assert total == statement["total_cents"] == payout["amount_cents"] > 0
    lines = " ".join(stdout.split())
    assert re.search(r"payers: post-payment review \(EVGRN\) Jordan Lee's claim \w+ \(EVGRN\d{8}\),"
                     r" paid \$[0-9.,]+: not medically necessary \(CO-50\)", lines)  # fmt: skip
    assert "payment reversed, the claim denied CO-50 (not medically necessary)" in lines
    sessions_cents = sum(x["amount_cents"] for x in sessions)
    assert (f"recoupment netted ${netted['cents'] / 100:,.2f} for Jordan Lee's session (CO-50)"
            f" taken back from Maya: sessions ${sessions_cents / 100:,.2f} less"
            f" ${netted['cents'] / 100:,.2f} is the payout of ${payout['amount_cents'] / 100:,.2f}"
            ) in lines  # fmt: skip


def _superbill(summary: dict[str, Any], stdout: str, stripe: httpx.Client, api: httpx.Client,
               ops: dict[str, str], out: Path) -> None:  # fmt: skip
    """Jamie Rivera's self-pay session with Maya: no claim, her self-pay rate captured on his
    card, his superbill as JSON and as the PDF written beside summary.json, and his opt-in to
    the monthly superbill email, each read back."""
    [item] = summary["superbills"]["items"]
    assert summary["superbills"]["count"] == 1
    session = api.get(f"/therapy-sessions/{item['session_id']}", headers=ops).json()
    assert (session["status"], session["policy_id"]) == ("confirmed", None)
    superbill = api.get(f"/therapy-sessions/{item['session_id']}/superbill", headers=ops).json()
    [billed] = superbill["sessions"]
    assert (billed["reason"], billed["charged_cents"], billed["paid_cents"]) == (
        "self_pay", item["charged_cents"], item["paid_cents"])  # fmt: skip
    assert item["paid_cents"] == item["cents"] == 20_000  # Maya's self-pay rate for 90837
    assert [line["cpt_code"] for line in billed["lines"]] == ["90837"]
    assert superbill["providers"][0]["npi"] == "1654321870"
    intent = stripe.get(f"/v1/payment_intents/{item['intent']}").json()
    assert (intent["status"], intent["amount"]) == ("succeeded", item["cents"])
    text = pdf_text((out / item["pdf"]).read_bytes())
    for expected in ("Maya Okafor", "1654321870", "103T00000X", "Jamie Rivera", "90837",
                     "$200.00"):  # fmt: skip
        assert expected in text, expected
    chosen = api.get(f"/clients/{item['client_id']}/superbill-preferences", headers=ops).json()
    assert chosen["monthly_email"] is True
    lines = " ".join(stdout.split())
    assert "ops recorded: Jamie Rivera 90837, POS 11 (in office), self-pay" in lines
    assert "charged at completion: Jamie Rivera $200.00 (Maya's self-pay rate)" in lines
    assert "total charged $200.00, paid $200.00 (self pay)" in lines
    assert "Summary of demo run" in stdout
