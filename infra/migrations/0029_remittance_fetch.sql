-- The clearinghouse 835 polling worker (issue 16 item 2). Per clearinghouse (our receiver id
-- there), the ISA13 of the last 835 received: the next retrieval asks for the file after it.
-- The cursor advances in the transaction that posts the file, so a crash between fetch and
-- commit refetches the same file. A file the posting refuses (malformed) is kept here for ops
-- with the error, and the cursor passes it: one bad file does not block the ones after it.

CREATE TABLE remittance_fetch_cursors (
    clearinghouse   TEXT PRIMARY KEY CHECK (length(clearinghouse) BETWEEN 1 AND 15),
    last_isa13      TEXT CHECK (last_isa13 ~ '^[0-9]{1,9}$'),  -- NULL: nothing received yet
    files_received  INTEGER NOT NULL DEFAULT 0 CHECK (files_received >= 0),
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE remittance_fetch_refusals (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    clearinghouse   TEXT NOT NULL CHECK (length(clearinghouse) BETWEEN 1 AND 15),
    isa13           TEXT CHECK (isa13 ~ '^[0-9]{1,9}$'),  -- NULL: unreadable (the cursor is stuck)
    sha256          TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    raw             BYTEA NOT NULL,
    error           TEXT NOT NULL CHECK (length(error) BETWEEN 1 AND 500),
    received_at     TIMESTAMPTZ NOT NULL,
    resolved_at     TIMESTAMPTZ,
    UNIQUE (clearinghouse, sha256)
);
CREATE INDEX remittance_fetch_refusals_open ON remittance_fetch_refusals (received_at)
    WHERE resolved_at IS NULL;
