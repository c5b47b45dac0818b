"""What an estimate shows to whom (pure).

The payer's allowed amount for a CPT code is the platform's contracted rate: the fee-schedule
API hides it from providers, and an estimate must not hand it over either. Since in network
allowed = client share + insurer share, hiding `allowed_cents` alone is not enough: a provider
or client sees the client's share and the explanation lines, but not the price, the insurer's
share (per session or in total) or a line that states the allowed amount or what is left of it
after the deductible. Ops see everything.

What no view can hide: where the client owes the whole allowed amount (a deductible not yet
met, a visit limit used up) their share *is* that amount, and a coinsurance share is a known
fraction of it. Those are the client's own costs, which the estimate exists to show.
"""

from __future__ import annotations

import msgspec

from schemas.benefit_checks import EstimateOut
from schemas.estimates import Explanation, SessionEstimate
from services.core.auth import Actor
from services.eligibility.estimate.lines import from_source, money

_BOTH = "coinsurance: assumed the copay applies instead"


def for_caller(estimate: EstimateOut, actor: Actor) -> EstimateOut:
    """Ops' full view, or the client-share view for a provider or a client."""
    if actor.role == "ops":
        return estimate
    projection = msgspec.structs.replace(
        estimate.projection,
        sessions=[_session(s) for s in estimate.projection.sessions],
        insurer_total_cents=None,
    )
    return msgspec.structs.replace(estimate, allowed_cents=None, projection=projection)


def _session(session: SessionEstimate) -> SessionEstimate:
    if session.network != "in":
        # Out of network the price is the provider's own self-pay rate, the insurer pays
        # nothing at the visit, and the plan's out-of-network figure is readable by providers.
        return session
    return msgspec.structs.replace(
        session,
        price_cents=None,
        insurer_cents=None,
        allowed_cents=None,
        lines=[_line(line) for line in session.lines],
    )


def _line(line: Explanation) -> Explanation:
    """The line, said without the allowed amount (or the part of it left after a deductible)."""
    amount, source = line.amount_cents, line.source
    where = f", {from_source(source)}" if source else ""
    if line.kind == "deductible" and amount:
        text = f"Deductible: {money(amount)} of this session goes to the deductible{where}"
    elif line.kind == "copay" and amount is not None:
        text = f"Copay: {money(amount)} for this session{where}"
        if line.text.endswith(_BOTH):
            text += f"; the payer also gives {_BOTH}"
    elif line.kind == "coinsurance" and amount is not None:
        text = f"Coinsurance: {money(amount)} for this session, on what is left after the "
        text += f"deductible{where} (rounded half up to the cent)"
    elif line.kind == "oop_cap":
        text = "Out-of-pocket cap: the client's share is limited to what remains of the "
        text += f"out-of-pocket maximum{where}"
        amount = None  # the share it took off would give the uncapped share
    elif line.kind == "visit_limit" and amount is not None:
        text = "Visit limit used up: the plan pays nothing for this session, so the client "
        text += f"owes its whole cost{where}"
    else:
        return line
    return msgspec.structs.replace(line, text=text, amount_cents=amount)
