"""What an estimate shows to whom: the engine's figures rendered as text for the caller (pure).

The payer's allowed amount for a CPT code is the platform's contracted rate: the fee-schedule
API hides it from providers, and an estimate must not hand it over either. Since in network
allowed = client share + insurer share, hiding `allowed_cents` alone is not enough: a provider
or client sees the client's share and the explanation lines, but not the price, the insurer's
share (per session or in total) or a line that states the allowed amount or what is left of it
after the deductible. Ops see everything.

Each line's text is written here, once, from the engine's facts: ops get the full text, others
in network the client-share text (estimate/lines.py), so no text is ever rewritten.

What no view can hide: where the client owes the whole allowed amount (a deductible not yet
met, a visit limit used up) their share *is* that amount, and a coinsurance share is a known
fraction of it. Those are the client's own costs, which the estimate exists to show.
"""

from __future__ import annotations

from schemas.estimates import (
    Explanation,
    Projection,
    ProjectionFigures,
    SessionEstimate,
    SessionFigures,
)
from services.core.auth import Actor
from services.eligibility.estimate.lines import explain
from services.eligibility.estimate.words import reason_text


def sees_everything(actor: Actor) -> bool:
    return actor.role == "ops"


def render_session(
    session: SessionFigures,
    *,
    full: bool,
    payer: str | None = None,
    cache: dict[tuple[int, bool], Explanation] | None = None,
) -> SessionEstimate:
    """One session as `full` (ops) or client-share text; `cache` shares lines between sessions."""
    # Out of network the price is the provider's own self-pay rate, the insurer pays nothing
    # at the visit, and the plan's out-of-network figure is readable by providers.
    full = full or session.network == "out"
    lines: list[Explanation] = []
    for fact in session.facts:
        if cache is None:
            lines.append(explain(fact, full=full, payer=payer))
            continue
        key = (id(fact), full)
        line = cache.get(key)
        if line is None:
            line = cache[key] = explain(fact, full=full, payer=payer)
        lines.append(line)
    reason = session.reason
    return SessionEstimate(
        session_date=session.session_date,
        status=session.status,
        network=session.network,
        price_cents=session.price_cents if full else None,
        client_cents=session.client_cents,
        insurer_cents=session.insurer_cents if full else None,
        allowed_cents=session.allowed_cents if full else None,
        expected_reimbursement_cents=session.expected_reimbursement_cents,
        reason=None if reason is None else reason_text(reason, payer),
        retry_later=session.retry_later,
        ask=session.ask,
        before=session.before,
        after=session.after,
        lines=lines,
    )


def render_projection(
    projection: ProjectionFigures, *, full: bool, payer: str | None = None
) -> Projection:
    """The projection with its text, for ops (`full`) or as the client's share."""
    # Facts shared by the sessions (notes, prior authorization, assumptions) are the same
    # objects, alive for the whole call: their lines are written once.
    cache: dict[tuple[int, bool], Explanation] = {}
    return Projection(
        sessions=[
            render_session(s, full=full, payer=payer, cache=cache) for s in projection.sessions
        ],
        client_total_cents=projection.client_total_cents,
        insurer_total_cents=projection.insurer_total_cents if full else None,
        complete=projection.complete,
    )


def for_caller(
    projection: ProjectionFigures, actor: Actor, *, payer: str | None = None
) -> Projection:
    """Ops' full view, or the client-share view for a provider or a client."""
    return render_projection(projection, full=sees_everything(actor), payer=payer)
