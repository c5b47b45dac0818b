-- True-ups become a charge or a refund (issue 17 item 5; DESIGN.md "Charging clients", "Stripe
-- calls, exactly once", "Money": Refund).
--
-- A refund goes to the client's original completion charge only, never beyond what that charge
-- has left unrefunded; its amount is frozen when the row is written (with its outbox row), the
-- job claims it (pending -> submitting, attempt n, a lease) and calls Stripe with nothing held
-- (Idempotency-Key refund-{id}-a{n}). When the completion charge never succeeded (a balance
-- due), no Stripe call is made: the row is written `applied` and reduces that balance due (the
-- charge's balance due is its amount less its applied rows).
CREATE TABLE client_refunds (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id           UUID NOT NULL REFERENCES clients (id),
    charge_id           UUID NOT NULL REFERENCES client_charges (id),
    true_up_id          UUID NOT NULL REFERENCES client_true_ups (id),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
    status              TEXT NOT NULL CHECK (status IN
                            ('pending', 'submitting', 'succeeded', 'failed', 'applied')),
    attempt             INTEGER NOT NULL DEFAULT 0 CHECK (attempt BETWEEN 0 AND 1000),
    lease_until         TIMESTAMPTZ,
    stripe_refund_id    TEXT UNIQUE CHECK (length(stripe_refund_id) BETWEEN 1 AND 255),
    failure_code        TEXT CHECK (length(failure_code) BETWEEN 1 AND 100),
    succeeded_at        TIMESTAMPTZ,
    failed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT client_refunds_once UNIQUE (true_up_id),
    CONSTRAINT client_refunds_succeeded CHECK (
        (status = 'succeeded') = (succeeded_at IS NOT NULL)
        AND (status <> 'succeeded' OR stripe_refund_id IS NOT NULL)),
    CONSTRAINT client_refunds_lease CHECK (status <> 'submitting' OR lease_until IS NOT NULL)
);
CREATE INDEX client_refunds_charge ON client_refunds (charge_id);
CREATE INDEX client_refunds_client ON client_refunds (client_id, created_at, id);
