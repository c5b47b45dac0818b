-- The three root entities: payers, providers and clients. Their details (fee schedules,
-- licences, credentialing, policies, sessions) come in the migrations that follow.

CREATE TABLE payers (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    x12_payer_id          TEXT NOT NULL UNIQUE CHECK (x12_payer_id ~ '^[A-Za-z0-9]{2,80}$'),
    timely_filing_days    INTEGER NOT NULL CHECK (timely_filing_days BETWEEN 1 AND 3650),
    -- Telehealth modifier this payer wants on telehealth lines: 95 audio-video, 93 audio-only,
    -- GT legacy; NULL: none.
    telehealth_modifier   TEXT CHECK (telehealth_modifier IN ('95', '93', 'GT')),
    prior_auth_cpt_codes  TEXT[] NOT NULL DEFAULT '{}',
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE providers (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           UUID NOT NULL UNIQUE REFERENCES users (id),
    first_name        TEXT NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
    last_name         TEXT NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
    npi               TEXT NOT NULL UNIQUE CHECK (npi ~ '^[12][0-9]{9}$'),
    taxonomy_code     TEXT NOT NULL CHECK (taxonomy_code ~ '^[0-9A-Z]{9}X$'),
    -- AES-256-GCM (nonce || ciphertext), its key id for rotation, and the last four digits.
    tax_id_encrypted  BYTEA NOT NULL,
    tax_id_key_id     TEXT NOT NULL,
    tax_id_last4      TEXT NOT NULL CHECK (tax_id_last4 ~ '^[0-9]{4}$'),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE clients (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        UUID NOT NULL UNIQUE REFERENCES users (id),
    first_name     TEXT NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
    last_name      TEXT NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
    date_of_birth  DATE NOT NULL,
    sex            TEXT NOT NULL CHECK (sex IN ('F', 'M', 'U')),
    address_line1  TEXT NOT NULL,
    address_line2  TEXT,
    city           TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    zip            TEXT NOT NULL CHECK (zip ~ '^[0-9]{5}([0-9]{4})?$'),
    phone          TEXT,
    email          TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
