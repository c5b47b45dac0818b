-- Provider details (licences, service locations, self-pay rates) and credentialing per
-- provider x payer with its event history. The providers table itself (0002) needs no change.
-- created_at uses clock_timestamp(): rows written in one transaction keep their order in the
-- (created_at, id) keyset pages.

CREATE TABLE provider_licences (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id   UUID NOT NULL REFERENCES providers (id),
    state         TEXT NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    licence_type  TEXT NOT NULL CHECK (licence_type IN (
                      'LCSW', 'LICSW', 'LMFT', 'LPC', 'LPCC', 'LCPC', 'LMHC', 'LP', 'PsyD', 'PhD')),
    number        TEXT NOT NULL CHECK (length(number) BETWEEN 1 AND 50),
    expires_on    DATE NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- A state board issues a number once per licence type: the same licence cannot be on file twice.
    UNIQUE (state, licence_type, number)
);
CREATE INDEX provider_licences_provider ON provider_licences (provider_id, created_at, id);

CREATE TABLE provider_locations (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id       UUID NOT NULL REFERENCES providers (id),
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- 02 telehealth not at the patient's home, 10 telehealth at home, 11 office.
    place_of_service  TEXT NOT NULL CHECK (place_of_service IN ('02', '10', '11')),
    address_line1     TEXT,
    address_line2     TEXT,
    city              TEXT,
    state             TEXT CHECK (state ~ '^[A-Z]{2}$'),
    zip               TEXT CHECK (zip ~ '^[0-9]{5}([0-9]{4})?$'),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- An address is all or nothing, and an office (11) must have one.
    CHECK ((address_line1 IS NULL) = (city IS NULL)
           AND (city IS NULL) = (state IS NULL)
           AND (state IS NULL) = (zip IS NULL)),
    CHECK (place_of_service <> '11' OR address_line1 IS NOT NULL)
);
CREATE INDEX provider_locations_provider ON provider_locations (provider_id, created_at, id);

-- The full rate an out-of-network client pays per CPT code (the superbill amount).
CREATE TABLE provider_self_pay_rates (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id   UUID NOT NULL REFERENCES providers (id),
    cpt_code      TEXT NOT NULL CHECK (cpt_code ~ '^[0-9]{5}$'),
    amount_cents  BIGINT NOT NULL CHECK (amount_cents BETWEEN 1 AND 100000000),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider_id, cpt_code)
);
CREATE INDEX provider_self_pay_rates_page ON provider_self_pay_rates (provider_id, created_at, id);

-- requested -> submitted -> in_review -> approved | denied; approved -> expired at ends_on.
-- Reapplying and re-credentialing open a new record, so each approval keeps its own dates.
CREATE TABLE credentialing_records (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id       UUID NOT NULL REFERENCES providers (id),
    payer_id          UUID NOT NULL REFERENCES payers (id),
    status            TEXT NOT NULL CHECK (status IN (
                          'requested', 'submitted', 'in_review', 'approved', 'denied', 'expired')),
    effective_on      DATE,
    ends_on           DATE,
    expiry_warned_at  TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Approved and expired records carry the dates billing reads; the others carry none.
    CHECK (CASE WHEN status IN ('approved', 'expired')
                THEN effective_on IS NOT NULL AND ends_on IS NOT NULL AND effective_on <= ends_on
                ELSE effective_on IS NULL AND ends_on IS NULL END)
);
-- At most one open application per provider x payer (the last line against a double request).
CREATE UNIQUE INDEX credentialing_records_one_open ON credentialing_records (provider_id, payer_id)
    WHERE status IN ('requested', 'submitted', 'in_review');
CREATE INDEX credentialing_records_page ON credentialing_records (created_at, id);
CREATE INDEX credentialing_records_provider ON credentialing_records (provider_id, payer_id);
CREATE INDEX credentialing_records_approved_ends ON credentialing_records (ends_on)
    WHERE status = 'approved';

CREATE TABLE credentialing_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id      UUID NOT NULL REFERENCES credentialing_records (id),
    from_status    TEXT,  -- NULL: the record was created
    to_status      TEXT NOT NULL,
    actor_user_id  UUID REFERENCES users (id),  -- NULL: the system (the expiry job)
    reason         TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX credentialing_events_record ON credentialing_events (record_id, id);

-- The history is evidence (who moved a record, when, why): corrections are new events.
CREATE FUNCTION credentialing_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'credentialing_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER credentialing_events_no_update BEFORE UPDATE OR DELETE ON credentialing_events
    FOR EACH ROW EXECUTE FUNCTION credentialing_events_append_only();
