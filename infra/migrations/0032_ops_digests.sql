-- The ops daily digest (issue 16 item 8): each morning a job stores yesterday's digest once.
-- The day is a UTC calendar day (the platform's day, as the clock's today()); the body is the
-- digest as GET /ops/digest answered it then (its queue counts are as of created_at). A second
-- run for a day keeps the first (UNIQUE day: ON CONFLICT DO NOTHING): a stored digest is a
-- record of what ops were told that morning, never rewritten.
CREATE TABLE ops_digests (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    day         DATE NOT NULL UNIQUE,
    body        JSONB NOT NULL CHECK (jsonb_typeof(body) = 'object'),
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX ops_digests_created ON ops_digests (created_at, id);
