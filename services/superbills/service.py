"""Superbills (DESIGN.md lifecycle 9): for sessions the client paid at the provider's self-pay
rate (no policy, or out of network), what their insurer needs to reimburse them: provider
(name, NPI, taxonomy, tax id, address), client (name, date of birth, address, member id),
each date of service with its codes, what it was billed at and what the client paid.

A session has one when it was confirmed with no claim and billed at the self-pay rate (never
held for ops, or held and settled as self-pay). What it was billed at comes from the ledger
(its entries on the client's receivable: the completion and any edit), what was paid from its
card charges less refunds. Lines carry no price of their own: the session's amount is spread
over its lines in proportion to the provider's self-pay rates for their codes (exactly the
rates while they are unchanged), so the lines always add up to what was billed.

A month is one in the platform's time zone (settings.statement_time_zone), as statements'
months are: clients have no time zone on file.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import asyncpg

from schemas.clients import ClientRow
from schemas.superbills import (
    SuperbillAddressOut,
    SuperbillBilledByOut,
    SuperbillClientOut,
    SuperbillLineOut,
    SuperbillOut,
    SuperbillPreferencesIn,
    SuperbillPreferencesOut,
    SuperbillProviderOut,
    SuperbillSessionOut,
)
from services.clients import service as clients
from services.core import audit, clock, months
from services.core.auth import SYSTEM, Actor
from services.core.months import MonthError, MonthRefusal
from services.core.scope import owner_scope
from services.core.settings import Settings
from services.providers.service import get_self_pay_rate
from services.superbills import queries
from services.superbills.errors import BadMonth, NoSuperbill, SuperbillSessionNotFound

ENTITY = "superbill"
PREFERENCES = "superbill_preferences"
STATEMENT = (
    "This superbill is for you to submit to your insurance company to ask for out-of-network "
    "reimbursement. No claim was filed with any insurer for these services: you paid the "
    "provider's self-pay rate, collected by {platform} on the provider's behalf. Amounts are in "
    "US dollars; diagnosis codes are ICD-10-CM, procedure codes CPT."
)


_MONTH_REFUSALS: dict[MonthRefusal, str] = {
    "malformed": "month is YYYY-MM, from 2000",
    "too_early": "month is YYYY-MM, from 2000",
    "not_begun": "the month has not begun",
}


def month_bounds(month: str, time_zone: str) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM month that has begun, in the time zone; 422 otherwise."""
    try:
        return months.month_bounds(month, time_zone)
    except MonthError as error:
        raise BadMonth(_MONTH_REFUSALS[error.reason], field="month") from error


def previous_month(now: datetime, time_zone: str) -> str:
    """YYYY-MM of the month before `now`'s, in the time zone."""
    return f"{months.previous_month(now, time_zone):%Y-%m}"


def allocate(total: int, weights: list[int]) -> list[int]:
    """`total` spread over parts in proportion to `weights` (equal parts when they are all
    zero), rounded down with the remainder on the last part: the parts add up to `total`."""
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    parts = [total * w // sum(weights) for w in weights[:-1]]
    return [*parts, total - sum(parts)]


def _address(
    line1: str | None, line2: str | None, city: str | None, state: str | None, zip_: str | None
) -> SuperbillAddressOut | None:
    if line1 is None or city is None or state is None or zip_ is None:
        return None
    return SuperbillAddressOut(line1=line1, line2=line2, city=city, state=state, zip=zip_)


async def _lines(
    conn: asyncpg.Connection, rows: list[queries.SessionRow]
) -> dict[uuid.UUID, list[SuperbillLineOut]]:
    found: dict[uuid.UUID, list[queries.LineRow]] = {}
    for line in await queries.list_lines(conn, [r.id for r in rows]):
        found.setdefault(line.therapy_session_id, []).append(line)
    rates: dict[tuple[uuid.UUID, str], int] = {}
    out = {}
    for row in rows:
        lines = found.get(row.id, [])
        for line in lines:
            key = (row.provider_id, line.cpt_code)
            if key not in rates:
                rate = await get_self_pay_rate(conn, row.provider_id, line.cpt_code)
                rates[key] = rate.amount_cents if rate is not None else 0
        amounts = allocate(row.charged_cents, [rates[(row.provider_id, x.cpt_code)] for x in lines])
        out[row.id] = [
            SuperbillLineOut(
                line_number=x.line_number, cpt_code=x.cpt_code, modifiers=x.modifiers,
                diagnosis_pointers=x.diagnosis_pointers, units=1, charge_cents=cents,
            )
            for x, cents in zip(lines, amounts, strict=True)
        ]  # fmt: skip
    return out


async def _client(
    conn: asyncpg.Connection, client: ClientRow, rows: list[queries.SessionRow]
) -> SuperbillClientOut:
    # The plan of the latest session billed out of network (self-pay sessions have none).
    policy_id = next((r.policy_id for r in reversed(rows) if r.policy_id is not None), None)
    plan = await queries.get_plan(conn, policy_id) if policy_id is not None else None
    address = _address(client.address_line1, client.address_line2, client.city, client.state,
                       client.zip)  # fmt: skip
    assert address is not None
    return SuperbillClientOut(
        id=client.id, name=f"{client.first_name} {client.last_name}",
        date_of_birth=client.date_of_birth, address=address,
        payer_name=plan[0] if plan else None, member_id=plan[1] if plan else None,
    )  # fmt: skip


def _billed_by(settings: Settings) -> SuperbillBilledByOut:
    s = settings
    address = _address(
        s.platform_address_line1,
        s.platform_address_line2,
        s.platform_city,
        s.platform_state,
        s.platform_zip,
    )
    assert address is not None
    return SuperbillBilledByOut(name=settings.platform_name, npi=settings.platform_npi,
                                address=address)  # fmt: skip


async def build(
    conn: asyncpg.Connection,
    settings: Settings,
    client: ClientRow,
    rows: list[queries.SessionRow],
    period: tuple[str, date, date],
) -> SuperbillOut:
    """The superbill of these sessions (no authorization, no audit: the caller's)."""
    lines = await _lines(conn, rows)
    providers = await queries.list_providers(conn, sorted({r.provider_id for r in rows}))
    sessions = [
        SuperbillSessionOut(
            session_id=r.id, provider_id=r.provider_id,
            reason="self_pay" if r.policy_id is None else "out_of_network",
            date_of_service=r.service_date, place_of_service=r.place_of_service,
            diagnosis_codes=r.diagnosis_codes, lines=lines[r.id], charged_cents=r.charged_cents,
            paid_cents=r.paid_cents,
        )
        for r in rows
    ]  # fmt: skip
    name, start, end = period
    return SuperbillOut(
        client=await _client(conn, client, rows), period=name,
        time_zone=settings.statement_time_zone, period_start=start, period_end=end,
        issued_at=clock.now(), billed_by=_billed_by(settings),
        providers=[
            SuperbillProviderOut(
                id=p.id, name=f"{p.first_name} {p.last_name}", npi=p.npi,
                taxonomy_code=p.taxonomy_code, tax_id_last4=p.tax_id_last4,
                address=_address(p.address_line1, p.address_line2, p.city, p.state, p.zip),
            )
            for p in providers
        ],
        sessions=sessions, total_charged_cents=sum(s.charged_cents for s in sessions),
        total_paid_cents=sum(s.paid_cents for s in sessions),
        statement=STATEMENT.format(platform=settings.platform_name),
    )  # fmt: skip


async def _refuse(conn: asyncpg.Connection, actor: Actor, session_id: uuid.UUID) -> NoSuperbill:
    """Why a session has no superbill (404 when it is not the caller's to see)."""
    state = await queries.get_session_state(conn, session_id, owner_scope(actor))
    if state is None:
        raise SuperbillSessionNotFound("therapy session not found")
    if state.has_claim:
        return NoSuperbill(
            "the session was billed to the client's insurer in network (it has a claim): its "
            "explanation of benefits stands in for a superbill"
        )
    if state.status != "confirmed":
        return NoSuperbill(f"the session is {state.status}, not completed: nothing was billed")
    return NoSuperbill("the session's coverage is with ops (on hold or written off): not billed")


async def get_session_superbill(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, session_id: uuid.UUID
) -> SuperbillOut:
    """One session's superbill: its client, its provider, ops (others 404)."""
    tz = settings.statement_time_zone
    row = await queries.get_session(conn, session_id, tz)
    scope = owner_scope(actor)
    if row is None or not (
        scope.provider_id is None
        or row.provider_id == scope.provider_id
        or row.client_id == scope.client_id
    ):
        raise await _refuse(conn, actor, session_id)
    client = await clients.visible_client(conn, SYSTEM, row.client_id)
    superbill = await build(conn, settings, client, [row], ("session", row.service_date,
                                                            row.service_date))  # fmt: skip
    await audit.record(conn, actor, "read", ENTITY, [row.id])
    return superbill


async def build_month(
    conn: asyncpg.Connection,
    settings: Settings,
    client: ClientRow,
    month: str,
    provider_id: uuid.UUID | None = None,
) -> SuperbillOut:
    """The client's superbill of a month (only `provider_id`'s sessions when given)."""
    tz = settings.statement_time_zone
    start, end = month_bounds(month, tz)
    rows = await queries.list_month_sessions(conn, client.id, provider_id, (start, end), tz)
    last_day = (end - timedelta(days=1)).date()
    return await build(conn, settings, client, rows, (month, start.date(), last_day))


async def get_month_superbill(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, client_id: uuid.UUID, month: str
) -> SuperbillOut:
    """A client's superbill of a month: the client, ops, or a provider of theirs (only their
    own sessions); others 404."""
    client = await clients.visible_client(conn, actor, client_id)
    provider_id = actor.provider_id if actor.role == "provider" else None
    superbill = await build_month(conn, settings, client, month, provider_id)
    await audit.record(conn, actor, "read", ENTITY, [s.session_id for s in superbill.sessions])
    return superbill


async def _preferences(conn: asyncpg.Connection, client_id: uuid.UUID) -> SuperbillPreferencesOut:
    found = await queries.get_preferences(conn, client_id)
    return SuperbillPreferencesOut(
        client_id=client_id,
        monthly_email=found[0] if found else False,
        updated_at=found[1] if found else None,
    )


async def get_preferences(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID
) -> SuperbillPreferencesOut:
    """The client's superbill choices (the client or ops)."""
    await clients.visible_client(conn, actor, client_id)
    await audit.record(conn, actor, "read", PREFERENCES, [client_id])
    return await _preferences(conn, client_id)


async def set_preferences(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID, data: SuperbillPreferencesIn
) -> SuperbillPreferencesOut:
    """The client opts in to (or out of) the monthly superbill email."""
    await clients.visible_client(conn, actor, client_id)
    assert actor.user_id is not None  # a signed-in client or ops (the route's guard)
    await queries.upsert_preferences(conn, client_id, data.monthly_email, actor.user_id,
                                     clock.now())  # fmt: skip
    await audit.record(conn, actor, "update", PREFERENCES, [client_id])
    return await _preferences(conn, client_id)
