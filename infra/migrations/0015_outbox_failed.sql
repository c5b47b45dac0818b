-- A row whose job can never run (its payload does not decode as the job's Struct) is finished
-- as failed rather than handed out every visibility timeout: completed_at and failed_at are set
-- together (so its dedupe key is free again), and last_error says why.
ALTER TABLE outbox ADD COLUMN failed_at TIMESTAMPTZ;
ALTER TABLE outbox ADD CONSTRAINT outbox_failed_is_finished
    CHECK (failed_at IS NULL OR completed_at = failed_at);
