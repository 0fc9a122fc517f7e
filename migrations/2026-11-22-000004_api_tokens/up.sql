-- Authentication: user flags and API tokens. A token is shown once at creation; only its SHA-256
-- is stored. A token authenticates while it is neither revoked nor expired and its user is active.
ALTER TABLE users
    ADD COLUMN is_active BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN is_superuser BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE api_tokens (
    id           SERIAL PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         VARCHAR(100) NOT NULL CHECK (name <> ''),
    token_hash   VARCHAR(64) NOT NULL UNIQUE,
    created      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);
