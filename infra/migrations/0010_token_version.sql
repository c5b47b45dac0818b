-- Access tokens carry the user's token version; bumping it (password change, disabling)
-- makes every access token signed before it fail at once instead of living out its 15 minutes.
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0 CHECK (token_version >= 0);
