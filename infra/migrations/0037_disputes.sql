-- Disputes, failed refunds and captures that do not match: the ops queues for payment problems
-- (issue 17 item 6; DESIGN.md "Stripe webhooks", "Money": Refund, Dispute).
--
-- One row per Stripe dispute, linked to the client_charges row it disputes. The webhook job
-- re-reads the dispute (and its balance transactions) from Stripe and books each balance
-- transaction once (dispute_opened for money taken, dispute_won for money given back; the
-- entries' idempotency keys name the transaction), so events in any order and any number of
-- times book each entry once. The figures here are what Stripe said last (never lowered by a
-- stale read); a closed dispute never reopens. A lost dispute leaves its amount on the
-- client's receivable: ops decide to collect it (a balance_due charge row) or write it off
-- (Dr bad_debt, Cr client_receivable).
CREATE TABLE client_disputes (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    stripe_dispute_id       TEXT NOT NULL UNIQUE CHECK (length(stripe_dispute_id) BETWEEN 1 AND 255),
    charge_id               UUID NOT NULL REFERENCES client_charges (id),
    client_id               UUID NOT NULL REFERENCES clients (id),
    status                  TEXT NOT NULL CHECK (status IN
                                ('warning_needs_response', 'warning_under_review',
                                 'warning_closed', 'needs_response', 'under_review', 'won',
                                 'lost', 'prevented')),
    reason                  TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 100),
    amount_cents            BIGINT NOT NULL CHECK (amount_cents > 0),
    evidence_due_by         TIMESTAMPTZ,
    funds_withdrawn_cents   BIGINT NOT NULL DEFAULT 0 CHECK (funds_withdrawn_cents >= 0),
    fee_cents               BIGINT NOT NULL DEFAULT 0 CHECK (fee_cents >= 0),
    funds_reinstated_cents  BIGINT NOT NULL DEFAULT 0 CHECK (funds_reinstated_cents >= 0),
    fee_returned_cents      BIGINT NOT NULL DEFAULT 0 CHECK (fee_returned_cents >= 0),
    outcome                 TEXT CHECK (outcome IN ('won', 'lost', 'warning_closed', 'prevented')),
    closed_at               TIMESTAMPTZ,
    -- A lost dispute's amount: collect (balance_charge_id) or write_off (a bad_debt entry).
    resolution              TEXT CHECK (resolution IN ('collect', 'write_off')),
    resolution_note         TEXT CHECK (length(resolution_note) BETWEEN 1 AND 2000),
    resolved_by             UUID REFERENCES users (id),
    resolved_at             TIMESTAMPTZ,
    balance_charge_id       UUID REFERENCES client_charges (id),
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    CONSTRAINT client_disputes_closed CHECK ((outcome IS NULL) = (closed_at IS NULL)),
    CONSTRAINT client_disputes_resolved CHECK (
        (resolution IS NULL) = (resolved_at IS NULL) AND (resolution IS NULL OR outcome = 'lost'))
);
CREATE INDEX client_disputes_status ON client_disputes (status, created_at, id);
CREATE INDEX client_disputes_created ON client_disputes (created_at, id);
CREATE INDEX client_disputes_charge ON client_disputes (charge_id);

-- A refund that did not reach the client (Stripe refused it, it failed, or it failed after it
-- had succeeded and was reversed): the client is owed its amount (a credit on their
-- receivable) until ops resolve it. Once per refund.
CREATE TABLE failed_refunds (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    refund_id           UUID NOT NULL UNIQUE REFERENCES client_refunds (id),
    client_id           UUID NOT NULL REFERENCES clients (id),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
    failure_reason      TEXT NOT NULL CHECK (length(failure_reason) BETWEEN 1 AND 100),
    -- refunded_elsewhere: ops paid it by check or bank transfer (Dr client_receivable, Cr
    -- bank); kept_as_credit: it settles the client's next balance (nothing booked).
    resolution          TEXT CHECK (resolution IN ('refunded_elsewhere', 'kept_as_credit')),
    resolution_note     TEXT CHECK (length(resolution_note) BETWEEN 1 AND 2000),
    resolved_by         UUID REFERENCES users (id),
    resolved_at         TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT failed_refunds_resolved CHECK ((resolution IS NULL) = (resolved_at IS NULL))
);
CREATE INDEX failed_refunds_open ON failed_refunds (created_at, id) WHERE resolution IS NULL;

-- A capture the charge job or a webhook found and would not book: a second intent for one
-- charge (a double charge), or an amount other than the charge's. Stripe's figures are kept;
-- ops book it as the charge's capture (card_captured with Stripe's figures, when the charge has
-- none) or dismiss it with a note (handled at Stripe: refunded, say). Never booked by itself.
CREATE TABLE payment_exceptions (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    charge_id           UUID NOT NULL REFERENCES client_charges (id),
    client_id           UUID NOT NULL REFERENCES clients (id),
    kind                TEXT NOT NULL CHECK (kind IN ('second_intent', 'amount_differs')),
    payment_intent_id   TEXT NOT NULL CHECK (length(payment_intent_id) BETWEEN 1 AND 255),
    stripe_charge_id    TEXT NOT NULL CHECK (length(stripe_charge_id) BETWEEN 1 AND 255),
    expected_cents      BIGINT NOT NULL CHECK (expected_cents > 0),
    captured_cents      BIGINT NOT NULL CHECK (captured_cents >= 0),
    fee_cents           BIGINT NOT NULL CHECK (fee_cents >= 0),
    net_cents           BIGINT NOT NULL,
    resolution          TEXT CHECK (resolution IN ('book', 'dismiss')),
    resolution_note     TEXT CHECK (length(resolution_note) BETWEEN 1 AND 2000),
    resolved_by         UUID REFERENCES users (id),
    resolved_at         TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT payment_exceptions_once UNIQUE (charge_id, payment_intent_id),
    CONSTRAINT payment_exceptions_resolved CHECK ((resolution IS NULL) = (resolved_at IS NULL))
);
CREATE INDEX payment_exceptions_open ON payment_exceptions (created_at, id)
    WHERE resolution IS NULL;
