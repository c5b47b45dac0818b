"""Payouts' surface for other domains: the Stripe events it applies (payments' webhook job
hands them over: Connect accounts, top-ups, transfer reversals) and what a provider is owed at
a cutoff (the payout run's amount), and the ledger's latest trial-balance check (the API's
/metrics)."""

from __future__ import annotations

from services.core.transactions import Transactions
from services.payouts import accounts, top_ups, transfers
from services.payouts.connect import ConnectGateway, HasStripeClient, StripeFailed, StripeUnknown
from services.payouts.schedules import cutoff_of, next_payout_date, payable_due
from services.payouts.trial_balance import latest_check as latest_trial_balance_check

__all__ = [
    "STRIPE_EVENTS", "apply_stripe_event", "cutoff_of", "latest_trial_balance_check",
    "next_payout_date", "payable_due",
]  # fmt: skip

STRIPE_EVENTS = (
    "account.updated",
    "topup.created",
    "topup.succeeded",
    "topup.failed",
    "topup.canceled",
    "topup.reversed",
    "transfer.reversed",
)


async def apply_stripe_event(
    tx: Transactions, stripe: HasStripeClient, kind: str, object_id: str
) -> str | None:
    """The event's object re-read from Stripe (nothing held) and applied under its row's lock;
    None when Stripe did not answer (the job tries again later)."""
    gateway = ConnectGateway.of(stripe)
    try:
        if kind == "account.updated":
            account = await gateway.get_account(object_id)
        elif kind.startswith("transfer."):
            transfer = await gateway.get_transfer(object_id)
        else:
            topup = await gateway.get_topup(object_id)
    except StripeUnknown:
        return None
    except StripeFailed as exc:
        if exc.status is None or exc.status >= 500 or exc.status == 429:
            return None
        return f"stripe refused the read ({exc.code[:80]})"  # not ours, or gone: nothing to do
    async with tx() as conn:
        if kind == "account.updated":
            return await accounts.apply_account(conn, account)
        if kind.startswith("transfer."):
            return await transfers.apply_transfer(conn, transfer)
        return await top_ups.apply_topup(conn, topup)
