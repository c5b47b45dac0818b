"""Ops set up a payer and onboard a provider; a new client signs up and books a session."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from infra import shifted_clock as clock
from infra.demo.base import (
    OPS_EMAIL,
    OPS_PASSWORD,
    PASSWORD,
    Demo,
    DemoFailed,
    npi_with_check_digit,
    say,
    today,
)


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
    start = date(today().year, 1, 1).isoformat()
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
                    "expires_on": f"{today().year + 2}-06-30",
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
    year = today().year
    for step in ("submitted", "in_review", "approved"):
        body: dict[str, Any] = {"to_status": step, "reason": f"demo: {step}"}
        if step == "approved":
            body |= {
                "effective_on": date(year, 1, 1).isoformat(),
                "ends_on": date(year + 2, 12, 31).isoformat(),
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
            "effective_from": date(today().year, 1, 1).isoformat(),
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
