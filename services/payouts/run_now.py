"""Ops' "run now" (POST /payouts/runs; issue 18, DESIGN.md "Payouts"): the daily job's work
for a date, the Connect accounts of the providers it pays re-read from Stripe first.

The daily job re-reads the accounts Hearth holds as not payable before it freezes (accounts.
refresh_unpayable), so one whose account.updated was lost is paid, not held no_payout_account.
Run now does the same for the providers this run pays: one provider's own account, or those
due on the date and those a held payout waits on (the run sends it again once its account can
be paid); at most accounts.REFRESH_LIMIT of them, within accounts.REFRESH_BUDGET_S. The calls
are made with nothing held: a short transaction answers a repeat under the same
Idempotency-Key and checks the provider, the re-read commits each account in its own, and the
run is one transaction after them (the Idempotency-Key taken first, as before). Stripe not
answering, or answering an error, leaves an account as Stripe last said it (the run uses the
stored state) and is logged by its kind only; a re-read cut short by the budget keeps what it
read.
"""

from __future__ import annotations

import logging

from schemas.payout_runs import PayoutRunIn, PayoutRunOut
from services.core import idempotency
from services.core.auth import Actor
from services.core.transactions import Transactions
from services.payouts import accounts, runs
from services.payouts.connect import ConnectGateway
from services.providers import service as providers

log = logging.getLogger(__name__)

OPERATION = "run_payouts"  # the Idempotency-Key's operation, as the route stored it before


async def run_now(
    tx: Transactions, gateway: ConnectGateway, actor: Actor, data: PayoutRunIn,
    rules: runs.RunRules, key: str | None,
) -> tuple[int, PayoutRunOut]:  # fmt: skip
    """(201, the run date's totals): the providers' accounts re-read, then the run; a repeat
    under the same Idempotency-Key its first answer, without calling Stripe."""
    runs.check_run(data)
    async with tx() as conn:
        first = await idempotency.replay(conn, actor.user, key, OPERATION, data, PayoutRunOut)
        if first is not None:
            return first
        if data.provider_id is not None:
            await providers.require_provider(conn, actor, data.provider_id)
        paid = await runs.list_due(conn, data.run_date, data.provider_id)
    # One provider: theirs alone; a date: also those whose held payouts the run sends again.
    refreshed = await accounts.refresh_unpayable(tx, gateway, paid,
                                                 waiting=data.provider_id is None)  # fmt: skip
    log.info("connect accounts re-read", extra={"job": "run_payouts_now",
                                                "outcome": str(refreshed)})  # fmt: skip
    async with tx() as conn:
        return await idempotency.run_once(
            conn, actor.user, key, OPERATION, data, 201,
            lambda: runs.run_payouts_now(conn, actor, data, rules), PayoutRunOut,
        )  # fmt: skip
