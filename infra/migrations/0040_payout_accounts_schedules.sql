-- Provider payouts, the foundations (issue 18 items 1 and 2; DESIGN.md "Payouts", "Stripe
-- calls, exactly once", lifecycle steps 1 and 8): each provider's Stripe Connect account, the
-- payout schedule ops set (history kept) and the holds ops place and release.
--
-- One Connect account per provider, created once: the row is written first (attempt n, the
-- Idempotency-Key account-{provider}-a{n}), `called_at` says a call may have made an account
-- (the next one looks it up by metadata first), and the account's id is stored as soon as
-- Stripe answers. The status columns are what Stripe said last (account.updated re-reads it).
CREATE TABLE payout_accounts (
    provider_id         UUID PRIMARY KEY REFERENCES providers (id),
    stripe_account_id   TEXT UNIQUE CHECK (length(stripe_account_id) BETWEEN 1 AND 255),
    attempt             INTEGER NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 1000),
    called_at           TIMESTAMPTZ,
    charges_enabled     BOOLEAN NOT NULL DEFAULT false,
    payouts_enabled     BOOLEAN NOT NULL DEFAULT false,
    details_submitted   BOOLEAN NOT NULL DEFAULT false,
    requirements_due    TEXT[] NOT NULL DEFAULT '{}',
    disabled_reason     TEXT CHECK (length(disabled_reason) BETWEEN 1 AND 200),
    synced_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

-- Every schedule ops set, never updated: the newest row of a provider is in force, the older
-- ones are its history. No row: weekly on Monday (DESIGN.md's default). Weekly pays on
-- `anchor_weekday` (ISO: 1 Monday .. 7 Sunday); biweekly every 14 days from `anchor_date`
-- (its parity: a payout falls on it); manual only when ops run it.
CREATE TABLE payout_schedules (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    provider_id         UUID NOT NULL REFERENCES providers (id),
    kind                TEXT NOT NULL CHECK (kind IN ('weekly', 'biweekly', 'manual')),
    anchor_weekday      SMALLINT CHECK (anchor_weekday BETWEEN 1 AND 7),
    anchor_date         DATE,
    reason              TEXT CHECK (length(reason) BETWEEN 1 AND 500),
    changed_by          UUID REFERENCES users (id),
    created_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT payout_schedules_anchor CHECK (
        (kind = 'weekly' AND anchor_weekday IS NOT NULL AND anchor_date IS NULL)
        OR (kind = 'biweekly' AND anchor_date IS NOT NULL AND anchor_weekday IS NULL)
        OR (kind = 'manual' AND anchor_weekday IS NULL AND anchor_date IS NULL))
);
CREATE INDEX payout_schedules_provider ON payout_schedules (provider_id, seq);

-- Holds ops place on a provider's payouts, with a reason; released, never deleted. While one is
-- open the payout run pays the provider nothing (what they are owed waits in the ledger).
CREATE TABLE payout_holds (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id         UUID NOT NULL REFERENCES providers (id),
    reason              TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    placed_by           UUID REFERENCES users (id),
    released_at         TIMESTAMPTZ,
    released_by         UUID REFERENCES users (id),
    release_reason      TEXT CHECK (length(release_reason) BETWEEN 1 AND 500),
    created_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT payout_holds_released CHECK (
        released_at IS NOT NULL OR (released_by IS NULL AND release_reason IS NULL))
);
CREATE INDEX payout_holds_provider ON payout_holds (provider_id, created_at, id);
CREATE INDEX payout_holds_open ON payout_holds (provider_id) WHERE released_at IS NULL;
