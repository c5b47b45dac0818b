-- The daily trial-balance check and the platform's top-ups (issue 18 items 1 and 5; DESIGN.md
-- "Money": the trial balance is zero after every event, a daily check; a top-up from the bank,
-- once it succeeds, Dr stripe_balance / Cr bank).
--
-- One row per check run: the totals it read and whether they balanced.
CREATE TABLE trial_balance_checks (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    debits_cents        BIGINT NOT NULL CHECK (debits_cents >= 0),
    credits_cents       BIGINT NOT NULL CHECK (credits_cents >= 0),
    imbalance_cents     BIGINT NOT NULL,
    accounts            INTEGER NOT NULL CHECK (accounts >= 0),
    balanced            BOOLEAN GENERATED ALWAYS AS (imbalance_cents = 0) STORED,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX trial_balance_checks_created ON trial_balance_checks (created_at, id);

-- Money ops move from the bank to the platform's Stripe balance (so transfers to providers
-- have funds). The amount is frozen at creation (the parameters under an Idempotency-Key never
-- change). pending -> submitting (attempt n, a lease; the call made with nothing held; the
-- top-up's id stored at once) -> created (Stripe took it, funds on their way) -> succeeded
-- (the entry posted) | failed. n rises only after Stripe answered an error.
CREATE TABLE platform_top_ups (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0 AND amount_cents <= 99999999),
    description         TEXT CHECK (length(description) BETWEEN 1 AND 200),
    status              TEXT NOT NULL CHECK (status IN
                            ('pending', 'submitting', 'created', 'succeeded', 'failed')),
    attempt             INTEGER NOT NULL DEFAULT 0 CHECK (attempt BETWEEN 0 AND 1000),
    lease_until         TIMESTAMPTZ,
    stripe_topup_id     TEXT UNIQUE CHECK (length(stripe_topup_id) BETWEEN 1 AND 255),
    failure_code        TEXT CHECK (length(failure_code) BETWEEN 1 AND 100),
    requested_by        UUID REFERENCES users (id),
    succeeded_at        TIMESTAMPTZ,
    failed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT platform_top_ups_succeeded CHECK (
        (status = 'succeeded') = (succeeded_at IS NOT NULL)
        AND (status <> 'succeeded' OR stripe_topup_id IS NOT NULL)),
    CONSTRAINT platform_top_ups_lease CHECK (status <> 'submitting' OR lease_until IS NOT NULL)
);
CREATE INDEX platform_top_ups_created ON platform_top_ups (created_at, id);
