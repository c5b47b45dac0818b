-- Clients' insurance policies and therapy sessions (the booking row every later issue extends).

-- One key row per client x priority: the exclusion constraint below compares BIGINT keys with
-- int8range because btree_gist (which would compare UUIDs and text) is not a built-in extension.
CREATE TABLE insurance_policy_keys (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id  UUID NOT NULL REFERENCES clients (id),
    priority   TEXT NOT NULL CHECK (priority IN ('primary', 'secondary')),
    UNIQUE (client_id, priority)
);

-- created_at is clock_timestamp(): rows made in one transaction still list in the order made.
CREATE TABLE insurance_policies (
    id                        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id                 UUID NOT NULL REFERENCES clients (id),
    payer_id                  UUID NOT NULL REFERENCES payers (id),
    key_id                    BIGINT NOT NULL REFERENCES insurance_policy_keys (id),
    priority                  TEXT NOT NULL CHECK (priority IN ('primary', 'secondary')),
    -- The subscriber's member id (the client's own when relationship is self).
    member_id                 TEXT NOT NULL CHECK (length(member_id) BETWEEN 1 AND 80),
    group_number              TEXT CHECK (length(group_number) BETWEEN 1 AND 50),
    relationship              TEXT NOT NULL
                              CHECK (relationship IN ('self', 'spouse', 'child', 'other')),
    subscriber_first_name     TEXT CHECK (length(subscriber_first_name) BETWEEN 1 AND 100),
    subscriber_last_name      TEXT CHECK (length(subscriber_last_name) BETWEEN 1 AND 100),
    subscriber_date_of_birth  DATE,
    subscriber_sex            TEXT CHECK (subscriber_sex IN ('F', 'M', 'U')),
    -- A dependant's own member id, when the payer issued one: the 837P then reports the patient
    -- as the subscriber (loop 2000B) instead of in loop 2000C under the subscriber.
    patient_member_id         TEXT CHECK (length(patient_member_id) BETWEEN 1 AND 80),
    effective_from            DATE NOT NULL,
    effective_to              DATE,
    created_at                TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (id, client_id),  -- target of therapy_sessions' (policy_id, client_id) key
    CONSTRAINT insurance_policies_dates CHECK (effective_to IS NULL OR effective_to >= effective_from),
    CONSTRAINT insurance_policies_subscriber CHECK (
        CASE WHEN relationship = 'self' THEN
            subscriber_first_name IS NULL AND subscriber_last_name IS NULL
            AND subscriber_date_of_birth IS NULL AND subscriber_sex IS NULL
            AND patient_member_id IS NULL
        ELSE
            subscriber_first_name IS NOT NULL AND subscriber_last_name IS NOT NULL
            AND subscriber_date_of_birth IS NOT NULL AND subscriber_sex IS NOT NULL
        END
    ),
    -- The last line behind the service's check under the client row lock: one primary and one
    -- secondary policy per client on any date.
    CONSTRAINT insurance_policies_no_overlap EXCLUDE USING gist (
        int8range(key_id, key_id, '[]') WITH &&,
        daterange(effective_from, effective_to, '[]') WITH &&
    )
);
CREATE INDEX insurance_policies_client ON insurance_policies (client_id, created_at, id);

CREATE TABLE therapy_sessions (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id       UUID NOT NULL REFERENCES providers (id),
    client_id         UUID NOT NULL REFERENCES clients (id),
    policy_id         UUID,  -- NULL: self-pay
    starts_at         TIMESTAMPTZ NOT NULL,
    duration_minutes  INTEGER NOT NULL CHECK (duration_minutes BETWEEN 15 AND 240),
    -- 02 telehealth elsewhere, 10 telehealth in the patient's home, 11 office.
    place_of_service  TEXT NOT NULL CHECK (place_of_service IN ('02', '10', '11')),
    status            TEXT NOT NULL DEFAULT 'scheduled',
    cancelled_at      TIMESTAMPTZ,
    cancel_reason     TEXT CHECK (length(cancel_reason) BETWEEN 1 AND 500),
    cancelled_by      UUID REFERENCES users (id),
    created_by        UUID NOT NULL REFERENCES users (id),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Named so later migrations can DROP and re-ADD it with the statuses they introduce.
    CONSTRAINT therapy_sessions_status_check
        CHECK (status IN ('scheduled', 'cancelled', 'no_show')),
    -- A session's policy is its client's own.
    CONSTRAINT therapy_sessions_policy_fk FOREIGN KEY (policy_id, client_id)
        REFERENCES insurance_policies (id, client_id),
    CONSTRAINT therapy_sessions_cancelled_check
        CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL AND cancelled_by IS NOT NULL))
);
CREATE INDEX therapy_sessions_provider ON therapy_sessions (provider_id, client_id, status);
CREATE INDEX therapy_sessions_client ON therapy_sessions (client_id, created_at, id);
CREATE INDEX therapy_sessions_created ON therapy_sessions (created_at, id);
CREATE INDEX therapy_sessions_starts ON therapy_sessions (starts_at);
