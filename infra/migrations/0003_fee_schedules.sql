-- Fee schedules: per payer x CPT/HCPCS code x modifier, what the payer allows and what the
-- platform pays the provider, over dated ranges that never overlap. History is kept: rows are
-- never deleted and their amounts never change; a new rate ends the current row and starts a new
-- one.

-- The key gets its own BIGINT id so the exclusion constraint below needs only built-in operator
-- classes (int8range and daterange &&): btree_gist is not available everywhere we run.
CREATE TABLE fee_schedule_keys (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payer_id  UUID NOT NULL REFERENCES payers (id),
    cpt_code  TEXT NOT NULL CHECK (cpt_code ~ '^([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})$'),
    -- '' means no modifier (NULLs would make the UNIQUE below let duplicates through).
    modifier  TEXT NOT NULL DEFAULT '' CHECK (modifier = '' OR modifier ~ '^[0-9A-Z]{2}$'),
    UNIQUE (payer_id, cpt_code, modifier)
);

CREATE TABLE fee_schedules (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    key_id               BIGINT NOT NULL REFERENCES fee_schedule_keys (id),
    -- Canonical [from, to + 1 day); an infinite upper bound is an open-ended schedule.
    valid                DATERANGE NOT NULL
        CHECK (NOT isempty(valid) AND NOT lower_inf(valid)),
    allowed_cents        BIGINT NOT NULL CHECK (allowed_cents BETWEEN 0 AND 100000000),
    provider_rate_cents  BIGINT NOT NULL
        CHECK (provider_rate_cents >= 0 AND provider_rate_cents <= allowed_cents),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by           UUID NOT NULL REFERENCES users (id),
    ended_at             TIMESTAMPTZ,
    ended_by             UUID REFERENCES users (id),
    CHECK ((ended_at IS NULL) = (ended_by IS NULL)),
    EXCLUDE USING gist (int8range(key_id, key_id, '[]') WITH &&, valid WITH &&)
);
CREATE INDEX fee_schedules_key ON fee_schedules (key_id);
CREATE INDEX fee_schedules_created ON fee_schedules (created_at, id);

-- The only change a row may take is ending it earlier: same start, a range inside the old one,
-- and who ended it. Amounts, key and creator are history; DELETE and TRUNCATE are refused.
CREATE FUNCTION fee_schedules_history_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.id = OLD.id
       AND NEW.key_id = OLD.key_id
       AND NEW.allowed_cents = OLD.allowed_cents
       AND NEW.provider_rate_cents = OLD.provider_rate_cents
       AND NEW.created_at = OLD.created_at
       AND NEW.created_by = OLD.created_by
       AND lower(NEW.valid) = lower(OLD.valid)
       AND NEW.valid <@ OLD.valid
       AND NEW.ended_at IS NOT NULL
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'fee_schedules keeps its history (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER fee_schedules_only_shorten BEFORE UPDATE OR DELETE ON fee_schedules
    FOR EACH ROW EXECUTE FUNCTION fee_schedules_history_kept();
CREATE TRIGGER fee_schedules_no_truncate BEFORE TRUNCATE ON fee_schedules
    FOR EACH STATEMENT EXECUTE FUNCTION fee_schedules_history_kept();
