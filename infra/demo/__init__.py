"""The scripted demo: drives Hearth through its HTTP API only, as a frontend would.

`make demo` runs it against the stack `make run` started; it can run again and again against
one stack (every name it creates is new). It prints a readable account of each step and writes
the counts it observed to .data/demo/summary.json.

Today: ops sign in, create a payer with a fee schedule, onboard a provider and take their
credentialing to approved; the provider accepts the invitation; a client signs up, reads the
verification email from the local SMTP sink (`make run` starts it), verifies the address and is
signed in, adds a policy and books a session, and the provider then sees the client. Then a
demo-world client checks their benefits (270/271 through the clearinghouse simulator, written to
.data/demo/edi/) and gets an estimate with a five-session projection. The benefit check's
status, copay period and visit-limit period are printed and kept in summary.json. Then the
demo world's therapist records and completes sessions that took place with four of her
clients (in office, telehealth with the payer's modifier, a dependant's under a prior
authorization ops record, and 90837 with the 90785 add-on), each a claim `ready`;
summary.json's `sessions_completed` has their count and ids. Submission and acknowledgements
are not in the demo yet.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from infra import shifted_clock as clock

REPO = Path(__file__).resolve().parents[1]
OPS_EMAIL = os.environ.get("HEARTH_DEMO_OPS_EMAIL", "ops@hearth.test")
OPS_PASSWORD = os.environ.get("HEARTH_DEMO_OPS_PASSWORD", "hearth-demo-password")
PASSWORD = "demo-run-passphrase"  # for the users this run creates


class DemoFailed(Exception):
    """The API answered something the demo did not expect."""


@dataclass
class Demo:
    http: httpx.Client
    run: str
    mail_url: str = "http://127.0.0.1:8025"
    counts: dict[str, int] = field(default_factory=dict)
    shown: dict[str, str | None] = field(default_factory=dict)  # what the benefit check said
    completed: list[str] = field(default_factory=list)  # ids of the sessions completed

    def call(self, method: str, path: str, token: str | None, expect: int, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(method, path, headers=headers, **kw)
        if response.status_code != expect:
            raise DemoFailed(
                f"{method} {path}: expected {expect}, got {response.status_code}: "
                f"{response.text[:500]}"
            )
        return response.json() if response.content else None

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def verification_code(self, to: str, timeout: float = 60) -> str:
        """The code in the verification email the worker sent to `to`, read from the sink."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.http.get(f"{self.mail_url}/messages", params={"to": to})
            response.raise_for_status()
            for message in response.json():
                if match := re.search(r"Verification code: (\S+)", message["body"]):
                    return match.group(1)
            time.sleep(0.5)
        raise DemoFailed(f"no verification email to {to} at {self.mail_url} after {timeout} s")


def _today() -> date:
    return clock.today()


def say(step: str, detail: str = "") -> None:
    print(f"  {step:<34} {detail}", flush=True)


def npi_with_check_digit(first_nine: str) -> str:
    """A valid NPI: Luhn over the prefix 80840 and the nine digits."""
    total = 0
    for i, ch in enumerate(reversed("80840" + first_nine)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return first_nine + str((10 - total % 10) % 10)


def ops_setup(demo: Demo) -> dict[str, Any]:
    ops = demo.call(
        "POST", "/auth/login", None, 200, json={"email": OPS_EMAIL, "password": OPS_PASSWORD}
    )["access_token"]
    say("ops signed in", OPS_EMAIL)
    payer = demo.call(
        "POST",
        "/payers",
        ops,
        201,
        json={
            "name": f"Demo Health {demo.run}",
            "x12_payer_id": f"DEMO{demo.run}".upper(),
            "timely_filing_days": 90,
            "telehealth_modifier": "95",
            "prior_auth_cpt_codes": [],
        },
    )
    demo.count("payers_created")
    say("payer created", f"{payer['name']} ({payer['x12_payer_id']})")
    start = date(_today().year, 1, 1).isoformat()
    for cpt, allowed, rate in [
        ("90791", 16_500, 12_000),
        ("90834", 10_500, 7_800),
        ("90837", 14_500, 10_800),
    ]:
        demo.call(
            "POST",
            f"/payers/{payer['id']}/fee-schedules",
            ops,
            201,
            json={
                "cpt_code": cpt,
                "allowed_cents": allowed,
                "provider_rate_cents": rate,
                "effective_from": start,
            },
        )
        demo.count("fee_schedules_created")
        say("fee schedule", f"{cpt}: allowed ${allowed / 100:.2f}, provider rate ${rate / 100:.2f}")
    overlap = demo.http.post(
        f"/payers/{payer['id']}/fee-schedules",
        headers={"Authorization": f"Bearer {ops}"},
        json={
            "cpt_code": "90834",
            "allowed_cents": 9_000,
            "provider_rate_cents": 7_000,
            "effective_from": start,
        },
    )
    if overlap.status_code != 409:
        raise DemoFailed(f"an overlapping fee schedule answered {overlap.status_code}")
    say("overlapping schedule refused", f"409 {overlap.json()['code']}")
    return {"ops": ops, "payer": payer}


def onboard_provider(demo: Demo, ops: str, payer: dict[str, Any]) -> dict[str, Any]:
    email = f"therapist-{demo.run}@demo.hearth.test"
    npi = npi_with_check_digit(f"1{secrets.randbelow(10**8):08d}")
    onboarded = demo.call(
        "POST",
        "/providers",
        ops,
        201,
        json={
            "email": email,
            "first_name": "Robin",
            "last_name": f"Demo{demo.run}",
            "npi": npi,
            "taxonomy_code": "1041C0700X",
            "tax_id": "12-3456789",
            "licences": [
                {
                    "state": "NY",
                    "licence_type": "LCSW",
                    "number": f"LCSW-{demo.run}",
                    "expires_on": f"{_today().year + 2}-06-30",
                }
            ],
            "locations": [{"name": "Telehealth", "place_of_service": "10"}],
        },
    )
    provider = onboarded["provider"]
    demo.count("providers_onboarded")
    say("provider onboarded", f"{provider['first_name']} {provider['last_name']}, NPI {npi}")
    tokens = demo.call(
        "POST",
        "/auth/invites/accept",
        None,
        200,
        json={"token": onboarded["invite_token"], "password": PASSWORD},
    )
    say("provider accepted invitation", email)
    record = demo.call(
        "POST",
        "/credentialing",
        ops,
        201,
        json={"provider_id": provider["id"], "payer_id": payer["id"]},
    )
    today = _today()
    for step in ("submitted", "in_review", "approved"):
        body: dict[str, Any] = {"to_status": step, "reason": f"demo: {step}"}
        if step == "approved":
            body |= {
                "effective_on": date(today.year, 1, 1).isoformat(),
                "ends_on": date(today.year + 2, 12, 31).isoformat(),
            }
        record = demo.call(
            "POST", f"/credentialing/{record['id']}/transitions", ops, 200, json=body
        )
        demo.count("credentialing_transitions")
    say("credentialing", " -> ".join(e["to_status"] for e in record["events"]))
    bad = demo.http.post(
        f"/credentialing/{record['id']}/transitions",
        headers={"Authorization": f"Bearer {ops}"},
        json={"to_status": "submitted", "reason": "demo: invalid"},
    )
    if bad.status_code != 409:
        raise DemoFailed(f"an invalid transition answered {bad.status_code}")
    say("invalid transition refused", "approved -> submitted: 409")
    return {"provider": provider, "token": tokens["access_token"]}


def client_journey(demo: Demo, payer: dict[str, Any], provider: dict[str, Any]) -> None:
    email = f"client-{demo.run}@demo.hearth.test"
    signed = demo.call(
        "POST",
        "/clients/signup",
        None,
        202,
        json={
            "email": email,
            "password": PASSWORD,
            "first_name": "Jordan",
            "last_name": f"Demo{demo.run}",
            "date_of_birth": "1990-04-12",
            "sex": "U",
            "address": {"line1": "12 Main Street", "city": "Albany", "state": "NY", "zip": "12207"},
        },
    )
    say("client signed up", f"{email}: {signed['status']}")
    code = demo.verification_code(email)
    say("verification email read", f"from the mail sink at {demo.mail_url}")
    token = demo.call(
        "POST", "/auth/verify-email", None, 200, json={"token": code, "password": PASSWORD}
    )["access_token"]
    me = demo.call("GET", "/auth/me", token, 200)
    client = demo.call("GET", f"/clients/{me['client_id']}", token, 200)
    demo.count("clients_signed_up")
    say("email verified, signed in", f"{client['first_name']} {client['last_name']}")
    policy = demo.call(
        "POST",
        f"/clients/{client['id']}/policies",
        token,
        201,
        json={
            "payer_id": payer["id"],
            "member_id": f"M{demo.run}".upper(),
            "group_number": "G100",
            "priority": "primary",
            "relationship": "self",
            "effective_from": date(_today().year, 1, 1).isoformat(),
        },
    )
    demo.count("policies_added")
    say("policy added", f"{payer['name']}, member {policy['member_id']}")
    hidden = demo.http.get(
        f"/clients/{client['id']}", headers={"Authorization": f"Bearer {provider['token']}"}
    )
    say("provider before a booking", f"GET client -> {hidden.status_code}")
    if hidden.status_code != 404:
        raise DemoFailed("a provider saw a client they have no session with")
    starts = (clock.now() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    booking = {
        "provider_id": provider["provider"]["id"],
        "policy_id": policy["id"],
        "starts_at": starts.isoformat(),
        "duration_minutes": 53,
        "place_of_service": "10",
    }
    key = {"Idempotency-Key": f"demo-{demo.run}-booking"}
    session = demo.call("POST", "/therapy-sessions", token, 201, json=booking, headers=key)
    again = demo.call("POST", "/therapy-sessions", token, 201, json=booking, headers=key)
    if again["id"] != session["id"]:
        raise DemoFailed("a repeated Idempotency-Key booked a second session")
    demo.count("sessions_booked")
    say("session booked", f"{starts:%Y-%m-%d %H:%M} UTC, telehealth; repeat -> same booking")
    seen = demo.call("GET", f"/clients/{client['id']}", provider["token"], 200)
    say("provider after the booking", f"sees {seen['first_name']} {seen['last_name']}")


DEMO_CLIENT = ("jordan.lee@hearth.test", "hearth-demo-password")  # a demo-world member


def benefits_and_estimate(demo: Demo, ops: str, edi: Path) -> None:
    """A demo-world client asks what sessions with their therapist will cost."""
    email, password = DEMO_CLIENT
    token = demo.call(
        "POST", "/auth/login", None, 200, json={"email": email, "password": password}
    )["access_token"]
    me = demo.call("GET", "/auth/me", token, 200)
    policy = demo.call("GET", f"/clients/{me['client_id']}/policies", token, 200)["items"][0]
    sessions = demo.call("GET", "/therapy-sessions", token, 200)["items"]
    provider_id = sessions[0]["provider_id"]
    check = demo.http.post(
        "/benefit-checks",
        headers={"Authorization": f"Bearer {token}"},
        # No `refresh`: a client may force a paid 270 once per policy per interval, and the demo
        # runs more than once against one stack; a second run gets the answer on file (200).
        json={"policy_id": policy["id"], "provider_id": provider_id},
    )
    if check.status_code not in (200, 201):
        raise DemoFailed(f"benefit check answered {check.status_code}: {check.text[:300]}")
    body = check.json()
    demo.count("benefit_checks")
    tier = body["benefits"]["in_network"]
    copay = tier.get("copay")
    copay_period, visit_limit_period = tier.get("copay_period"), tier.get("visit_limit_period")
    demo.shown.update(
        benefit_check_status=body["status"],
        copay_period=copay_period,
        visit_limit_period=visit_limit_period,
    )
    say(
        "benefit check (270/271)",
        f"{body['status']}, in-network copay "
        f"{'$%.2f' % (copay['cents'] / 100) if copay else 'none'}"
        f" ({(copay_period or 'visit').replace('_', ' ')}), visit limit "
        f"{'per ' + visit_limit_period.replace('_', ' ') if visit_limit_period else 'none'}, "
        f"took {body['duration_ms']} ms",
    )
    exchange = demo.call("GET", f"/benefit-checks/{body['id']}/x12", ops, 200)
    files = [
        ("270", "eligibility-inquiry", exchange["request_x12"]),
        ("271", "eligibility-response", exchange["response_x12"]),
    ]
    for sequence, (kind, description, text) in enumerate(files, start=1):
        (edi / f"{sequence:04d}-{kind}-{description}.x12").write_text(text)
        demo.count("edi_files")
    estimate = demo.call(
        "POST",
        "/estimates",
        token,
        200,
        json={
            "policy_id": policy["id"],
            "provider_id": provider_id,
            "cpt_code": "90834",
            "sessions": 5,
        },
    )
    demo.count("estimates")
    say(
        "estimate (90834, 5 sessions)",
        # The payer's allowed amount is the platform's contracted rate: ops see it, a client not.
        f"{estimate['network']} network (the client's view: no allowed amount)",
    )
    shown = {"deductible", "copay", "coinsurance", "oop_cap", "visit_limit", "plan_year_reset"}
    for session in estimate["projection"]["sessions"]:
        share = session.get("client_cents")
        say(
            f"  {session['session_date']}",
            f"client ${share / 100:.2f}" if share is not None else session.get("reason", ""),
        )
        for line in session["lines"]:
            if line["kind"] in shown:
                source = f" [{line['source']}]" if line.get("source") else ""
                print(f"      {line['text']}{source}")
    total = estimate["projection"]["client_total_cents"]
    say("projected client total", f"${total / 100:.2f} over 5 sessions")
    carve_out(demo, ops)


def _pages(demo: Demo, path: str, token: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list route, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": 200, **params, **({"cursor": cursor} if cursor else {})}
        page = demo.call("GET", path, token, 200, params=query)
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items


CARVE_OUT_CLIENT = ("Sydney", "Park")  # a demo-world member whose plan carves out MH


def carve_out(demo: Demo, ops: str) -> None:
    """Ops check a member whose plan hands mental health to another payer."""
    found = next(
        (c for c in _pages(demo, "/clients", ops)
         if (c["first_name"], c["last_name"]) == CARVE_OUT_CLIENT),
        None,
    )  # fmt: skip
    if found is None:
        raise DemoFailed(f"the demo world has no client {' '.join(CARVE_OUT_CLIENT)}")
    policy = demo.call("GET", f"/clients/{found['id']}/policies", ops, 200)["items"][0]
    check = demo.http.post(
        "/benefit-checks",
        headers={"Authorization": f"Bearer {ops}"},
        json={"policy_id": policy["id"]},  # no refresh: a second run reuses the answer on file
    )
    if check.status_code not in (200, 201):
        raise DemoFailed(f"benefit check answered {check.status_code}: {check.text[:300]}")
    demo.count("benefit_checks")
    body = check.json()
    carve = body["benefits"]["carve_out"]
    if carve is None:
        raise DemoFailed("the carve-out member's check names no carve-out")
    demo.shown.update(carve_out_status=body["status"], carve_out_to=carve["name"])
    covered = body["benefits"]["in_network"]["covered"]
    say(
        "carve-out check (270/271)",
        f"{body['status']}, plan covers in network: {'yes' if covered else 'no'}; mental health "
        f"is handled by {carve['name']} (phone {carve.get('phone') or 'not given'}): ask them",
    )


PROVIDER = ("maya.okafor@hearth.test", "hearth-demo-password")  # the demo world's therapist


@dataclass(frozen=True)
class Visit:
    """A session the provider books and then completes, as she would confirm it."""

    client: tuple[str, str]  # first and last name, a demo-world client she sees
    payer: str  # the client's payer's X12 id
    what: str  # how the demo describes it
    place_of_service: str
    lines: list[tuple[str, list[str]]]  # CPT code, modifiers
    minutes: int
    diagnoses: tuple[str, ...] = ("F41.1",)


VISITS = [
    Visit(client=("Jordan", "Lee"), payer="EVGRN", what="in office", place_of_service="11",
          lines=[("90834", [])], minutes=45),
    Visit(client=("Avery", "Patel"), payer="EVGRN", what="telehealth, Evergreen's modifier 95",
          place_of_service="10", lines=[("90837", ["95"])], minutes=55),
    # Blue Harbor wants a prior authorization for 90837; Alex is his mother's dependant.
    Visit(client=("Alex", "Kim"), payer="BLHBR",
          what="dependant, prior authorization, modifier GT", place_of_service="10",
          lines=[("90837", ["GT"])], minutes=56, diagnoses=("F90.0",)),
    Visit(client=("Jordan", "Lee"), payer="EVGRN", what="90837 with the 90785 add-on",
          place_of_service="10", lines=[("90837", ["95"]), ("90785", ["95"])], minutes=60,
          diagnoses=("F41.1", "F32.A")),
]  # fmt: skip
ADD_ON_RATE = ("90785", 1_600, 1_200)  # allowed, provider rate: interactive complexity


def _add_on_rate(demo: Demo, ops: str, payer: dict[str, Any]) -> None:
    """The 90785 fee schedule at Evergreen, unless an earlier run added it."""
    code, allowed, rate = ADD_ON_RATE
    start = date(_today().year, 1, 1).isoformat()
    if _pages(demo, f"/payers/{payer['id']}/fee-schedules", ops, cpt_code=code, as_of=start):
        return
    body = {"cpt_code": code, "allowed_cents": allowed, "provider_rate_cents": rate,
            "effective_from": start}  # fmt: skip
    demo.call("POST", f"/payers/{payer['id']}/fee-schedules", ops, 201, json=body)
    say("fee schedule", f"{payer['name']} {code}: allowed ${allowed / 100:.2f}")


def complete_sessions(demo: Demo, ops: str) -> None:
    """The demo world's therapist books sessions with her clients and completes each."""
    email, password = PROVIDER
    token = demo.call(
        "POST", "/auth/login", None, 200, json={"email": email, "password": password}
    )["access_token"]
    provider_id = demo.call("GET", "/auth/me", token, 200)["provider_id"]
    payers = {p["x12_payer_id"]: p for p in _pages(demo, "/payers", ops)}
    _add_on_rate(demo, ops, payers["EVGRN"])
    clients = {(c["first_name"], c["last_name"]): c for c in _pages(demo, "/clients", token)}
    year = _today().year
    authorization = demo.call("POST", "/prior-authorizations", ops, 201, json={
        "client_id": clients[("Alex", "Kim")]["id"], "payer_id": payers["BLHBR"]["id"],
        "number": f"PA{demo.run}".upper(), "cpt_codes": ["90837"], "visits_authorized": 12,
        "valid_from": f"{year}-01-01", "valid_to": f"{year}-12-31",
    })  # fmt: skip
    say("prior authorization", f"{authorization['number']}: 12 visits of 90837 for Alex Kim")
    # Sessions that took place this past hour, recorded and completed at once: completion
    # refuses a start still to come, and a booking one already past, so booking a few seconds
    # ahead and waiting depends on the demo's clock agreeing with the API's to the second, which
    # a run shifted to another day (HEARTH_CLOCK_SHIFT_TO, taken at each process's start) does
    # not promise. The tests complete booked sessions; the demo shows the provider's workflow.
    for n, visit in enumerate(VISITS):
        client = clients[visit.client]
        policy = next(
            p for p in _pages(demo, f"/clients/{client['id']}/policies", token)
            if p["payer_id"] == payers[visit.payer]["id"]
        )  # fmt: skip
        # No `refresh`: a second run reuses the answer on file; completion prices from it.
        check = demo.http.post(
            "/benefit-checks",
            headers={"Authorization": f"Bearer {token}"},
            json={"policy_id": policy["id"], "provider_id": provider_id},
        )
        if check.status_code not in (200, 201) or check.json()["status"] != "active":
            raise DemoFailed(f"benefit check answered {check.status_code}: {check.text[:300]}")
        started = (clock.now() - timedelta(minutes=visit.minutes + 5)).replace(microsecond=0)
        _complete(demo, token, visit, n, {
            "client_id": client["id"], "policy_id": policy["id"],
            "started_at": started.isoformat(),
        })  # fmt: skip


def _complete(demo: Demo, token: str, visit: Visit, n: int, who: dict[str, Any]) -> None:
    body = {
        **who,
        "lines": [
            {"cpt_code": code, "modifiers": modifiers,
             "diagnosis_pointers": list(range(1, len(visit.diagnoses) + 1))}
            for code, modifiers in visit.lines
        ],
        "diagnosis_codes": list(visit.diagnoses),
        "place_of_service": visit.place_of_service,
        "duration_minutes": visit.minutes,
        "note_attested": True,
    }  # fmt: skip
    out = demo.call(
        "POST", "/therapy-sessions/recorded", token, 201, json=body,
        headers={"Idempotency-Key": f"demo-{demo.run}-record-{n}"},
    )  # fmt: skip
    if out["session"]["status"] != "confirmed" or out["claim_id"] is None:
        raise DemoFailed(f"recording visit {n} gave no confirmed session and claim")
    demo.completed.append(out["session"]["id"])
    codes = " + ".join(
        line["cpt_code"] + "".join(f"-{m}" for m in line["modifiers"]) for line in out["lines"]
    )
    authorized = ", prior authorization used" if out["session"]["prior_authorization_id"] else ""
    say(
        f"completed: {' '.join(visit.client)}",
        f"{codes}, POS {visit.place_of_service} ({visit.what}), {visit.minutes} min,"
        f" ICD-10 {', '.join(visit.diagnoses)}; claim ready{authorized}",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.demo")
    parser.add_argument(
        "--base-url", default=os.environ.get("HEARTH_API_URL", "http://127.0.0.1:8000")
    )
    default_out = Path(os.environ.get("HEARTH_DEMO_DIR", REPO / ".data" / "demo"))
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument(
        "--mail-url",
        default=os.environ.get("HEARTH_MAIL_SINK_URL", "http://127.0.0.1:8025"),
        help="the SMTP sink's HTTP side, where the demo reads the verification email",
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
        demo = Demo(http=http, run=run, mail_url=args.mail_url)
        try:
            setup = ops_setup(demo)
            provider = onboard_provider(demo, setup["ops"], setup["payer"])
            client_journey(demo, setup["payer"], provider)
            edi = args.out / "edi"
            edi.mkdir(parents=True, exist_ok=True)
            for old in edi.glob("*.x12"):
                old.unlink()
            benefits_and_estimate(demo, setup["ops"], edi)
            complete_sessions(demo, setup["ops"])
        except DemoFailed as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            return 1
    summary = {
        "run_id": run,
        "base_url": args.base_url,
        "finished_at": clock.now().isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 2),
        **demo.counts,
        **demo.shown,
        "sessions_completed": {"count": len(demo.completed), "ids": demo.completed},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    counts = {**demo.counts, "sessions_completed": len(demo.completed)}
    print(f"done in {summary['seconds']} s: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"summary: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
