-- The client true-up and the estimate accuracy (issue 16 item 6; DESIGN.md "Denial",
-- "Charging clients", "Balance due", "Money").
--
-- Each adjudicated remitted claim keeps the client's estimated share the posting found booked
-- (what completion and corrections put on the client's receivable for the claim) and its error:
-- the 835's patient responsibility (PR at both levels) less that estimate. Reversals keep none:
-- they are compared with their original, not with an estimate.
ALTER TABLE remitted_claims
    ADD COLUMN estimated_share_cents BIGINT,
    ADD COLUMN estimate_error_cents  BIGINT
        GENERATED ALWAYS AS (patient_adjustments_cents - estimated_share_cents) STORED;
-- The accuracy report reads standing adjudications by their 835's payment date.
CREATE INDEX remittance_payments_date ON remittance_payments (payment_date, id);

-- One row per remitted claim that changes what the client owes.
--   adjudication: delta = the 835's share - the estimate. PR-1/2/3 only -> ready at once; any
--     other PR reason (27, 96, 119, 204 ...) -> ops_review until ops confirm (ready) or refuse:
--     the platform carries the other-PR part (carried; client_receivable -> claim_losses), and
--     the rest is ready, or closed when nothing is left.
--   reversal: delta = minus what its original's true-up made the client owe (less what the
--     platform carried); it waits (awaiting_correction) and the correction's row nets it
--     (netted), so only the net is charged or refunded. An original still in ops_review when
--     reversed is closed: the reversal's entry took its movement back, the client saw nothing.
--   ready -> balance_due (the client owes more) | credit (the client is owed a refund), by the
--     settle_true_up job; the payments issue adds charged | refunded after the card call.
-- amount = delta - carried + netted: what is settled with the client.
CREATE TABLE client_true_ups (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    claim_id            UUID NOT NULL REFERENCES claims (id),
    client_id           UUID NOT NULL REFERENCES clients (id),
    remitted_claim_id   UUID NOT NULL UNIQUE REFERENCES remitted_claims (id),
    kind                TEXT NOT NULL CHECK (kind IN ('adjudication', 'reversal')),
    reverses_id         UUID REFERENCES client_true_ups (id),  -- a reversal's original
    estimate_cents      BIGINT NOT NULL,  -- the client's estimated share (a reversal: its original's)
    share_cents         BIGINT NOT NULL,  -- Σ PR of this CLP (a reversal's is negative)
    delta_cents         BIGINT NOT NULL,  -- the change this CLP makes to what the client owes
    review_cents        BIGINT NOT NULL DEFAULT 0,  -- Σ PR other than 1/2/3: ops decide it
    carried_cents       BIGINT NOT NULL DEFAULT 0,  -- the part ops refused: the platform's
    netted_cents        BIGINT NOT NULL DEFAULT 0,  -- reversals folded into this row
    amount_cents        BIGINT GENERATED ALWAYS AS (delta_cents - carried_cents + netted_cents) STORED,
    status              TEXT NOT NULL CHECK (status IN ('ops_review', 'awaiting_correction',
                            'ready', 'balance_due', 'credit', 'charged', 'refunded', 'closed')),
    reason              TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    netted_into_id      UUID REFERENCES client_true_ups (id),
    decision            TEXT CHECK (decision IN ('confirmed', 'refused')),
    decision_note       TEXT CHECK (length(decision_note) BETWEEN 1 AND 2000),
    decided_by          UUID REFERENCES users (id),
    decided_at          TIMESTAMPTZ,
    ready_at            TIMESTAMPTZ,
    settled_at          TIMESTAMPTZ,
    closed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT client_true_ups_kind CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL)),
    CONSTRAINT client_true_ups_carried CHECK (carried_cents IN (0, review_cents)),
    CONSTRAINT client_true_ups_decided CHECK (
        (decision IS NULL) = (decided_at IS NULL) AND (decision IS NULL) = (decided_by IS NULL)
        AND (coalesce(decision, '') = 'refused' OR carried_cents = 0)),
    CONSTRAINT client_true_ups_review CHECK (status <> 'ops_review' OR review_cents <> 0),
    CONSTRAINT client_true_ups_waiting CHECK (status <> 'awaiting_correction' OR kind = 'reversal'),
    CONSTRAINT client_true_ups_netted CHECK (netted_into_id IS NULL OR status = 'closed'),
    CONSTRAINT client_true_ups_sign CHECK (
        (status NOT IN ('ready', 'balance_due', 'credit', 'charged', 'refunded') OR amount_cents <> 0)
        AND (status NOT IN ('balance_due', 'charged') OR amount_cents > 0)
        AND (status NOT IN ('credit', 'refunded') OR amount_cents < 0))
);
CREATE INDEX client_true_ups_status ON client_true_ups (status, created_at, id);
CREATE INDEX client_true_ups_queue ON client_true_ups (created_at, id);
CREATE INDEX client_true_ups_claim ON client_true_ups (claim_id, created_at);
CREATE INDEX client_true_ups_client ON client_true_ups (client_id, created_at);

-- The platform carrying a true-up ops refused (Dr claim_losses, Cr client_receivable), and
-- the same taken back when the adjudication it followed is reversed; every other kind kept.
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind CHECK (kind IN (
    'completion', 'completion_edited', 'card_captured', 'claim_remitted',
    'provider_adjustment', 'unmatched_remittance', 'eft_received',
    'refund', 'refund_failed', 'dispute_opened', 'dispute_won',
    'bad_debt', 'recoupment', 'payout_frozen', 'payout_transferred',
    'transfer_reversed', 'top_up', 'claim_corrected', 'claim_voided', 'true_up_carried'));
