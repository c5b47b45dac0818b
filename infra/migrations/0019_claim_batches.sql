-- Claim submission (issue 15 item 5): each 837P file sent to the clearinghouse is a batch
-- whose PayloadID, ISA13 and GS06 are fixed when it is written, so a re-sent batch is the same
-- request; every file and envelope sent or received is kept; each claim version goes in at
-- most one batch; acknowledgements leave their codes, the payer's claim number and the date
-- that proves timely filing; what no rule decides is flagged for ops.

CREATE TABLE claim_batches (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    payer_id             UUID NOT NULL REFERENCES payers (id),
    payload_id           UUID NOT NULL UNIQUE,
    interchange_control  BIGINT NOT NULL UNIQUE CHECK (interchange_control BETWEEN 1 AND 999999999),
    group_control        BIGINT NOT NULL CHECK (group_control BETWEEN 1 AND 999999999),
    transaction_control  TEXT NOT NULL CHECK (transaction_control ~ '^[0-9]{4,9}$'),
    -- pending: written and committed, not yet answered; sent: the receipt came back;
    -- refused: the envelope was refused (CoreEnvelopeError), the claims back to ready.
    status               TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'refused')),
    claim_count          INTEGER NOT NULL CHECK (claim_count BETWEEN 1 AND 500),
    created_at           TIMESTAMPTZ NOT NULL,
    sent_at              TIMESTAMPTZ,
    -- When each acknowledgement was applied; a batch is polled until both are.
    ack_applied_at       TIMESTAMPTZ,
    results_applied_at   TIMESTAMPTZ,
    last_error           TEXT CHECK (length(last_error) <= 500)
);
CREATE INDEX claim_batches_open ON claim_batches (status, created_at)
    WHERE results_applied_at IS NULL;

-- Every file and envelope sent and received for a batch (the 837, receipts, 999/TA1, 277CA,
-- envelope errors), kept as they were.
CREATE TABLE claim_batch_files (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id      UUID NOT NULL REFERENCES claim_batches (id),
    direction     TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
    payload_type  TEXT NOT NULL CHECK (length(payload_type) BETWEEN 1 AND 100),
    payload_id    UUID NOT NULL,
    error_code    TEXT CHECK (length(error_code) <= 100),
    error_message TEXT CHECK (length(error_message) <= 1000),
    body          TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX claim_batch_files_batch ON claim_batch_files (batch_id, id);

-- A claim version goes in one batch at most; its acknowledgement codes (999 IK3/IK4/CTX,
-- every 277CA STC), the payer's claim number (REF*1K) and the 277CA date proving timely filing.
ALTER TABLE claim_submissions
    ADD COLUMN batch_id            UUID REFERENCES claim_batches (id),
    ADD COLUMN ack_codes           TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN payer_claim_number  TEXT CHECK (payer_claim_number ~ '^[A-Za-z0-9-]{1,50}$'),
    ADD COLUMN accepted_on         DATE;
CREATE INDEX claim_submissions_batch ON claim_submissions (batch_id) WHERE batch_id IS NOT NULL;

-- An acknowledgement no rule decides (an unknown STC category, a claim the 277CA does not
-- name) goes to the ops queue with its reason, never guessed.
ALTER TABLE claims
    ADD COLUMN needs_ops   BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN ops_reason  TEXT CHECK (length(ops_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT claims_ops_reason CHECK (needs_ops = (ops_reason IS NOT NULL));
CREATE INDEX claims_needs_ops ON claims (updated_at, id) WHERE needs_ops;
CREATE INDEX claims_ready ON claims (payer_id, created_at) WHERE status = 'ready';
