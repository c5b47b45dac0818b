"""The demo world's therapist records and completes sessions, each a claim `ready`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from infra import shifted_clock as clock
from infra.demo.base import Demo, DemoFailed, pages, say, today

PROVIDER = ("maya.okafor@hearth.test", "hearth-demo-password")  # the demo world's therapist


@dataclass(frozen=True)
class Visit:
    """A session the provider books and then completes, as she would confirm it."""

    key: str  # how the later steps find its claim (corrections.py)
    client: tuple[str, str]  # first and last name, a demo-world client she sees
    payer: str  # the client's payer's X12 id
    what: str  # how the demo describes it
    place_of_service: str
    lines: list[tuple[str, list[str]]]  # CPT code, modifiers
    minutes: int
    diagnoses: tuple[str, ...] = ("F41.1",)
    # Ops record it for her, with no benefit check: a new client, the card typed in by ops.
    by_ops: bool = False
    card: str | None = None  # the member id ops type in from the card, as they read it
    ops_check: bool = False  # ops record it, after checking benefits themselves


VISITS = [
    Visit(key="office", client=("Jordan", "Lee"), payer="EVGRN", what="in office",
          place_of_service="11", lines=[("90834", [])], minutes=45),
    Visit(key="telehealth", client=("Avery", "Patel"), payer="EVGRN",
          what="telehealth, Evergreen's modifier 95", place_of_service="10",
          lines=[("90837", ["95"])], minutes=55),
    # Blue Harbor wants a prior authorization for 90837; Alex is his mother's dependant.
    Visit(key="authorized", client=("Alex", "Kim"), payer="BLHBR",
          what="dependant, prior authorization, modifier GT", place_of_service="10",
          lines=[("90837", ["GT"])], minutes=56, diagnoses=("F90.0",)),
    Visit(key="add_on", client=("Jordan", "Lee"), payer="EVGRN",
          what="90837 with the 90785 add-on", place_of_service="10",
          lines=[("90837", ["95"]), ("90785", ["95"])], minutes=60,
          diagnoses=("F41.1", "F32.A")),
    # Ops type the card in losing a zero (Evergreen knows EVG100040) and nobody checks benefits
    # (an unchecked policy is billed, the client charged nothing yet): Evergreen's 277CA rejects
    # the claim, member not found, until ops correct the card and resend it (corrections.py).
    Visit(key="mistyped_card", client=("Blake", "Ellison"), payer="EVGRN",
          what="intake recorded by ops, card never checked", place_of_service="10",
          lines=[("90791", ["95"])], minutes=60, by_ops=True, card="EVG10040"),
    # Ops record Morgan Diaz's intake from the Blue Harbor card on file, checking no benefits:
    # his coverage ended on 2025-12-31, so Blue Harbor accepts the claim and then denies it,
    # CO-27 (expenses incurred after coverage terminated): the 835's denial (remittance.py).
    Visit(key="coverage_ended", client=("Morgan", "Diaz"), payer="BLHBR",
          what="intake recorded by ops, coverage never re-checked", place_of_service="10",
          lines=[("90791", ["GT"])], minutes=60, by_ops=True),
    # Ops record Casey Morgan's first session with Maya after checking her benefits: her
    # deductible is met, 20% coinsurance, charged at completion on Hearth's allowed amount for
    # 90837 ($145.00); Evergreen allows $140.00, so its 835 makes her owe less: a refund.
    Visit(key="owed_less", client=("Casey", "Morgan"), payer="EVGRN",
          what="recorded by ops after a benefit check, coinsurance", place_of_service="10",
          lines=[("90837", ["95"])], minutes=55, by_ops=True, ops_check=True),
]  # fmt: skip
# A run's sessions took place on one day, one an hour from 08:00 UTC (earlier today, when the
# last must be over by now). The payers deny a second claim for a service they already paid
# for that client on that day (CO-18, a duplicate), so each run takes the latest day on which
# Maya has no session confirmed yet, within the last LOOKBACK_DAYS (inside every demo payer's
# filing limit) and this year: a stack takes about that many runs.
FIRST_HOUR = 8
LOOKBACK_DAYS = 60
# Each visit, then Jamie Rivera's self-pay session (superbills.py), one an hour.
SESSIONS_A_DAY = len(VISITS) + 1
ADD_ON_RATE = ("90785", 1_600, 1_200)  # allowed, provider rate: interactive complexity


def _add_on_rate(demo: Demo, ops: str, payer: dict[str, Any]) -> None:
    """The 90785 fee schedule at Evergreen, unless an earlier run added it."""
    code, allowed, rate = ADD_ON_RATE
    start = date(today().year, 1, 1).isoformat()
    if pages(demo, f"/payers/{payer['id']}/fee-schedules", ops, cpt_code=code, as_of=start):
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
    payers = {p["x12_payer_id"]: p for p in pages(demo, "/payers", ops)}
    _add_on_rate(demo, ops, payers["EVGRN"])
    # She sees the clients she has sessions with; ops look up the others (a new client).
    clients = {(c["first_name"], c["last_name"]): c for c in pages(demo, "/clients", token)}
    _authorization(demo, ops, clients[("Alex", "Kim")]["id"], payers["BLHBR"]["id"])
    # Sessions that took place (on the run's day), recorded and completed at once: completion
    # refuses a start still to come, and a booking one already past, so booking a few seconds
    # ahead and waiting depends on the demo's clock agreeing with the API's to the second, which
    # a run shifted to another day (HEARTH_CLOCK_SHIFT_TO, taken at each process's start) does
    # not promise. The tests complete booked sessions; the demo shows the provider's workflow.
    first = demo.service_day = _service_day(demo, token, provider_id)
    say("sessions of", f"{first.date()} (a day on which Maya has no other sessions recorded)")
    for n, visit in enumerate(VISITS):
        caller = ops if visit.by_ops else token
        client = (
            clients.get(visit.client) if not visit.by_ops else find_client(demo, ops, visit.client)
        )
        if client is None:
            raise DemoFailed(
                f"the demo world has no client {' '.join(visit.client)}: the database was loaded"
                " by an older version (start afresh: drop it, or `rm -rf .data` when embedded)"
            )
        policy = next(
            p for p in pages(demo, f"/clients/{client['id']}/policies", caller)
            if p["payer_id"] == payers[visit.payer]["id"]
        )  # fmt: skip
        if visit.card is not None:
            _type_card(demo, ops, policy, visit.card)
        checked = not visit.by_ops or visit.ops_check
        if checked:
            _check_benefits(demo, caller, policy["id"], provider_id)
        started = first + timedelta(hours=n)
        who = {"client_id": client["id"], "policy_id": policy["id"],
               "started_at": started.isoformat()}  # fmt: skip
        session_id = _complete(
            demo, caller, visit, n, who | ({"provider_id": provider_id} if visit.by_ops else {})
        )
        if checked:  # priced from the check: its estimate is charged at completion
            demo.priced[session_id] = " ".join(visit.client)


def _service_day(demo: Demo, token: str, provider_id: str) -> datetime:
    """When the run's first session started: on the latest day on which she has no session
    confirmed, at FIRST_HOUR UTC, or today early enough for the last to be over by now."""
    now = clock.now()
    today = now.date()
    first = max(date(today.year, 1, 1), today - timedelta(days=LOOKBACK_DAYS))
    since = datetime.combine(first, time(), UTC).isoformat()
    confirmed = pages(demo, "/therapy-sessions", token, provider_id=provider_id,
                      status="confirmed", **{"from": since})  # fmt: skip
    taken = {(s["started_at"] or s["starts_at"])[:10] for s in confirmed}
    hour = min(FIRST_HOUR, now.hour - SESSIONS_A_DAY)  # one an hour, the last over by now
    day = today if hour >= 0 else today - timedelta(days=1)
    while day.isoformat() in taken:
        day -= timedelta(days=1)
    if day < first:
        raise DemoFailed(
            f"Maya has sessions recorded on every day from {first} to {today} (or it is too"
            " early on January 1st): the payers would deny this run's claims as duplicates"
            " (CO-18); run it later, or start afresh (a new database)"
        )
    return datetime.combine(day, time(hour if day == today else FIRST_HOUR), UTC)


def _authorization(demo: Demo, ops: str, client_id: str, payer_id: str) -> None:
    """Alex Kim's prior authorization for 90837: the one an earlier run recorded while it has
    visits left this year (completion would use it first: it ends first), else a new one."""
    on_file = [
        a for a in pages(demo, "/prior-authorizations", ops, client_id=client_id, payer_id=payer_id)
        if "90837" in a["cpt_codes"] and a["visits_used"] < a["visits_authorized"]
        and a["valid_from"] <= today().isoformat() <= a["valid_to"]
    ]  # fmt: skip
    if on_file:
        found = min(on_file, key=lambda a: (a["valid_to"], a["created_at"], a["id"]))
        say(
            "prior authorization on file",
            f"{found['number']}: {found['visits_used']} of {found['visits_authorized']} visits"
            " of 90837 used for Alex Kim",
        )
        return
    year = today().year
    authorization = demo.call("POST", "/prior-authorizations", ops, 201, json={
        "client_id": client_id, "payer_id": payer_id, "number": f"PA{demo.run}".upper(),
        "cpt_codes": ["90837"], "visits_authorized": 12,
        "valid_from": f"{year}-01-01", "valid_to": f"{year}-12-31",
    })  # fmt: skip
    say("prior authorization", f"{authorization['number']}: 12 visits of 90837 for Alex Kim")


def find_client(demo: Demo, ops: str, name: tuple[str, str]) -> dict[str, Any] | None:
    every = pages(demo, "/clients", ops)
    return next((c for c in every if (c["first_name"], c["last_name"]) == name), None)


def _type_card(demo: Demo, ops: str, policy: dict[str, Any], card: str) -> None:
    """Ops type the member id in from the intake's card (an earlier run corrected it)."""
    if policy["member_id"] != card:
        path = f"/clients/{policy['client_id']}/policies/{policy['id']}"
        demo.call("PATCH", path, ops, 200, json={"member_id": card})
    say("ops typed in the card", f"member id {card}, no benefit check")


def _check_benefits(demo: Demo, token: str, policy_id: str, provider_id: str) -> None:
    # No `refresh`: a second run reuses the answer on file; completion prices from it.
    check = demo.http.post(
        "/benefit-checks",
        headers={"Authorization": f"Bearer {token}"},
        json={"policy_id": policy_id, "provider_id": provider_id},
    )
    if check.status_code not in (200, 201) or check.json()["status"] != "active":
        raise DemoFailed(f"benefit check answered {check.status_code}: {check.text[:300]}")


def _complete(demo: Demo, token: str, visit: Visit, n: int, who: dict[str, Any]) -> str:
    """The visit recorded and completed; its session's id."""
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
    demo.claims[out["claim_id"]] = " ".join(visit.client)
    demo.visits[out["claim_id"]] = visit.key
    demo.sessions[out["claim_id"]] = out["session"]["id"]
    codes = " + ".join(
        line["cpt_code"] + "".join(f"-{m}" for m in line["modifiers"]) for line in out["lines"]
    )
    authorized = ", prior authorization used" if out["session"]["prior_authorization_id"] else ""
    say(
        f"{'ops recorded' if visit.by_ops else 'completed'}: {' '.join(visit.client)}",
        f"{codes}, POS {visit.place_of_service} ({visit.what}), {visit.minutes} min,"
        f" ICD-10 {', '.join(visit.diagnoses)}; claim ready{authorized}",
    )
    session_id: str = out["session"]["id"]
    return session_id
