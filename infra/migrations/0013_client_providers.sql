-- Which providers see a client: those with a session together that was not cancelled. The
-- clients domain owns the relation, so reading who may see a client never reads
-- therapy_sessions; the therapy_sessions service keeps it in step, in the booking's or the
-- cancellation's own transaction. `sessions` counts the pair's sessions that were not
-- cancelled: a cancellation takes one off under the row's lock, and the row goes at zero.
CREATE TABLE client_providers (
    provider_id UUID NOT NULL REFERENCES providers (id),
    client_id   UUID NOT NULL REFERENCES clients (id),
    sessions    INTEGER NOT NULL CHECK (sessions >= 0),
    PRIMARY KEY (provider_id, client_id)
);

INSERT INTO client_providers (provider_id, client_id, sessions)
SELECT provider_id, client_id, count(*)
FROM therapy_sessions
WHERE status <> 'cancelled'
GROUP BY provider_id, client_id;
