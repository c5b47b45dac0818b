-- Good Faith Estimates for self-pay and out-of-network clients (issue 17 item 2; DESIGN.md
-- "Charging clients"; No Surprises Act, 45 CFR 149.610 and 149.620).
--
-- One course per client x provider: a recurring course of therapy is estimated once for up to
-- 12 months (period_start..period_end), its expected sessions stated. A changed rate or a new
-- service makes a new version of the same course; the old one is kept, superseded (a GFE is
-- part of the record). What was estimated (lines) and who and where (document) are frozen as
-- issued. The self-pay bills of a course's sessions are kept beside it, so a course billed $400
-- or more above its estimate is flagged for ops (the client may dispute it; billing goes on).
CREATE TABLE good_faith_estimates (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    course_id           UUID NOT NULL,
    version             INTEGER NOT NULL CHECK (version BETWEEN 1 AND 10000),
    client_id           UUID NOT NULL REFERENCES clients (id),
    provider_id         UUID NOT NULL REFERENCES providers (id),
    reason              TEXT NOT NULL CHECK (reason IN ('self_pay', 'out_of_network', 'requested')),
    -- The booking that issued it (None: issued on request).
    therapy_session_id  UUID REFERENCES therapy_sessions (id),
    period_start        DATE NOT NULL,
    period_end          DATE NOT NULL,
    expected_sessions   INTEGER NOT NULL CHECK (expected_sessions BETWEEN 1 AND 366),
    lines               JSONB NOT NULL CHECK (jsonb_typeof(lines) = 'array'),
    document            JSONB NOT NULL CHECK (jsonb_typeof(document) = 'object'),
    total_cents         BIGINT NOT NULL CHECK (total_cents >= 0),
    issued_by           UUID REFERENCES users (id),
    created_at          TIMESTAMPTZ NOT NULL,
    superseded_at       TIMESTAMPTZ,
    emailed_at          TIMESTAMPTZ,
    exceeded_at         TIMESTAMPTZ,
    CONSTRAINT good_faith_estimates_version UNIQUE (course_id, version),
    -- At most 12 months: a longer course needs a new estimate (45 CFR 149.610(b)).
    CONSTRAINT good_faith_estimates_period CHECK (
        period_end >= period_start AND period_end < period_start + 366)
);
-- One current version per course.
CREATE UNIQUE INDEX good_faith_estimates_current ON good_faith_estimates (course_id)
    WHERE superseded_at IS NULL;
CREATE INDEX good_faith_estimates_pair ON good_faith_estimates (client_id, provider_id, period_end)
    WHERE superseded_at IS NULL;
CREATE INDEX good_faith_estimates_client ON good_faith_estimates (client_id, created_at, id);
CREATE INDEX good_faith_estimates_exceeded ON good_faith_estimates (exceeded_at, id)
    WHERE exceeded_at IS NOT NULL AND superseded_at IS NULL;

-- What each self-pay session of a course was billed (its completion, or its last edit).
CREATE TABLE good_faith_bills (
    therapy_session_id  UUID PRIMARY KEY REFERENCES therapy_sessions (id),
    course_id           UUID NOT NULL,
    amount_cents        BIGINT NOT NULL CHECK (amount_cents >= 0),
    service_date        DATE NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX good_faith_bills_course ON good_faith_bills (course_id);
