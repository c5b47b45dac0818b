"""A demo-world client's benefits (270/271) and estimate; ops check a carve-out."""

from __future__ import annotations

from pathlib import Path

from infra.demo.base import Demo, DemoFailed, pages, say

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


CARVE_OUT_CLIENT = ("Sydney", "Park")  # a demo-world member whose plan carves out MH


def carve_out(demo: Demo, ops: str) -> None:
    """Ops check a member whose plan hands mental health to another payer."""
    found = next(
        (c for c in pages(demo, "/clients", ops)
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
