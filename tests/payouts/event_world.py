"""The payout property test's world and events: providers credentialed and priced at one payer
with Connect accounts, an insured client and a self-pay client with a card, and each event
driven through the real domain code (the completion route, the charge and transfer jobs, the
835 posting, the payout run, Stripe's transfer.reversed through the webhook)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import stripe

from schemas.payers import PayerOut
from services.claims.service import get_claim_of_session
from services.core import clock
from services.core.auth import Actor
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from services.providers.details import set_self_pay_rate
from services.remittance.service import post_file_on
from tests import factories as fac
from tests.payments import world as pw
from tests.payouts import run_world as r
from tests.remittance import fixtures as x835
from tests.remittance.true_ups import reversal_of
from tests.therapy_sessions.completion import (
    PRICES,
    Visit,
    approve,
    complete,
    price_everything,
)

H_BPR = "BPR*H*0*C*NON************20261204~\n"
_controls = itertools.count(1)  # ISA13 and CLP07 numbers, new in every file
_starts = itertools.count(1)  # bookings an hour apart, never overlapping


@dataclass
class World:
    """What every example starts from (built once per test, outside the examples' savepoint)."""

    ops: Actor
    payer: PayerOut
    providers: list[Actor]
    insured: tuple[Actor, uuid.UUID]  # the client and their policy at the payer
    self_pay: Actor  # a client with no policy and a card saved


@dataclass
class Claim:
    """An in-network session's claim as the example's events left it."""

    claim_id: uuid.UUID
    clm01: str
    line_control: str
    charge: int
    allowed: int
    service_date: str
    paid_clp: str | None = None  # the CLP that paid it (a reversal repeats it negated)
    state: str = "open"  # open | paid | done


@dataclass
class Parts:
    """A test's fixtures the events need."""

    db: asyncpg.Connection
    api: httpx.AsyncClient
    tx: Transactions
    gateway: StripeGateway
    sdk: stripe.StripeClient
    settings: Settings
    token: Any
    world: World
    claims: list[Claim] = field(default_factory=list)


async def build_world(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    sdk: stripe.StripeClient, settings: Settings, token: Any, providers: int = 3,
) -> World:  # fmt: skip
    ops = await fac.make_ops(db)
    payer = await fac.make_payer(db)
    today = clock.today()
    made = []
    for _ in range(providers):
        provider = await fac.make_provider(db, settings, ops)
        assert provider.provider_id is not None
        # Approved well past any date the examples reach (up to a few months on).
        await approve(db, ops, provider.provider_id, payer.id,
                      (today - timedelta(days=60), today + timedelta(days=400)))  # fmt: skip
        if not made:  # the payer's fee schedule once, with the first one's self-pay rates
            await price_everything(db, ops, provider.provider_id, payer.id)
        else:
            for code, (_, _, self_pay) in PRICES.items():
                await set_self_pay_rate(db, provider.provider_id, code, self_pay)
        account = await api.post(f"/providers/{provider.provider_id}/payout-account",
                                 headers=token(provider))  # fmt: skip
        assert account.status_code == 201, account.text
        made.append(provider)
    insured = await fac.make_client(db, settings)
    policy_id = await fac.make_policy(db, insured, payer.id)
    self_pay = await fac.make_client(db, settings)
    await pw.save_card(db, api, tx, gateway, sdk, self_pay, settings.stripe_webhook_secret)
    return World(ops, payer, made, (insured, policy_id), self_pay)


async def complete_session(p: Parts, provider: Actor, in_network: bool) -> None:
    """A booked session completed by its provider through the API; in network its claim is
    remembered as the payer's 277CA would leave it (accepted), ready for an 835."""
    w = p.world
    client, policy_id = w.insured if in_network else (w.self_pay, None)
    starts = fac.future(days=1) + timedelta(hours=next(_starts))
    session = await fac.make_session(p.db, w.ops, provider, client, policy_id, starts_at=starts)
    await complete(p.api, p.token, Visit(w.ops, provider, client, w.payer, policy_id or
                                         uuid.uuid4(), session))  # fmt: skip
    if not in_network:
        return
    claim = await get_claim_of_session(p.db, session.id)
    assert claim is not None
    (line,) = claim.lines
    # The 277CA's acceptance (claims' own tests cover it): what lets an 835 post the claim.
    await p.db.execute("UPDATE claims SET status = 'accepted' WHERE id = $1", claim.id)
    p.claims.append(
        Claim(
            claim.id,
            claim.clm01,
            line.line_control_number,
            line.charge_cents,
            line.allowed_cents,
            claim.service_date.strftime("%Y%m%d"),
        )
    )


def _d(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _clp(claim: Claim, status: str, paid: int, copay: int, loss: tuple[str, int] | None) -> str:
    """A CLP for the claim's one line: the contractual gap CO-45, a copay PR-3 and a loss
    (CARC, cents) adding up to the charge."""
    pcn = f"PCN{next(_controls):010d}"
    cas = []
    if claim.charge > claim.allowed:
        cas.append(f"CAS*CO*45*{_d(claim.charge - claim.allowed)}~")
    if loss is not None and loss[1] > 0:
        cas.append(f"CAS*CO*{loss[0]}*{_d(loss[1])}~")
    if copay:
        cas.append(f"CAS*PR*3*{_d(copay)}~")
    return "\n".join([
        f"CLP*{claim.clm01}*{status}*{_d(claim.charge)}*{_d(paid)}*{_d(copay)}*12*{pcn}*11*1~",
        "NM1*QC*1*LEE*JORDAN****MI*M00000001~",
        f"SVC*HC:90837*{_d(claim.charge)}*{_d(paid)}**1~",
        f"DTM*472*{claim.service_date}~",
        *cas,
        f"REF*6R*{claim.line_control}~",
    ]) + "\n"  # fmt: skip


async def _post(p: Parts, claims: str, paid: int) -> None:
    if paid > 0:
        bpr = x835.ACH.format(amount=_d(paid))
    elif paid < 0:
        bpr = x835.ACH.format(amount=_d(-paid)).replace("*C*ACH*", "*D*ACH*", 1)
    else:
        bpr = H_BPR
    body = x835.transaction(claims, bpr=bpr, trace=f"EFT{uuid.uuid4().hex[:12].upper()}")
    raw = x835.interchange([body], control=next(_controls)).encode()
    await post_file_on(p.db, raw, "upload", p.world.ops)


async def remit(p: Parts, pick: int, outcome: str, copay: int, loss_cents: int) -> None:
    """The payer's 835 for an open claim (paid, or denied with a recouped or an absorbed
    CARC), or for a paid one a reversal with its correction paying less."""
    if outcome == "reversal":
        paid = [c for c in p.claims if c.state == "paid"]
        if not paid:
            return
        claim = paid[pick % len(paid)]
        assert claim.paid_clp is not None
        before = claim.allowed - _copay_of(claim.paid_clp)
        loss = min(loss_cents, before)
        code = "50" if pick % 2 else "16"
        correction = _clp(claim, "1", before - loss, claim.allowed - before, (code, loss))
        await _post(p, reversal_of(claim.paid_clp) + correction, -loss)
        claim.state = "done"
        return
    open_ = [c for c in p.claims if c.state == "open"]
    if not open_:
        return
    claim = open_[pick % len(open_)]
    if outcome == "paid":
        copay = min(copay, claim.allowed)
        claim.paid_clp = _clp(claim, "1", claim.allowed - copay, copay, None)
        await _post(p, claim.paid_clp, claim.allowed - copay)
        claim.state = "paid"
        return
    code = "50" if outcome == "denied_recoup" else "16"
    await _post(p, _clp(claim, "4", 0, 0, (code, claim.allowed)), 0)
    claim.state = "done"


def _copay_of(clp: str) -> int:
    head = clp.split("~", 1)[0].split("*")
    return round(float(head[5]) * 100)


async def reverse_transfer(p: Parts, pick: int, percent: int) -> None:
    """Stripe reverses part of a paid payout's transfer; the webhook's job books it."""
    rows = await p.db.fetch(
        "SELECT stripe_transfer_id, amount_cents - reversed_cents AS left FROM payouts"
        " WHERE status = 'paid' AND amount_cents > reversed_cents ORDER BY created_at, id"
    )
    if not rows:
        return
    row = rows[pick % len(rows)]
    amount = max(1, row["left"] * percent // 100)
    p.sdk.v1.transfers.reversals.create(row["stripe_transfer_id"], params={"amount": amount})
    event = pw.event("transfer.reversed", row["stripe_transfer_id"])
    delivered = await pw.deliver(p.api, event, p.settings.stripe_webhook_secret)
    assert delivered.status_code == 200, delivered.text
    assert await pw.run_events(p.db, p.tx, p.gateway) == ["1 reversals booked"]


async def receive_transfers(p: Parts, provider: Actor, requested: bool) -> None:
    """The provider's Connect account's `transfers` capability requested or unrequested."""
    account = await r.destination(p.db, provider.provider_id)
    r.transfers_capability(p.sdk, account, requested)


async def cancel_failed(p: Parts, pick: int) -> None:
    """Ops cancel a failed or held payout (its money owed again, paid by a later payout)."""
    rows = await p.db.fetch(
        "SELECT id FROM payouts WHERE status IN ('failed', 'held') ORDER BY created_at, id"
    )
    if not rows:
        return
    payout_id = rows[pick % len(rows)]["id"]
    done = await p.api.post(f"/payouts/{payout_id}/cancel", json={"reason": "account closed"},
                            headers=p.token(p.world.ops))  # fmt: skip
    assert done.status_code == 200, done.text
