"""Each provider's Stripe Connect account (DESIGN.md lifecycle step 1, "Stripe calls, exactly
once"): created once, its status kept from Stripe. account.updated (a connected account's
event: Stripe sends it only to the Connect endpoint) re-reads it; so do the provider's or ops'
read of the account and the payout run (the daily job, and ops' run now for the providers it
pays), before it decides who can be paid, for the accounts not payable yet: a lost or late
webhook heals (synced_at: when Stripe last said it).

The row is written first with its attempt n (Idempotency-Key account-{provider}-a{n}) and
`called_at` set before the call, which is made with nothing held; the account's id is stored as
soon as Stripe answers. Two requests at once send the same key, so Stripe makes one account
(the second gets the first's answer, or a 409 while it runs). A call whose outcome was lost
leaves `called_at` set: the next one looks the account up by metadata before creating any.
n rises only after Stripe answered an error (the key would replay it).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec

from schemas.payouts import PayoutAccountOut, PayoutAccountRow
from services.core import audit, clock
from services.core.auth import SYSTEM, Actor
from services.core.transactions import Transactions
from services.payouts.connect import Account, ConnectGateway, StripeFailed, StripeUnknown
from services.payouts.errors import PayoutAccountNotFound, StripeUnavailable
from services.payouts.queries import accounts as q
from services.providers import service as providers

log = logging.getLogger(__name__)

ENTITY = "payout_account"
# The payout run's re-reads of accounts not payable yet: at most this many, this many at once
# (Stripe's live read limit is 100 a second), within this long.
REFRESH_LIMIT = 500
REFRESH_CONCURRENCY = 8
REFRESH_BUDGET_S = 10.0


def account_out(row: PayoutAccountRow) -> PayoutAccountOut:
    return PayoutAccountOut(
        provider_id=row.provider_id, stripe_account_id=row.stripe_account_id,
        charges_enabled=row.charges_enabled, payouts_enabled=row.payouts_enabled,
        details_submitted=row.details_submitted, requirements_due=row.requirements_due,
        disabled_reason=row.disabled_reason, onboarding_url=None, onboarding_expires_at=None,
        synced_at=row.synced_at, created_at=row.created_at,
    )  # fmt: skip


async def _record(conn: asyncpg.Connection, provider_id: uuid.UUID, account: Account) -> None:
    """The account's id (the first one stays) and status, under the row's lock."""
    row = await q.lock_account(conn, provider_id)
    assert row is not None
    if row.stripe_account_id not in (None, account.id):
        # Two accounts for one provider: transfers go to the first, ops look at the other.
        log.error("second connect account for a provider", extra={"outcome": account.id})
        return
    await q.update_synced(conn, provider_id, account, clock.now())


async def _create(
    gateway: ConnectGateway, provider_id: uuid.UUID, row: PayoutAccountRow
) -> Account:
    """The provider's account at Stripe: an earlier call's, else a new one under key a{n}."""
    if row.called_at is not None and (found := await gateway.find_account(provider_id)):
        return found
    return await gateway.create_account(
        key=f"account-{provider_id}-a{row.attempt}", provider_id=provider_id
    )


async def _with_link(
    gateway: ConnectGateway, row: PayoutAccountRow, app_url: str
) -> PayoutAccountOut:
    """The account with a fresh onboarding link (Stripe's links are one-time and expire)."""
    assert row.stripe_account_id is not None
    now = clock.now()
    try:
        url, expires = await gateway.create_account_link(
            key=f"account-link-{row.provider_id}-{int(now.timestamp())}",
            account_id=row.stripe_account_id,
            refresh_url=f"{app_url}/payouts/onboarding?refresh=1",
            return_url=f"{app_url}/payouts/onboarding/done",
        )
    except (StripeFailed, StripeUnknown) as exc:
        raise StripeUnavailable("Stripe made no onboarding link: try again") from exc
    return msgspec.structs.replace(
        account_out(row), onboarding_url=url,
        onboarding_expires_at=datetime.fromtimestamp(expires, UTC),
    )  # fmt: skip


async def create_payout_account(
    tx: Transactions, gateway: ConnectGateway, actor: Actor, provider_id: uuid.UUID,
    app_url: str,
) -> tuple[PayoutAccountOut, bool]:  # fmt: skip
    """(the account with an onboarding link, made now): the provider's Connect account,
    created once."""
    async with tx() as conn:
        await providers.require_provider(conn, actor, provider_id)
        now = clock.now()
        await q.insert_account(conn, provider_id, now)
        row = await q.lock_account(conn, provider_id)
        assert row is not None
        await audit.record(conn, actor, "read" if row.stripe_account_id else "create", ENTITY,
                           [provider_id])  # fmt: skip
        if row.stripe_account_id is None:
            await q.update_called(conn, provider_id, now)
    if row.stripe_account_id is not None:
        return await _with_link(gateway, row, app_url), False
    try:
        account = await _create(gateway, provider_id, row)
    except StripeFailed as exc:
        async with tx() as conn:
            await q.update_attempt(conn, provider_id, row.attempt, clock.now())
        raise StripeUnavailable(f"Stripe refused the account ({exc.code}): try again") from exc
    except StripeUnknown as exc:
        raise StripeUnavailable("Stripe did not answer: try again") from exc
    async with tx() as conn:
        await _record(conn, provider_id, account)
        stored = await q.get_account(conn, provider_id)
    assert stored is not None
    return await _with_link(gateway, stored, app_url), True


async def _reread(gateway: ConnectGateway, row: PayoutAccountRow) -> Account | None:
    """The account as Stripe has it now, or None (Stripe did not answer, or none was made).
    A row whose create call lost its answer looks the account up by metadata."""
    try:
        if row.stripe_account_id is not None:
            return await gateway.get_account(row.stripe_account_id)
        if row.called_at is not None:
            return await gateway.find_account(row.provider_id)
    except (StripeFailed, StripeUnknown) as exc:
        log.warning("connect account not re-read", extra={"outcome": type(exc).__name__})
    return None


async def get_payout_account(
    tx: Transactions, gateway: ConnectGateway, actor: Actor, provider_id: uuid.UUID
) -> PayoutAccountOut:
    """The account, re-read from Stripe with nothing held (a lost account.updated heals); as
    Stripe said it last (synced_at) when Stripe does not answer."""
    async with tx() as conn:
        await providers.require_provider(conn, actor, provider_id)
        row = await q.get_account(conn, provider_id)
        if row is None:
            raise PayoutAccountNotFound("the provider has no payout account yet")
        await audit.record(conn, actor, "read", ENTITY, [provider_id])
    account = await _reread(gateway, row)
    if account is None:
        return account_out(row)
    async with tx() as conn:
        await apply_account(conn, account)
        stored = await q.get_account(conn, provider_id)
    assert stored is not None
    return account_out(stored)


async def refresh_unpayable(
    tx: Transactions, gateway: ConnectGateway, only: list[uuid.UUID] | None = None,
    waiting: bool = True,
) -> dict[str, int]:  # fmt: skip
    """Before a payout run: the accounts Hearth holds as not payable re-read from Stripe (those
    a held payout waits on first), so one whose account.updated was lost is paid by this run;
    {outcome: count}. Bounded in number and time; Stripe not answering leaves a row as it was.
    `only`: the providers a run pays (and, `waiting`, those its held payouts wait on)."""
    async with tx() as conn:
        rows = await q.list_unpayable(conn, REFRESH_LIMIT, only, waiting)
    gate = asyncio.Semaphore(REFRESH_CONCURRENCY)
    outcomes: dict[str, int] = {}

    async def refresh(row: PayoutAccountRow) -> None:
        async with gate:
            account = await _reread(gateway, row)
        outcome = "not re-read"
        if account is not None:
            async with tx() as conn:
                outcome = await apply_account(conn, account)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    try:
        async with asyncio.timeout(REFRESH_BUDGET_S):
            await asyncio.gather(*(refresh(row) for row in rows))
    except TimeoutError:
        # Each row is its own transaction: those done are kept, the rest wait for the next run.
        log.warning("connect accounts re-read in part", extra={"count": sum(outcomes.values())})
    return outcomes


async def _adopted(conn: asyncpg.Connection, account: Account) -> PayoutAccountRow | None:
    """The row of the provider the account names, when a lost answer left it without an id."""
    try:
        provider_id = uuid.UUID(account.hearth_provider_id or "")
    except ValueError:
        return None
    row = await q.lock_account(conn, provider_id)
    if row is None or row.stripe_account_id is not None or row.called_at is None:
        return None
    return row


async def apply_account(conn: asyncpg.Connection, account: Account) -> str:
    """account.updated, or a re-read: the status as Stripe has it now; the same answer again
    changes nothing but synced_at (when Stripe last said it)."""
    row = await q.lock_account_by_stripe_id(conn, account.id) or await _adopted(conn, account)
    if row is None:
        return "not our account"
    changed = row.stripe_account_id is None or (
        row.charges_enabled, row.payouts_enabled, row.details_submitted,
        tuple(row.requirements_due), row.disabled_reason) != (
        account.charges_enabled, account.payouts_enabled, account.details_submitted,
        account.requirements_due, account.disabled_reason)  # fmt: skip
    if not changed:
        await q.update_confirmed(conn, row.provider_id, clock.now())
        return "account unchanged"
    await q.update_synced(conn, row.provider_id, account, clock.now())
    await audit.record(conn, SYSTEM, "update", ENTITY, [row.provider_id])
    return "account updated"
