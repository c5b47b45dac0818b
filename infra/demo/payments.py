"""Client payments (issue 17 item 8): cards saved before the sessions, the estimate charged at
completion, and the true-ups after the 835s charged or refunded.

Before the sessions, each client the demo's visits bill signs in and asks for a card setup
(`POST /clients/{id}/payment-setup`: a SetupIntent's client secret and the consent text); the
demo then does what Stripe.js does in the client's browser, confirming that SetupIntent at the
Stripe simulator with the client secret, a publishable key and the card's number, and waits
until Stripe's setup_intent.succeeded webhook has had the worker save the card (`GET
/clients/{id}/payment-methods` lists it as the default). Every client gets 4242 4242 4242 4242
but Avery Patel, whose card (4000 0000 0000 0341) attaches and then declines when charged.

After the completions the worker's charge_client job charges each estimate off-session; the
demo reads each charge as the client does (`GET /clients/{id}/charges`, matched on its session
and kind) and its PaymentIntent from `GET /client-charges/{id}/payment`. Avery's is declined,
and the charge stays a balance due (recovery.py has her pay it with another card). The one read
of the Stripe simulator left is Stripe's fee on each captured charge (its balance transaction,
read with the API key the stack uses): Hearth never shows a client what Stripe kept.

After the 835s, this run's true-ups (`GET /true-ups`, ops) are followed until the settle job
has charged or refunded each ready one: a charge is the client's `true_up` charge for the
session, a refund the client's refund to their card for the session (`GET /clients/{id}/refunds`)
of the completion charge.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from infra.demo.base import Demo, DemoFailed, pages, say
from infra.demo.sessions import VISITS

PASSWORD = "hearth-demo-password"  # the demo world's clients'
# The key the stack's API and worker use (the development default unless set) and one a
# frontend would publish (the simulator takes any pk_ key where Stripe.js may use one).
API_KEY = os.environ.get("HEARTH_STRIPE_API_KEY", "sk_test_hearth_development_only")
PUBLISHABLE_KEY = "pk_test_hearth_demo"
VISA = "4242424242424242"
DECLINES_WHEN_CHARGED = "4000000000000341"
CARDS = {("Avery", "Patel"): DECLINES_WHEN_CHARGED}  # everyone else: VISA
# Webhooks, the outbox relay (every 5 s) and the jobs: a card or a charge takes a few hand-offs.
TIMEOUT_S = float(os.environ.get("HEARTH_DEMO_PAYMENTS_TIMEOUT_S", "120"))
POLL_S = 1.0
SETTLED_CHARGE = ("succeeded", "failed", "balance_due")  # Stripe answered, or never will


def usd(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


class Stripe:
    """The Stripe simulator: as Stripe.js (publishable key) and as Hearth reads it (API key)."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.base = demo.stripe_url.rstrip("/")

    def _answer(self, response: httpx.Response | None, what: str, error: str = "") -> Any:
        if response is None or response.status_code != 200:
            answered = f"{response.status_code}: {response.text[:300]}" if response else error
            raise DemoFailed(
                f"the Stripe simulator at {self.base} answered {what} with {answered}; `make run`"
                " starts it on port 8420 (HEARTH_STRIPE_SIM_PORT): pass its URL with --stripe-url"
            )
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        try:
            response = self.demo.http.get(
                self.base + path, params=params, headers={"Authorization": f"Bearer {API_KEY}"}
            )
        except httpx.HTTPError as exc:
            return self._answer(None, f"GET {path}", f"nothing ({exc})")
        return self._answer(response, f"GET {path}")

    def confirm(self, intents: str, client_secret: str, number: str) -> dict[str, Any]:
        """What Stripe.js's confirmCardSetup (intents "setup_intents") or confirmCardPayment
        ("payment_intents") sends: the card typed in, on the intent its client secret names."""
        intent = client_secret.split("_secret_")[0]
        form = {
            "key": PUBLISHABLE_KEY, "client_secret": client_secret,
            "payment_method_data[type]": "card", "payment_method_data[card][number]": number,
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": "2034",
            "payment_method_data[card][cvc]": "123",
        }  # fmt: skip
        path = f"/v1/{intents}/{intent}/confirm"
        try:
            response = self.demo.http.post(self.base + path, data=form)
        except httpx.HTTPError as exc:
            return dict(self._answer(None, f"POST {path}", f"nothing ({exc})"))
        return dict(self._answer(response, f"POST {path}"))


def wait_for(what: str, check: Any) -> Any:
    """check() until it returns something; DemoFailed naming `what` after TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    while (found := check()) is None:
        if time.monotonic() > deadline:
            raise DemoFailed(
                f"{what} not seen {TIMEOUT_S:.0f} s on: is the worker running (make run starts"
                " it) and the Stripe simulator delivering its webhooks to the API?"
            )
        time.sleep(POLL_S)
    return found


def save_cards(demo: Demo, names: list[tuple[str, str]] | None = None) -> None:
    """Each client the visits bill (or each of `names`) saves a card, as a frontend does with
    Stripe.js."""
    stripe = Stripe(demo)
    names = names or list(dict.fromkeys(visit.client for visit in VISITS))
    saving = [" ".join(name) for name in names]
    for name in names:
        email = f"{name[0]}.{name[1]}@hearth.test".lower()
        token = demo.call(
            "POST", "/auth/login", None, 200, json={"email": email, "password": PASSWORD}
        )["access_token"]
        client_id = demo.call("GET", "/auth/me", token, 200)["client_id"]
        setup = demo.call("POST", f"/clients/{client_id}/payment-setup", token, 201)
        number = CARDS.get(name, VISA)
        confirmed = stripe.confirm("setup_intents", setup["client_secret"], number)
        if confirmed["status"] != "succeeded" or not confirmed.get("payment_method"):
            raise DemoFailed(f"the card's SetupIntent for {' '.join(name)}: {confirmed}")
        demo.cards[" ".join(name)] = {
            "client_id": client_id, "token": token, "email": email,
            "customer": confirmed["customer"],
            "payment_method": confirmed["payment_method"], "last4": number[-4:],
            "consent_version": setup["consent_version"],
        }  # fmt: skip
    for who in saving:
        card = demo.cards[who]
        path = f"/clients/{card['client_id']}/payment-methods"

        def saved(path: str = path, card: dict[str, Any] = card) -> dict[str, Any] | None:
            items = demo.call("GET", path, card["token"], 200)["items"]
            return next((m for m in items if m["id"] == card["payment_method"]
                         and m["is_default"]), None)  # fmt: skip

        method = wait_for(f"{who}'s card in GET {path}", saved)
        demo.count("cards_saved")
        say(
            f"card saved: {who}",
            f"{method['brand']} ..{method['last4']} exp {method['exp_month']:02d}/"
            f"{method['exp_year']}, the default (consent {card['consent_version']} shown)",
        )


def charge_of(demo: Demo, who: str, kind: str, session: str,
               reason: str | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The client's charge of `kind` for the session (a true-up's: for `reason`), as the client
    reads it (`GET /clients/{id}/charges`), once it went through or did not."""
    card = demo.cards[who]
    found = [c for c in pages(demo, f"/clients/{card['client_id']}/charges", card["token"])
             if (c["kind"], c["session_id"]) == (kind, session)
             and reason in (None, c["true_up_reason"])]  # fmt: skip
    return next((c for c in found if c["status"] in SETTLED_CHARGE), None)


def payment_of(demo: Demo, who: str, charge_id: str) -> dict[str, Any]:
    """Where the charge's payment stands (`GET /client-charges/{id}/payment`): its intent."""
    path = f"/client-charges/{charge_id}/payment"
    return dict(demo.call("GET", path, demo.cards[who]["token"], 200))


def _fee(stripe: Stripe, intent: str) -> int:
    """Stripe's fee on the intent's charge: the simulator's balance transaction (Hearth shows a
    client what they paid, never what Stripe kept of it)."""
    read = stripe.get(f"/v1/payment_intents/{intent}",
                      **{"expand[]": "latest_charge.balance_transaction"})  # fmt: skip
    return int(read["latest_charge"]["balance_transaction"]["fee"])


def show_completion_charges(demo: Demo) -> None:
    """Each priced session's estimate, charged at completion (or declined: a balance due), as
    the client reads their charges."""
    stripe = Stripe(demo)
    charged: list[dict[str, Any]] = []
    declined: list[dict[str, Any]] = []
    settled: list[dict[str, Any]] = []
    for session_id, who in demo.priced.items():
        card = demo.cards[who]
        charge = wait_for(
            f"{who}'s completion charge (session {session_id}) in GET /clients/{{id}}/charges",
            lambda w=who, s=session_id: charge_of(demo, w, "completion", s),
        )
        payment = payment_of(demo, who, charge["id"])
        item = {"client": who, "session_id": session_id, "session_date": charge["session_date"],
                "intent": payment["payment_intent_id"], "cents": charge["amount_cents"],
                "charge_id": charge["id"]}  # fmt: skip
        if charge["status"] == "succeeded" and item["intent"] is None:
            # The client's credit settled it first (DESIGN.md "Balance due"): an earlier run's
            # voided claim left Alex his estimate as a credit; no card was charged.
            settled.append(item)
            say(
                f"settled by credit: {who}",
                f"{usd(charge['amount_cents'])} from the client's credit, no card charged",
            )
        elif charge["status"] == "succeeded":
            charged.append(item)
            fee = usd(_fee(stripe, item["intent"]))
            say(
                f"charged at completion: {who}",
                f"{usd(charge['amount_cents'])} to {charge['card_brand']} ..{charge['card_last4']}"
                f" off-session ({item['intent']}, Stripe's fee {fee})",
            )
        else:
            declined.append(item)
            say(
                f"declined at completion: {who}",
                f"{usd(charge['amount_cents'])} on ..{card['last4']} ({charge['failure']};"
                f" {payment['decline_code']}): a balance due, Hearth charge {charge['id']}",
            )
    demo.payments["copays_charged"] = total(charged)
    demo.payments["settled_by_credit"] = total(settled)
    demo.payments["balances_due"] = total(declined)


def total(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(items), "cents": sum(i["cents"] for i in items), "items": items}


def _true_ups(demo: Demo, ops: str) -> list[dict[str, Any]] | None:
    """This run's true-ups once none is ready any more (each settled or waiting on ops)."""
    rows = [t for t in pages(demo, "/true-ups", ops) if t["claim_id"] in demo.claims]
    return None if any(t["status"] == "ready" for t in rows) else rows


def _refund_of(demo: Demo, who: str, session: str, reason: str) -> dict[str, Any] | None:
    """The client's refund to their card for the session's true-up, as the client reads it
    (`GET /clients/{id}/refunds`), once Stripe made it."""
    card = demo.cards[who]
    return next(
        (r for r in pages(demo, f"/clients/{card['client_id']}/refunds", card["token"])
         if r["session_id"] == session and r["reason"] == reason and r["to_card"]
         and r["status"] == "succeeded"),
        None,
    )  # fmt: skip


def show_true_ups(demo: Demo, ops: str) -> None:
    """This run's true-ups once settled: each charge and refund as the client reads it."""
    rows = wait_for("the settlement of this run's ready true-ups", lambda: _true_ups(demo, ops))
    completion = {i["session_id"]: i for i in demo.payments["copays_charged"]["items"]}
    charges: list[dict[str, Any]] = []
    refunds: list[dict[str, Any]] = []
    for row in rows:
        who = demo.claims[row["claim_id"]]
        session = demo.sessions[row["claim_id"]]
        item = {"client": who, "true_up_id": row["id"], "claim_id": row["claim_id"]}
        if row["status"] == "charged":
            charge = charge_of(demo, who, "true_up", session, row["reason"])
            if charge is None or charge["status"] != "succeeded":
                raise DemoFailed(f"{who}'s true-up {row['id']} is charged but the client's"
                                 f" charges show {charge}")  # fmt: skip
            intent = payment_of(demo, who, charge["id"])["payment_intent_id"]
            charges.append(item | {"charge_id": charge["id"], "intent": intent,
                                   "cents": charge["amount_cents"]})  # fmt: skip
            done = (f"charged {usd(charge['amount_cents'])} to ..{charge['card_last4']}"
                    f" ({intent})")  # fmt: skip
        elif row["status"] == "refunded":
            refund = _refund_of(demo, who, session, row["reason"])
            paid = completion.get(session)
            if refund is None or paid is None or refund["charge_id"] != paid["charge_id"]:
                raise DemoFailed(f"{who}'s true-up {row['id']} is refunded but the client's"
                                 f" refunds show {refund}")  # fmt: skip
            refunds.append(item | {"refund_id": refund["id"], "charge_id": refund["charge_id"],
                                   "intent": paid["intent"],
                                   "cents": refund["amount_cents"]})  # fmt: skip
            done = (f"refunded {usd(refund['amount_cents'])} to the completion charge, card"
                    f" ..{refund['card_last4']}")  # fmt: skip
        else:
            done = row["status"].replace("_", " ")
        say(f"true-up ({row['kind']}): {who}", f"{done}: {row['reason']}")
    demo.payments["true_up_charges"] = total(charges)
    demo.payments["refunds"] = total(refunds)
