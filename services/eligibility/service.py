"""Benefit checks (270/271 through the clearinghouse) and estimates built on them.

A check reads what it needs in one short transaction, asks the clearinghouse with nothing held,
and stores the answer in a second transaction. A check that got no answer stores nothing: a 270
is a question, not a money movement, so a crash in between leaves nothing to finish.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import msgspec
from redis.asyncio import Redis

from schemas.benefit_checks import (
    BenefitCheckIn,
    BenefitCheckOut,
    BenefitCheckRow,
    BenefitCheckX12Out,
    CheckContextRow,
    RecheckJob,
)
from schemas.eligibility import Benefits
from services.clearinghouse.client import ClearinghouseAdapter
from services.clearinghouse.errors import ClearinghouseError, EnvelopeRejected
from services.clients import service as clients
from services.clients.errors import PolicyNotFound
from services.core import audit, clock, outbox, x12_control
from services.core.auth import Actor
from services.core.db import connection, transaction
from services.core.errors import NotFound
from services.core.pagination import Page, page_of
from services.core.scope import owner_scope
from services.core.settings import Settings
from services.core.x12 import ControlNumbers, X12Error
from services.credentialing.service import is_credentialed
from services.eligibility import queries, refresh_limits
from services.eligibility.errors import (
    BadCheck,
    BenefitCheckNotFound,
    NotX12Safe,
    ReceiverNotFound,
)
from services.eligibility.inquiry import request_270, require_x12_safe
from services.eligibility.share import completion_share as completion_share
from services.eligibility.share import plan_network as plan_network
from services.eligibility.x12 import (
    Receiver270,
    Request270,
    TraceMismatch,
    envelope_270,
    parse_271,
    write_270,
)

log = logging.getLogger(__name__)

PAYLOAD_270 = "X12_270_Request_005010X279A1"
ENTITY = "benefit_check"
RETRY_AFTER = timedelta(minutes=15)


async def queue_recheck(
    conn: asyncpg.Connection,
    policy_id: uuid.UUID,
    provider_id: uuid.UUID | None,
    available_at: datetime | None = None,
) -> bool:
    """Queue a re-check of the policy for the provider (None: the platform) once this
    transaction commits; False when one is queued already (one at a time per pair)."""
    job = RecheckJob.of(policy_id, provider_id)
    key = f"recheck:{policy_id}:{provider_id or ''}"
    return await outbox.add(conn, job, dedupe_key=key, available_at=available_at) is not None


# What callers other than ops (and the jobs) read when the clearinghouse answered with an error:
# its text (and a 271's parse error) can quote names and ids from the exchange.
UPSTREAM_PLAIN = "the clearinghouse could not answer this benefit check; please try again later"


async def _context(conn: asyncpg.Connection, actor: Actor, policy_id: uuid.UUID) -> CheckContextRow:
    """The policy and its client, if the caller may see them (404 otherwise)."""
    context = await queries.get_check_context(conn, policy_id, owner_scope(actor))
    if context is None:
        raise PolicyNotFound("policy not found", field="policy_id")
    return context


def _receiver_for(actor: Actor, provider_id: uuid.UUID | None) -> uuid.UUID | None:
    if actor.role == "provider":
        if provider_id not in (None, actor.provider_id):
            raise BadCheck("a provider checks benefits for themself", field="provider_id")
        return actor.provider_id
    return provider_id


def _upstream_failure(exc: ClearinghouseError, caller: Actor, payload_id: uuid.UUID) -> Exception:
    """Log what the clearinghouse said; the full text is for ops, others get a plain one."""
    cause = exc.__cause__
    if isinstance(exc, EnvelopeRejected):
        extra = {"error_code": exc.error_code, "error_message": exc.error_message}
    elif isinstance(cause, X12Error):
        # A 271 parse error quotes the value it met: log where it stood, not the value.
        extra = {"error_code": type(cause).__name__, "x12_at": cause.where or "envelope"}
    else:
        extra = {"error_code": exc.code, "error_message": exc.detail}
    log.warning("clearinghouse error", extra={**extra, "payload_id": str(payload_id)})
    if caller.role in ("ops", "system"):
        return exc
    return ClearinghouseError(UPSTREAM_PLAIN, code=exc.code)


def _parse(x271: str, trace: str) -> Benefits:
    try:
        return parse_271(x271, trace)
    except (X12Error, TraceMismatch) as exc:
        raise ClearinghouseError(f"the 271 cannot be used: {exc}") from exc


def _out(row: BenefitCheckRow, *, reused: bool = False, retry: bool = False) -> BenefitCheckOut:
    return BenefitCheckOut(**msgspec.structs.asdict(row), reused=reused, retry_pending=retry)


async def check_benefits(
    pool: asyncpg.Pool,
    clearinghouse: ClearinghouseAdapter,
    settings: Settings,
    actor: Actor,
    data: BenefitCheckIn,
    *,
    redis: Redis | None = None,
) -> tuple[BenefitCheckOut, bool]:
    """(the check, whether the payer was asked now). `actor` SYSTEM: the re-check job.

    A caller's `refresh` is limited (refresh_limits), so `redis` is needed for it.
    """
    provider_id = _receiver_for(actor, data.provider_id)
    service_date = data.service_date or clock.today()
    fresh_since = clock.now() - timedelta(days=settings.benefit_check_fresh_days)
    # The re-check job (SYSTEM) is bounded by its outbox row, not by these limits.
    refresher = actor if data.refresh and actor.role != "system" else None
    # Reads, a sequence (never rolled back anyway) and at most one audit row: no statement here
    # needs another's transaction, so each commits by itself (BEGIN and COMMIT were two more
    # round trips on every check). Plain statements only: no reset query when it goes back.
    async with connection(pool, plain=True) as conn:
        context = await _context(conn, actor, data.policy_id)
        receiver = await _receiver(conn, settings, context, provider_id, service_date)
        if not data.refresh:
            fresh = await queries.get_latest_check(
                conn, context.policy_id, provider_id, fresh_since
            )
            if fresh is not None:
                await audit.record(conn, actor, "read", ENTITY, [fresh.id])
                return _out(fresh, reused=True), False
        if refresher is not None:
            await refresh_limits.check_policy_interval(conn, settings, refresher, context.policy_id)
        require_x12_safe(context, receiver)
        isa, gs = await x12_control.next_control_numbers(conn)
    if refresher is not None:
        assert redis is not None, "a caller's refresh is counted in Redis"
        await refresh_limits.count_caller(redis, settings, refresher)
    control = ControlNumbers(interchange=isa, group=gs)
    exchange = await _exchange(
        clearinghouse,
        settings,
        actor,
        request_270(context, receiver, settings, service_date),
        control,
    )
    return await _store(pool, actor, context, provider_id, service_date, exchange), True


class _Exchange(msgspec.Struct, frozen=True, kw_only=True):
    """One 270 and the 271 that answered it."""

    trace: str
    payload_id: uuid.UUID
    x270: str
    x271: str
    benefits: Benefits
    requested_at: datetime
    completed_at: datetime
    duration_ms: int


async def _exchange(
    clearinghouse: ClearinghouseAdapter,
    settings: Settings,
    actor: Actor,
    request: Request270,
    control: ControlNumbers,
) -> _Exchange:
    """Write the 270, ask the clearinghouse (nothing held) and read its 271."""
    payload_id = uuid.uuid4()
    requested_at = clock.now()
    try:
        x270 = write_270(
            request,
            envelope=envelope_270(
                settings.clearinghouse_sender_id, settings.clearinghouse_receiver_id
            ),
            control=control,
            now=requested_at,
        )
    except X12Error as exc:
        # Whatever else the writer refuses in stored data is the caller's to correct, not ours
        # to crash on; the message may quote the value, so it is not passed on.
        raise NotX12Safe(
            "the policy's stored details cannot be written as a 270", field="policy_id"
        ) from exc
    started = time.perf_counter()
    try:
        x271 = await clearinghouse.realtime(PAYLOAD_270, x270, payload_id=payload_id)
        benefits = _parse(x271, request.trace)
    except ClearinghouseError as exc:
        raise _upstream_failure(exc, actor, payload_id) from exc
    duration_ms = round((time.perf_counter() - started) * 1000)
    return _Exchange(
        trace=request.trace,
        payload_id=payload_id,
        x270=x270,
        x271=x271,
        benefits=benefits,
        requested_at=requested_at,
        completed_at=clock.now(),
        duration_ms=duration_ms,
    )


async def _store(
    pool: asyncpg.Pool,
    actor: Actor,
    context: CheckContextRow,
    provider_id: uuid.UUID | None,
    service_date: date,
    exchange: _Exchange,
) -> BenefitCheckOut:
    """Store the answer. A payer that could not answer now: keep the last good answer and ask
    again later."""
    transient = any(r.transient for r in exchange.benefits.rejections)

    async def store(conn: asyncpg.Connection) -> BenefitCheckRow:
        return await queries.insert_check(
            conn,
            policy_id=context.policy_id,
            client_id=context.client_id,
            provider_id=provider_id,
            service_date=service_date,
            trace=exchange.trace,
            payload_id=exchange.payload_id,
            status="retry" if transient else exchange.benefits.status,
            benefits=exchange.benefits,
            request_x12=exchange.x270,
            response_x12=exchange.x271,
            requested_by=actor.user_id,
            requested_at=exchange.requested_at,
            completed_at=exchange.completed_at,
            duration_ms=exchange.duration_ms,
            audited_by=audit.author(actor),
        )

    if not transient:
        # The check and its audit row are one statement: atomic without BEGIN and COMMIT.
        async with connection(pool, plain=True) as conn:
            return _out(await store(conn))
    async with transaction(pool, plain=True) as conn:
        stored = await store(conn)
        await queue_recheck(conn, context.policy_id, provider_id, clock.now() + RETRY_AFTER)
        last_good = await queries.get_latest_check(
            conn, context.policy_id, provider_id, datetime.min.replace(tzinfo=UTC)
        )
        return _out(last_good or stored, retry=True)


async def _receiver(
    conn: asyncpg.Connection,
    settings: Settings,
    context: CheckContextRow,
    provider_id: uuid.UUID | None,
    service_date: date,
) -> Receiver270:
    """The 270's information receiver: the platform, or a provider with a reason to ask.

    A provider's NPI goes to the payer, so only one with a session with this client, or
    credentialed with this payer on the service date, may be named; any other answers 404
    like an unknown one (whether that provider exists is not the caller's business).
    """
    if provider_id is None:
        return Receiver270(npi=settings.platform_npi, last_or_org_name=settings.platform_name)
    found = await queries.get_provider_receiver(conn, provider_id)
    related = found is not None and (
        await clients.provider_sees_client(conn, provider_id, context.client_id)
        or await is_credentialed(conn, provider_id, context.payer_id, service_date)
    )
    if found is None or not related:
        raise ReceiverNotFound(
            "no provider with a session with this client or credentialed with this payer",
            field="provider_id",
        )
    npi, last_name, first_name = found
    return Receiver270(npi=npi, last_or_org_name=last_name, first_name=first_name)


async def get_check(conn: asyncpg.Connection, actor: Actor, check_id: uuid.UUID) -> BenefitCheckOut:
    row = await _visible_check(conn, actor, check_id)
    await audit.record(conn, actor, "read", ENTITY, [row.id])
    return _out(row)


async def _visible_check(
    conn: asyncpg.Connection, actor: Actor, check_id: uuid.UUID
) -> BenefitCheckRow:
    row = await queries.get_check(conn, check_id, owner_scope(actor))
    if row is None:
        raise BenefitCheckNotFound("benefit check not found")
    return row


async def get_check_x12(
    conn: asyncpg.Connection, actor: Actor, check_id: uuid.UUID
) -> BenefitCheckX12Out:
    """The raw 270 and 271 (ops only: they carry every identifier in the exchange)."""
    row = await _visible_check(conn, actor, check_id)
    await audit.record(conn, actor, "read_x12", ENTITY, [row.id])
    return await queries.get_check_x12(conn, check_id)


async def list_checks(
    conn: asyncpg.Connection,
    actor: Actor,
    client_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> Page[BenefitCheckOut]:
    if not await clients.client_in_scope(conn, actor, client_id):
        raise NotFound("client not found", field="client_id")
    scope = owner_scope(actor)
    page = await page_of(
        lambda after, n: queries.list_checks(conn, client_id, scope, after, n), cursor, limit
    )
    await audit.record(conn, actor, "read", ENTITY, [r.id for r in page.items])
    return page.map(_out)
