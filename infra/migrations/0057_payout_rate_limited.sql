-- A Stripe 429 (rate limited) on a payout's calls (issue 18; DESIGN.md "Payouts"): it says
-- nothing about the payout, so it no longer counts toward the errors after which a payout is held
-- `transfer_failed`. The transfer job counts 429s apart (`rate_limited`) and backs off; after
-- transfers.MAX_RATE_LIMITED of them the payout is held `stripe_rate_limited` for ops, so Stripe
-- refusing for hours is seen, never retried forever. Ops' retry starts both counts again.
ALTER TABLE payouts DROP CONSTRAINT payouts_hold_reason_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_hold_reason_check CHECK (hold_reason IN (
    'insufficient_platform_balance', 'no_payout_account', 'transfer_failed', 'provider_hold',
    'stripe_rate_limited'));
ALTER TABLE payouts
    ADD COLUMN rate_limited INTEGER NOT NULL DEFAULT 0 CHECK (rate_limited BETWEEN 0 AND 1000);
