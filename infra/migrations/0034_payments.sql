-- Client payments through Stripe, the core (issue 17 items 2, 3 and 6; DESIGN.md "Charging
-- clients", "Balance due", "Stripe calls, exactly once", "Stripe webhooks", "Money").
--
-- One Stripe customer per client, created once: the row is written first (attempt n, the
-- Idempotency-Key customer-{client}-a{n}) and the customer's id stored as soon as Stripe answers.
CREATE TABLE stripe_customers (
    client_id           UUID PRIMARY KEY REFERENCES clients (id),
    stripe_customer_id  TEXT UNIQUE CHECK (length(stripe_customer_id) BETWEEN 1 AND 255),
    attempt             INTEGER NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 1000),
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

-- Each card setup the client began: the SetupIntent and the consent text's version and time.
CREATE TABLE payment_setups (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The order setups began in: a later setup's card is the newer (Stripe's `created` has
    -- one-second resolution, and two setups may begin within one).
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    client_id           UUID NOT NULL REFERENCES clients (id),
    setup_intent_id     TEXT UNIQUE CHECK (length(setup_intent_id) BETWEEN 1 AND 255),
    consent_version     TEXT NOT NULL CHECK (length(consent_version) BETWEEN 1 AND 50),
    consented_at        TIMESTAMPTZ NOT NULL,
    succeeded_at        TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX payment_setups_client ON payment_setups (client_id, created_at);

-- The cards a confirmed SetupIntent saved (setup_intent.succeeded, re-read from Stripe). The
-- default is the newest card not removed (by the order its setup began in, then Stripe's
-- time), whatever order the events came in.
CREATE TABLE payment_methods (
    id                  TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    client_id           UUID NOT NULL REFERENCES clients (id),
    setup_intent_id     TEXT NOT NULL UNIQUE,
    brand               TEXT NOT NULL CHECK (length(brand) BETWEEN 1 AND 50),
    last4               TEXT NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month           INTEGER NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year            INTEGER NOT NULL CHECK (exp_year BETWEEN 2000 AND 2200),
    is_default          BOOLEAN NOT NULL DEFAULT false,
    saved_at            TIMESTAMPTZ NOT NULL,  -- the SetupIntent's creation at Stripe
    setup_seq           BIGINT NOT NULL DEFAULT 0,  -- payment_setups.seq (0: not begun by Hearth)
    removed_at          TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT payment_methods_default CHECK (NOT (is_default AND removed_at IS NOT NULL))
);
CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (client_id) WHERE is_default;
CREATE INDEX payment_methods_client ON payment_methods (client_id, setup_seq, saved_at);

-- What the client is charged, one row per thing charged (UNIQUE(kind, source_id)): the estimate
-- at completion, a true-up, a balance. The amount is frozen at creation (the parameters under
-- an Idempotency-Key never change). pending -> submitting (attempt n, a lease; the call to
-- Stripe is made with nothing held) -> succeeded | failed (Stripe's 402: a balance due,
-- decline_code kept) ; pending -> balance_due when no card is on file or the amount is under
-- Stripe's 50-cent minimum. Refunds (the next helper) go against the original charge only.
CREATE TABLE client_charges (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id           UUID NOT NULL REFERENCES clients (id),
    kind                TEXT NOT NULL CHECK (kind IN ('completion', 'true_up', 'balance')),
    source_table        TEXT NOT NULL CHECK (source_table ~ '^[a-z][a-z0-9_]{0,62}$'),
    source_id           UUID NOT NULL,
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
    status              TEXT NOT NULL CHECK (status IN
                            ('pending', 'submitting', 'succeeded', 'failed', 'balance_due')),
    attempt             INTEGER NOT NULL DEFAULT 0 CHECK (attempt BETWEEN 0 AND 1000),
    lease_until         TIMESTAMPTZ,
    payment_method_id   TEXT,
    payment_intent_id   TEXT UNIQUE CHECK (length(payment_intent_id) BETWEEN 1 AND 255),
    stripe_charge_id    TEXT,
    fee_cents           BIGINT CHECK (fee_cents >= 0),
    failure_code        TEXT CHECK (length(failure_code) BETWEEN 1 AND 100),
    decline_code        TEXT CHECK (length(decline_code) BETWEEN 1 AND 100),
    succeeded_at        TIMESTAMPTZ,
    failed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT client_charges_once UNIQUE (kind, source_id),
    CONSTRAINT client_charges_succeeded CHECK (
        (status = 'succeeded') = (succeeded_at IS NOT NULL)
        AND (status <> 'succeeded' OR (payment_intent_id IS NOT NULL AND fee_cents IS NOT NULL))),
    CONSTRAINT client_charges_lease CHECK (status <> 'submitting' OR lease_until IS NOT NULL)
);
CREATE INDEX client_charges_client ON client_charges (client_id, created_at, id);
CREATE INDEX client_charges_status ON client_charges (status, created_at, id);

-- Each Stripe event once (a delivery repeats for days, each signed anew); the job re-reads
-- its object from Stripe, so only the id, type and object's id are kept.
CREATE TABLE stripe_events (
    id                  TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    type                TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
    object_id           TEXT CHECK (length(object_id) BETWEEN 1 AND 255),
    received_at         TIMESTAMPTZ NOT NULL,
    handled_at          TIMESTAMPTZ,
    outcome             TEXT CHECK (length(outcome) BETWEEN 1 AND 200)
);
