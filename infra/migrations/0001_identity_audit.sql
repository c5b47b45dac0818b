-- Identity, refresh tokens, invitations, the PHI audit trail and idempotency keys.

CREATE TABLE users (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email               TEXT NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    password_hash       TEXT,  -- NULL until an invited user sets a password
    role                TEXT NOT NULL CHECK (role IN ('provider', 'client', 'ops')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    password_changed_at TIMESTAMPTZ,
    disabled_at         TIMESTAMPTZ
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- Refresh tokens are single use and rotate within a family; reusing a spent one revokes the family.
CREATE TABLE refresh_tokens (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (id),
    family_id   UUID NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE user_invites (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (id),
    token_hash  BYTEA NOT NULL UNIQUE,
    created_by  UUID REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ
);
CREATE INDEX user_invites_user ON user_invites (user_id);

-- Who read or wrote which PHI record, when, in which request. Append-only: the trigger refuses
-- UPDATE, DELETE and TRUNCATE for every role, superusers included.
CREATE TABLE audit_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_user_id UUID,
    actor_role    TEXT NOT NULL CHECK (actor_role IN ('provider', 'client', 'ops', 'system')),
    action        TEXT NOT NULL CHECK (action IN ('read', 'create', 'update', 'delete')),
    entity        TEXT NOT NULL,
    entity_id     UUID NOT NULL,
    request_id    TEXT
);
CREATE INDEX audit_events_entity ON audit_events (entity, entity_id, at);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- A POST a client may retry answers a repeat with its first response.
CREATE TABLE idempotency_keys (
    user_id         UUID NOT NULL REFERENCES users (id),
    key             TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    operation       TEXT NOT NULL,
    request_hash    BYTEA NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
