"""Client payments (issue 17 item 8): cards saved before the sessions, the estimate charged at
completion, and the true-ups after the 835s charged or refunded.

Before the sessions, each client the demo's visits bill signs in and asks for a card setup
(`POST /clients/{id}/payment-setup`: a SetupIntent's client secret and the consent text); the
demo then does what Stripe.js does in the client's browser, confirming that SetupIntent at the
Stripe simulator with the client secret, a publishable key and the card's number, and waits
until Stripe's setup_intent.succeeded webhook has had the worker save the card (`GET
/clients/{id}/payment-methods` lists it as the default). Every client gets 4242 4242 4242 4242
but Avery Patel, whose card (4000 0000 0000 0341) attaches and then declines when charged.

After the completions the worker's charge_client job charges each estimate off-session. The API
has no client charges list yet, so the demo reads the charges where they are kept at Stripe:
each client's PaymentIntents (`GET /v1/payment_intents?customer=`, with the API key the stack
uses), matched on the metadata Hearth puts on them (its charge's id, kind and source). Avery's
is declined, and the charge stays a balance due: the demo keeps its Hearth charge id (the
intent's metadata) for the client to pay it with another card.

After the 835s, this run's true-ups (`GET /true-ups`, ops) are followed until the settle job
has charged or refunded each ready one: a charge is the client's `true_up` PaymentIntent, a
refund is the Stripe refund of the session's completion charge that names the true-up.
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
SETTLED = ("charged", "refunded", "balance_due", "credit", "closed")


def usd(cents: int) -> str:
    return f"${cents / 100:,.2f}"


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

    def confirm_setup(self, client_secret: str, number: str) -> dict[str, Any]:
        """What Stripe.js's confirmCardSetup sends: the card on the SetupIntent, confirmed."""
        intent = client_secret.split("_secret_")[0]
        form = {
            "key": PUBLISHABLE_KEY, "client_secret": client_secret,
            "payment_method_data[type]": "card", "payment_method_data[card][number]": number,
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": "2034",
            "payment_method_data[card][cvc]": "123",
        }  # fmt: skip
        path = f"/v1/setup_intents/{intent}/confirm"
        try:
            response = self.demo.http.post(self.base + path, data=form)
        except httpx.HTTPError as exc:
            return dict(self._answer(None, f"POST {path}", f"nothing ({exc})"))
        return dict(self._answer(response, f"POST {path}"))

    def intents(self, customer: str) -> list[dict[str, Any]]:
        """The customer's PaymentIntents, newest first (a demo customer has a few a run)."""
        listed: list[dict[str, Any]] = self.get(
            "/v1/payment_intents", customer=customer, limit=100
        )["data"]
        return listed


def _wait(what: str, check: Any) -> Any:
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


def save_cards(demo: Demo) -> None:
    """Each client the visits bill saves a card, as a frontend does with Stripe.js."""
    stripe = Stripe(demo)
    for name in dict.fromkeys(visit.client for visit in VISITS):
        email = f"{name[0]}.{name[1]}@hearth.test".lower()
        token = demo.call(
            "POST", "/auth/login", None, 200, json={"email": email, "password": PASSWORD}
        )["access_token"]
        client_id = demo.call("GET", "/auth/me", token, 200)["client_id"]
        setup = demo.call("POST", f"/clients/{client_id}/payment-setup", token, 201)
        number = CARDS.get(name, VISA)
        confirmed = stripe.confirm_setup(setup["client_secret"], number)
        if confirmed["status"] != "succeeded" or not confirmed.get("payment_method"):
            raise DemoFailed(f"the card's SetupIntent for {' '.join(name)}: {confirmed}")
        demo.cards[" ".join(name)] = {
            "client_id": client_id, "token": token, "customer": confirmed["customer"],
            "payment_method": confirmed["payment_method"], "last4": number[-4:],
            "consent_version": setup["consent_version"],
        }  # fmt: skip
    for who, card in demo.cards.items():
        path = f"/clients/{card['client_id']}/payment-methods"

        def saved(path: str = path, card: dict[str, Any] = card) -> dict[str, Any] | None:
            items = demo.call("GET", path, card["token"], 200)["items"]
            return next((m for m in items if m["id"] == card["payment_method"]
                         and m["is_default"]), None)  # fmt: skip

        method = _wait(f"{who}'s card in GET {path}", saved)
        demo.count("cards_saved")
        say(
            f"card saved: {who}",
            f"{method['brand']} ..{method['last4']} exp {method['exp_month']:02d}/"
            f"{method['exp_year']}, the default (consent {card['consent_version']} shown)",
        )


def _intent_of(stripe: Stripe, customer: str, kind: str, source: str) -> dict[str, Any] | None:
    """The customer's intent Hearth made for (kind, source), once Stripe decided it."""
    for intent in stripe.intents(customer):
        meta = intent.get("metadata") or {}
        if (meta.get("hearth_kind"), meta.get("hearth_source_id")) == (kind, source) and intent[
            "status"
        ] in ("succeeded", "requires_payment_method"):
            return intent
    return None


def _fee(stripe: Stripe, intent: dict[str, Any]) -> int:
    charge = stripe.get(f"/v1/charges/{intent['latest_charge']}",
                        **{"expand[]": "balance_transaction"})  # fmt: skip
    return int(charge["balance_transaction"]["fee"])


def show_completion_charges(demo: Demo) -> None:
    """Each priced session's estimate, charged at completion (or declined: a balance due)."""
    stripe = Stripe(demo)
    charged: list[dict[str, Any]] = []
    declined: list[dict[str, Any]] = []
    for session_id, who in demo.priced.items():
        card = demo.cards[who]
        intent = _wait(
            f"{who}'s completion charge (session {session_id}) at Stripe",
            lambda c=card, s=session_id: _intent_of(stripe, c["customer"], "completion", s),
        )
        item = {"client": who, "session_id": session_id, "intent": intent["id"],
                "cents": intent["amount"],
                "charge_id": intent["metadata"]["hearth_charge_id"]}  # fmt: skip
        if intent["status"] == "succeeded":
            charged.append(item)
            say(
                f"charged at completion: {who}",
                f"{usd(intent['amount'])} to ..{card['last4']} off-session ({intent['id']},"
                f" Stripe's fee {usd(_fee(stripe, intent))})",
            )
        else:
            error = intent.get("last_payment_error") or {}
            declined.append(item)
            say(
                f"declined at completion: {who}",
                f"{usd(intent['amount'])} on ..{card['last4']} ({error.get('code')}:"
                f" {error.get('decline_code')}): a balance due, Hearth charge"
                f" {item['charge_id']}",
            )
    demo.payments["copays_charged"] = _total(charged)
    demo.payments["balances_due"] = _total(declined)


def _total(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(items), "cents": sum(i["cents"] for i in items), "items": items}


def _true_ups(demo: Demo, ops: str) -> list[dict[str, Any]] | None:
    """This run's true-ups once none is ready any more (each settled or waiting on ops)."""
    rows = [t for t in pages(demo, "/true-ups", ops) if t["claim_id"] in demo.claims]
    return None if any(t["status"] == "ready" for t in rows) else rows


def _refund_of(stripe: Stripe, intent: str, true_up_id: str) -> dict[str, Any] | None:
    refunds = stripe.get("/v1/refunds", payment_intent=intent, limit=100)["data"]
    return next(
        (r for r in refunds if (r.get("metadata") or {}).get("hearth_true_up_id") == true_up_id
         and r["status"] == "succeeded"),
        None,
    )  # fmt: skip


def show_true_ups(demo: Demo, ops: str) -> None:
    """This run's true-ups once settled: each charge and refund as Stripe has it."""
    stripe = Stripe(demo)
    rows = _wait("the settlement of this run's ready true-ups", lambda: _true_ups(demo, ops))
    completion = {i["session_id"]: i["intent"] for i in demo.payments["copays_charged"]["items"]}
    charges: list[dict[str, Any]] = []
    refunds: list[dict[str, Any]] = []
    for row in rows:
        who = demo.claims[row["claim_id"]]
        item = {"client": who, "true_up_id": row["id"], "claim_id": row["claim_id"]}
        if row["status"] == "charged":
            intent = _intent_of(stripe, demo.cards[who]["customer"], "true_up", row["id"])
            if intent is None or intent["status"] != "succeeded":
                raise DemoFailed(f"{who}'s true-up {row['id']} is charged but Stripe has {intent}")
            charges.append(item | {"intent": intent["id"], "cents": intent["amount"]})
            done = (
                f"charged {usd(intent['amount'])} to ..{demo.cards[who]['last4']} ({intent['id']})"
            )
        elif row["status"] == "refunded":
            paid = completion.get(demo.sessions[row["claim_id"]])
            refund = _refund_of(stripe, paid, row["id"]) if paid else None
            if refund is None:
                raise DemoFailed(f"{who}'s true-up {row['id']} is refunded but Stripe has none")
            refunds.append(item | {"refund": refund["id"], "cents": refund["amount"]})
            done = f"refunded {usd(refund['amount'])} to the completion charge ({refund['id']})"
        else:
            done = row["status"].replace("_", " ")
        say(f"true-up ({row['kind']}): {who}", f"{done}: {row['reason']}")
    demo.payments["true_up_charges"] = _total(charges)
    demo.payments["refunds"] = _total(refunds)
