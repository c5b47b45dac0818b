-- Claims (issue 15 item 3): one claim per session and payer, its service lines, its versions
-- (claim_submissions: frequency 1, later 7 and 8) and the history of its statuses; and the
-- platform's dated charge per CPT code, which every claim bills (DESIGN.md "Rates").

CREATE TABLE platform_charges (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    cpt_code        TEXT NOT NULL CHECK (cpt_code ~ '^[0-9]{4}[0-9A-Z]$'),
    effective_from  DATE NOT NULL,
    charge_cents    BIGINT NOT NULL CHECK (charge_cents BETWEEN 1 AND 100000000),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (cpt_code, effective_from)
);
-- The charges in force from 2020 (above any allowed amount payers publish for these codes);
-- a new charge is a new row with a later effective_from.
INSERT INTO platform_charges (cpt_code, effective_from, charge_cents) VALUES
    ('90791', DATE '2020-01-01', 40000),
    ('90832', DATE '2020-01-01', 20000),
    ('90834', DATE '2020-01-01', 28000),
    ('90837', DATE '2020-01-01', 38000),
    ('90846', DATE '2020-01-01', 30000),
    ('90847', DATE '2020-01-01', 32000),
    ('90785', DATE '2020-01-01', 6000);

-- Claim numbers: CLM01's stem, base 36 of this sequence (never a UUID: CLM01 holds 17
-- characters and payers echo it back in the 277CA's TRN02 and the 835's CLP01).
CREATE SEQUENCE claim_number_seq AS BIGINT;

CREATE TABLE claims (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    therapy_session_id      UUID NOT NULL REFERENCES therapy_sessions (id),
    payer_id                UUID NOT NULL REFERENCES payers (id),
    policy_id               UUID NOT NULL REFERENCES insurance_policies (id),
    provider_id             UUID NOT NULL REFERENCES providers (id),
    client_id               UUID NOT NULL REFERENCES clients (id),
    claim_number            TEXT NOT NULL UNIQUE CHECK (claim_number ~ '^[A-Z0-9]{1,15}$'),
    status                  TEXT NOT NULL DEFAULT 'ready' CONSTRAINT claims_status_check
        CHECK (status IN ('ready', 'submitted', 'acknowledged', 'accepted', 'rejected')),
    service_date            DATE NOT NULL,
    place_of_service        TEXT NOT NULL CHECK (place_of_service IN ('02', '10', '11')),
    diagnosis_codes         TEXT[] NOT NULL
        CHECK (cardinality(diagnosis_codes) BETWEEN 1 AND 12),
    prior_authorization_id  UUID REFERENCES prior_authorizations (id),
    total_charge_cents      BIGINT NOT NULL CHECK (total_charge_cents > 0),
    allowed_cents           BIGINT NOT NULL CHECK (allowed_cents >= 0),
    created_at              TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last line of idempotency: one claim per session and payer; corrections and voids
    -- are rows of claim_submissions.
    UNIQUE (therapy_session_id, payer_id)
);
CREATE INDEX claims_status ON claims (status, created_at);
CREATE INDEX claims_provider ON claims (provider_id, created_at, id);
CREATE INDEX claims_created ON claims (created_at, id);

CREATE TABLE claim_lines (
    claim_id             UUID NOT NULL REFERENCES claims (id),
    line_number          SMALLINT NOT NULL CHECK (line_number BETWEEN 1 AND 50),
    cpt_code             TEXT NOT NULL CHECK (cpt_code ~ '^[0-9]{4}[0-9A-Z]$'),
    modifiers            TEXT[] NOT NULL DEFAULT '{}' CHECK (cardinality(modifiers) <= 4),
    charge_cents         BIGINT NOT NULL CHECK (charge_cents > 0),
    allowed_cents        BIGINT NOT NULL CHECK (allowed_cents >= 0),
    units                INTEGER NOT NULL DEFAULT 1 CHECK (units BETWEEN 1 AND 99),
    diagnosis_pointers   SMALLINT[] NOT NULL
        CHECK (cardinality(diagnosis_pointers) BETWEEN 1 AND 4),
    -- REF*6R: the line item control number the 835 echoes back (SVC's REF*6R).
    line_control_number  TEXT NOT NULL UNIQUE
        CHECK (line_control_number ~ '^[A-Z0-9]{1,30}$'),
    PRIMARY KEY (claim_id, line_number)
);

-- A claim's versions: the original (frequency 1), a corrected resend (1 again), a
-- replacement (7) or a void (8). Each has its own CLM01: the claim number and a version
-- suffix, unique per version.
CREATE TABLE claim_submissions (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    claim_id    UUID NOT NULL REFERENCES claims (id),
    version     INTEGER NOT NULL CHECK (version BETWEEN 1 AND 1295),
    frequency   TEXT NOT NULL CHECK (frequency IN ('1', '7', '8')),
    clm01       TEXT NOT NULL UNIQUE CHECK (clm01 ~ '^[A-Z0-9]{1,17}$'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (claim_id, version)
);

CREATE TABLE claim_status_history (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claim_id       UUID NOT NULL REFERENCES claims (id),
    from_status    TEXT,
    to_status      TEXT NOT NULL,
    reason         TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    actor_user_id  UUID REFERENCES users (id),
    at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX claim_status_history_claim ON claim_status_history (claim_id, id);

-- payer_receivable is tracked per claim (0014_ledger.sql left this key to this migration).
ALTER TABLE journal_lines
    ADD CONSTRAINT journal_lines_claim_fk FOREIGN KEY (claim_id) REFERENCES claims (id);
