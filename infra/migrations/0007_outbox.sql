-- The transactional outbox: a use case writes its rows and the jobs that must follow in one
-- transaction; the relay hands due rows to arq, and hands them again when a job never
-- finished (a killed worker, a lost Redis). Jobs carry ids only: no PHI in Redis.

CREATE TABLE outbox (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job           TEXT NOT NULL CHECK (job ~ '^[a-z_]{1,64}$'),
    payload       JSONB NOT NULL,
    -- At most one unfinished row per key: enqueuing the same work twice is a no-op.
    dedupe_key    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    available_at  TIMESTAMPTZ NOT NULL DEFAULT now(),  -- not handed out before this
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    enqueued_at   TIMESTAMPTZ,
    completed_at  TIMESTAMPTZ,
    last_error    TEXT
);
CREATE INDEX outbox_due ON outbox (available_at) WHERE completed_at IS NULL;
CREATE UNIQUE INDEX outbox_dedupe ON outbox (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND completed_at IS NULL;
