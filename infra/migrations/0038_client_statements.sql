-- Monthly client statements by email (issue 17 item 7): one row per client and month queued,
-- so a cron run repeated (or run by two schedulers) queues each statement once, ever. The month
-- is the first day of the month in the platform's statement time zone.
CREATE TABLE client_statement_emails (
    client_id   UUID NOT NULL REFERENCES clients (id),
    month       DATE NOT NULL CHECK (extract(day FROM month) = 1),
    queued_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (client_id, month)
);
