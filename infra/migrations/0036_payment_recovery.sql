-- Failed-payment recovery (issue 17 item 4; DESIGN.md "Charging clients", "Balance due",
-- "Stripe calls, exactly once", "Money": retries exhausted).
--
-- One recovery per charge that did not go through (failed: Stripe's 402; balance_due: no card
-- on file), written by the follow-up job from the charge's outbox row: the decline's class
-- (soft: retried on the same PaymentIntent on the schedule; hard: never retried; authentication:
-- the client pays on-session; no_card), the next retry, and the write-off: Dr bad_debt,
-- Cr client_receivable once, when the last retry failed or `bad_debt_after_days` after the
-- failure; reinstated (the reverse entry) if the client pays afterwards.
CREATE TABLE charge_recoveries (
    charge_id           UUID PRIMARY KEY REFERENCES client_charges (id),
    client_id           UUID NOT NULL REFERENCES clients (id),
    decline_class       TEXT NOT NULL CHECK (decline_class IN
                            ('soft', 'hard', 'authentication', 'no_card')),
    status              TEXT NOT NULL CHECK (status IN
                            ('retrying', 'awaiting_client', 'paid', 'written_off')),
    -- Each failure of the charge handled (a no-card balance due charged later may fail too):
    -- the notice of failure n is sent once.
    failures            INTEGER NOT NULL DEFAULT 1 CHECK (failures BETWEEN 1 AND 1000),
    first_failed_at     TIMESTAMPTZ NOT NULL,
    written_off_cents   BIGINT CHECK (written_off_cents > 0),
    written_off_at      TIMESTAMPTZ,
    paid_at             TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT charge_recoveries_written_off CHECK (
        (written_off_at IS NULL) = (written_off_cents IS NULL))
);
CREATE INDEX charge_recoveries_client ON charge_recoveries (client_id, created_at);

-- Every off-session attempt on a card after a decline (card networks block more than 15 in 30
-- days on one card): retry 0 is the declined first charge, k the k-th retry on the same
-- PaymentIntent (Idempotency-Key retry-{charge}-r{k}, then -a{n} after Stripe answered an
-- error). A retry is claimed (submitting, a lease) before the call; `prior_charge` is the
-- intent's latest charge before it, so a run that lost the answer can tell whether its confirm
-- reached Stripe (the intent's latest charge changed) before any new call.
CREATE TABLE charge_attempts (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    charge_id           UUID NOT NULL REFERENCES client_charges (id),
    client_id           UUID NOT NULL REFERENCES clients (id),
    payment_method_id   TEXT NOT NULL CHECK (length(payment_method_id) BETWEEN 1 AND 255),
    retry               INTEGER NOT NULL CHECK (retry BETWEEN 0 AND 100),
    call                INTEGER NOT NULL DEFAULT 1 CHECK (call BETWEEN 1 AND 1000),
    status              TEXT NOT NULL CHECK (status IN
                            ('submitting', 'succeeded', 'declined', 'error')),
    lease_until         TIMESTAMPTZ,
    prior_charge        TEXT CHECK (length(prior_charge) BETWEEN 1 AND 255),
    failure_code        TEXT CHECK (length(failure_code) BETWEEN 1 AND 100),
    decline_code        TEXT CHECK (length(decline_code) BETWEEN 1 AND 100),
    attempted_at        TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT charge_attempts_once UNIQUE (charge_id, retry),
    CONSTRAINT charge_attempts_lease CHECK (status <> 'submitting' OR lease_until IS NOT NULL)
);
CREATE INDEX charge_attempts_card ON charge_attempts (client_id, payment_method_id, attempted_at);
