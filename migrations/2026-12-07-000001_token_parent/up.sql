-- Token lineage: the token a token was created through (NULL for tokens made without one, such
-- as `dojoql create-user`'s). A token created through another never outlives it: it inherits
-- the parent's expiry, and revoking a token revokes everything created through it. Deleting a
-- token (with its user) deletes what was created through it for the same reason.
ALTER TABLE api_tokens
    ADD COLUMN created_by_token_id INTEGER REFERENCES api_tokens (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_created_by_token_id_idx ON api_tokens (created_by_token_id);
