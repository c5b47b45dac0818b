-- Superbills (issue 19 item 1): the monthly superbill by email, for clients who opt in.

-- A client's choice (absent: not opted in). Changed by the client or ops, audited.
CREATE TABLE superbill_preferences (
    client_id       UUID PRIMARY KEY REFERENCES clients (id),
    monthly_email   BOOLEAN NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    updated_by      UUID NOT NULL REFERENCES users (id)
);

-- One row per client and month queued, so a cron run repeated (or run by two schedulers)
-- queues each month's superbill once, ever. The month is its first day in the platform's
-- statement time zone, as client_statement_emails'.
CREATE TABLE superbill_emails (
    client_id   UUID NOT NULL REFERENCES clients (id),
    month       DATE NOT NULL CHECK (extract(day FROM month) = 1),
    queued_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (client_id, month)
);
