-- Prior authorizations (issue 15 item 2): a payer's approval of a number of visits for a
-- client, for some CPT codes, over a date range. A completion uses a visit under the row's
-- lock (UPDATE ... WHERE visits_used < visits_authorized), a void gives it back; the CHECK is
-- the last line against going over.
CREATE TABLE prior_authorizations (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id          UUID NOT NULL REFERENCES clients (id),
    payer_id           UUID NOT NULL REFERENCES payers (id),
    -- REF*G1 on the claim: the payer's number.
    number             TEXT NOT NULL CHECK (number ~ '^[A-Za-z0-9][A-Za-z0-9 -]{0,49}$'),
    cpt_codes          TEXT[] NOT NULL CHECK (cardinality(cpt_codes) BETWEEN 1 AND 20),
    visits_authorized  INTEGER NOT NULL CHECK (visits_authorized BETWEEN 1 AND 1000),
    visits_used        INTEGER NOT NULL DEFAULT 0,
    valid_from         DATE NOT NULL,
    valid_to           DATE NOT NULL,
    created_by         UUID NOT NULL REFERENCES users (id),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT prior_authorizations_visits
        CHECK (visits_used BETWEEN 0 AND visits_authorized),
    CONSTRAINT prior_authorizations_dates CHECK (valid_to >= valid_from),
    UNIQUE (payer_id, number)
);
CREATE INDEX prior_authorizations_client ON prior_authorizations (client_id, payer_id);
CREATE INDEX prior_authorizations_created ON prior_authorizations (created_at, id);

-- The authorization whose visit a confirmed session used.
ALTER TABLE therapy_sessions
    ADD COLUMN prior_authorization_id UUID REFERENCES prior_authorizations (id);
