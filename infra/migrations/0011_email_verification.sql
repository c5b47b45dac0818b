-- Self-signup is pending until the address is verified: the password chosen at signup waits in
-- pending_password_hash (so a pending user cannot sign in), and a later signup or an
-- ops-created client for the same address takes the pending row over instead of being refused.
ALTER TABLE users
    ADD COLUMN signup_pending_since  TIMESTAMPTZ,
    ADD COLUMN pending_password_hash TEXT,
    ADD CONSTRAINT users_pending_signup CHECK (
        (signup_pending_since IS NULL) = (pending_password_hash IS NULL)
        AND (signup_pending_since IS NULL OR password_hash IS NULL)
    );

-- Single-use, expiring email verification tokens, stored hashed (the job that mails one mints it).
CREATE TABLE email_verifications (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (id),
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);
