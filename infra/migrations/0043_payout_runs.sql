-- The weekly payout run (issue 18 item 3, DESIGN.md "Payouts", "Stripe calls, exactly once",
-- "Money": payout frozen, transfer succeeded, transfer reversed).
--
-- One payout per provider and period (its cutoff): the daily run writes the row with its amount
-- and lines frozen, the entry Dr provider_payable / Cr payouts_in_transit and its outbox row in
-- one transaction. The transfer job claims it (pending -> submitting, attempt n, a lease; the
-- Idempotency-Key payout-{id}-a{n}), calls Stripe with nothing held, stores the transfer's id at
-- once and records paid (Dr payouts_in_transit / Cr stripe_balance). held: waits for ops or for
-- funds (hold_reason says which); failed: Stripe refused the transfer (failure_code).
CREATE TABLE payouts (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id         UUID NOT NULL REFERENCES providers (id),
    run_date            DATE NOT NULL,
    period_end          TIMESTAMPTZ NOT NULL,  -- the cutoff: the start of run_date, UTC
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0 AND amount_cents <= 99999999999),
    sessions_cents      BIGINT NOT NULL,
    recoupments_cents   BIGINT NOT NULL CHECK (recoupments_cents >= 0),
    other_cents         BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN
                            ('pending', 'submitting', 'paid', 'held', 'failed')),
    attempt             INTEGER NOT NULL DEFAULT 0 CHECK (attempt BETWEEN 0 AND 1000),
    errors              INTEGER NOT NULL DEFAULT 0 CHECK (errors BETWEEN 0 AND 1000),
    lease_until         TIMESTAMPTZ,
    hold_reason         TEXT CHECK (hold_reason IN ('insufficient_platform_balance',
                            'no_payout_account', 'transfer_failed', 'provider_hold')),
    failure_code        TEXT CHECK (length(failure_code) BETWEEN 1 AND 100),
    destination         TEXT CHECK (length(destination) BETWEEN 1 AND 255),
    stripe_transfer_id  TEXT UNIQUE CHECK (length(stripe_transfer_id) BETWEEN 1 AND 255),
    transfer_group      TEXT GENERATED ALWAYS AS ('payout_' || id::text) STORED,
    reversed_cents      BIGINT NOT NULL DEFAULT 0 CHECK (reversed_cents >= 0),
    paid_at             TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT payouts_period UNIQUE (provider_id, period_end),
    CONSTRAINT payouts_paid CHECK (
        (status = 'paid') = (paid_at IS NOT NULL)
        AND (status <> 'paid' OR stripe_transfer_id IS NOT NULL)),
    CONSTRAINT payouts_held CHECK ((status = 'held') = (hold_reason IS NOT NULL)),
    CONSTRAINT payouts_lease CHECK (status <> 'submitting' OR lease_until IS NOT NULL)
);
CREATE INDEX payouts_run_date ON payouts (run_date);
CREATE INDEX payouts_created ON payouts (created_at, id);
CREATE INDEX payouts_provider ON payouts (provider_id, created_at, id);
CREATE INDEX payouts_held ON payouts (hold_reason) WHERE status = 'held';

-- The statement lines of a payout, frozen with it: one per provider_payable entry it covers
-- (a session's completion or edit, a recoupment with its reason, a reversal...). An entry is
-- covered by at most one payout of its provider.
CREATE TABLE payout_lines (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payout_id           UUID NOT NULL REFERENCES payouts (id),
    provider_id         UUID NOT NULL REFERENCES providers (id),
    entry_id            BIGINT NOT NULL REFERENCES journal_entries (id),
    kind                TEXT NOT NULL,
    source_table        TEXT NOT NULL,
    source_id           UUID NOT NULL,
    reason              TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    amount_cents        BIGINT NOT NULL,  -- credit +: what the line adds to the payout
    occurred_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT payout_lines_entry UNIQUE (provider_id, entry_id)
);
CREATE INDEX payout_lines_payout ON payout_lines (payout_id, id);

-- Each reversal Stripe made of a payout's transfer, booked once (Dr stripe_balance, Cr
-- provider_payable: the provider is owed it again).
CREATE TABLE payout_reversals (
    stripe_reversal_id  TEXT PRIMARY KEY CHECK (length(stripe_reversal_id) BETWEEN 1 AND 255),
    payout_id           UUID NOT NULL REFERENCES payouts (id),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX payout_reversals_payout ON payout_reversals (payout_id);

-- One row per run date: the cron's and ops' runs of it (ops may run a date again, or one
-- provider on a manual schedule); the payouts themselves say what each run made.
CREATE TABLE payout_runs (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    run_date            DATE NOT NULL UNIQUE,
    runs                INTEGER NOT NULL DEFAULT 1 CHECK (runs >= 1),
    providers_due       INTEGER NOT NULL DEFAULT 0 CHECK (providers_due >= 0),
    below_minimum       INTEGER NOT NULL DEFAULT 0 CHECK (below_minimum >= 0),
    last_run_at         TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX payout_runs_created ON payout_runs (created_at, id);
