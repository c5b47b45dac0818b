-- 835 auto-posting (issue 16 items 2 and 3; DESIGN.md "Denial", "835 balancing", "Reversal",
-- "PLB", "Money"). A file is stored once by its SHA-256; each payment (ST..SE) once, ever, by
-- its trace (TRN02 with the payer's TRN03), whichever file brings it; each CLP as a remitted
-- claim matched to our claim by CLP01 (NULL: unmatched, on the ops queue), with its
-- adjustments (claim or line level) and its lines matched by REF*6R.

CREATE TABLE remittance_files (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    sha256             TEXT NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    source             TEXT NOT NULL CHECK (source IN ('upload', 'clearinghouse')),
    received_at        TIMESTAMPTZ NOT NULL,
    received_by        UUID REFERENCES users (id),  -- NULL: the clearinghouse worker
    byte_size          BIGINT NOT NULL CHECK (byte_size > 0),
    transactions       INTEGER NOT NULL CHECK (transactions >= 0),
    claims             INTEGER NOT NULL CHECK (claims >= 0),
    payment_cents      BIGINT NOT NULL  -- Σ signed BPR02
);
CREATE INDEX remittance_files_received ON remittance_files (received_at, id);

CREATE TABLE remittance_payments (
    id                         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    file_id                    UUID NOT NULL REFERENCES remittance_files (id),
    position                   INTEGER NOT NULL CHECK (position > 0),  -- the ST segment's
    handling                   TEXT NOT NULL CHECK (length(handling) BETWEEN 1 AND 2),  -- BPR01
    amount_cents               BIGINT NOT NULL,  -- BPR02, signed by BPR03
    method                     TEXT NOT NULL CHECK (length(method) BETWEEN 1 AND 3),  -- BPR04
    payment_date               DATE NOT NULL,  -- BPR16
    trace_number               TEXT NOT NULL CHECK (length(trace_number) BETWEEN 1 AND 50),
    trace_originator           TEXT NOT NULL CHECK (length(trace_originator) BETWEEN 1 AND 50),
    payer_name                 TEXT NOT NULL CHECK (length(payer_name) BETWEEN 1 AND 60),
    payer_id                   UUID REFERENCES payers (id),  -- matched by 1000A REF*2U / N104
    payee_npi                  TEXT CHECK (length(payee_npi) BETWEEN 1 AND 80),
    claims                     INTEGER NOT NULL CHECK (claims >= 0),
    paid_cents                 BIGINT NOT NULL,  -- Σ CLP04
    provider_adjustment_cents  BIGINT NOT NULL,  -- Σ PLB
    needs_ops                  BOOLEAN NOT NULL DEFAULT false,
    ops_reason                 TEXT CHECK (length(ops_reason) BETWEEN 1 AND 500),
    posted_at                  TIMESTAMPTZ NOT NULL,
    -- A payment is posted once, ever: a repeated trace changes nothing.
    UNIQUE (trace_number, trace_originator)
);
CREATE INDEX remittance_payments_file ON remittance_payments (file_id, position);

CREATE TABLE remitted_claims (
    id                             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_id                     UUID NOT NULL REFERENCES remittance_payments (id),
    ordinal                        INTEGER NOT NULL CHECK (ordinal > 0),  -- nth CLP of its payment
    position                       INTEGER NOT NULL CHECK (position > 0),  -- the CLP segment's
    patient_control_number         TEXT NOT NULL CHECK (length(patient_control_number) BETWEEN 1 AND 38),
    status_code                    TEXT NOT NULL CHECK (length(status_code) BETWEEN 1 AND 2),
    charge_cents                   BIGINT NOT NULL,  -- CLP03
    paid_cents                     BIGINT NOT NULL,  -- CLP04
    patient_responsibility_cents   BIGINT,  -- CLP05 as written
    patient_adjustments_cents      BIGINT NOT NULL,  -- Σ PR at both levels: the client's share
    payer_claim_number             TEXT NOT NULL CHECK (length(payer_claim_number) BETWEEN 1 AND 50),
    claim_id                       UUID REFERENCES claims (id),  -- NULL: unmatched
    submission_id                  UUID REFERENCES claim_submissions (id),
    outcome                        TEXT NOT NULL CHECK (outcome IN (
        'paid', 'partially_paid', 'denied', 'reversed', 'duplicate', 'unmatched', 'ops')),
    reversal_of                    UUID REFERENCES remitted_claims (id),
    reversed_by                    UUID REFERENCES remitted_claims (id),
    contractual_cents              BIGINT NOT NULL DEFAULT 0,
    loss_cents                     BIGINT NOT NULL DEFAULT 0,
    true_up_cents                  BIGINT NOT NULL DEFAULT 0,  -- PR less the estimate
    remark_codes                   TEXT[] NOT NULL DEFAULT '{}',  -- MOA
    needs_ops                      BOOLEAN NOT NULL DEFAULT false,
    ops_reason                     TEXT CHECK (length(ops_reason) BETWEEN 1 AND 500),
    CONSTRAINT remitted_claims_matched CHECK ((outcome = 'unmatched') = (claim_id IS NULL)),
    CONSTRAINT remitted_claims_ops CHECK (NOT needs_ops OR ops_reason IS NOT NULL),
    UNIQUE (payment_id, ordinal)
);
CREATE INDEX remitted_claims_claim ON remitted_claims (claim_id, id);
CREATE INDEX remitted_claims_payer_number ON remitted_claims (payer_claim_number);
CREATE INDEX remitted_claims_needs_ops ON remitted_claims (id) WHERE needs_ops;

CREATE TABLE remitted_lines (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    remitted_claim_id    UUID NOT NULL REFERENCES remitted_claims (id),
    ordinal              SMALLINT NOT NULL CHECK (ordinal > 0),
    position             INTEGER NOT NULL CHECK (position > 0),  -- the SVC segment's
    procedure_code       TEXT NOT NULL CHECK (length(procedure_code) BETWEEN 1 AND 48),
    charge_cents         BIGINT NOT NULL,  -- SVC02
    paid_cents           BIGINT NOT NULL,  -- SVC03
    line_control_number  TEXT CHECK (length(line_control_number) BETWEEN 1 AND 50),  -- REF*6R
    claim_id             UUID,  -- the matched claim_line (claim_id, line_number)
    line_number          SMALLINT,
    remark_codes         TEXT[] NOT NULL DEFAULT '{}',  -- LQ*HE
    FOREIGN KEY (claim_id, line_number) REFERENCES claim_lines (claim_id, line_number),
    UNIQUE (remitted_claim_id, ordinal)
);

CREATE TABLE remittance_adjustments (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    remitted_claim_id  UUID NOT NULL REFERENCES remitted_claims (id),
    remitted_line_id   UUID REFERENCES remitted_lines (id),  -- NULL: claim level
    carc_group         TEXT NOT NULL CHECK (length(carc_group) BETWEEN 1 AND 2),
    carc_code          TEXT NOT NULL CHECK (length(carc_code) BETWEEN 1 AND 5),
    amount_cents       BIGINT NOT NULL,  -- signed as the file wrote it
    quantity           NUMERIC,
    remark_codes       TEXT[] NOT NULL DEFAULT '{}'  -- the RARCs of its level (MOA or LQ*HE)
);
CREATE INDEX remittance_adjustments_claim ON remittance_adjustments (remitted_claim_id, id);

CREATE TABLE remittance_provider_adjustments (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id     UUID NOT NULL REFERENCES remittance_payments (id),
    ordinal        SMALLINT NOT NULL CHECK (ordinal > 0),
    position       INTEGER NOT NULL CHECK (position > 0),  -- the PLB segment's
    reason         TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 2),
    reference      TEXT CHECK (length(reference) BETWEEN 1 AND 50),
    amount_cents   BIGINT NOT NULL,  -- signed: positive lowers the payment
    claim_id       UUID REFERENCES claims (id),  -- the claim PLB03-2 names, when ours
    account        TEXT NOT NULL CHECK (account IN (
        'interest_income', 'payer_receivable', 'unapplied_cash')),
    needs_ops      BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (payment_id, ordinal)
);

-- What an 835 makes of a claim (DESIGN.md "Denial", "Reversal"); every existing value kept.
ALTER TABLE claims DROP CONSTRAINT claims_status_check;
ALTER TABLE claims ADD CONSTRAINT claims_status_check
    CHECK (status IN ('ready', 'submitted', 'acknowledged', 'accepted', 'rejected', 'voided',
                      'paid', 'partially_paid', 'denied', 'reversed'));
