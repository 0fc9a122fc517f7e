DROP TABLE api_tokens;
ALTER TABLE users DROP COLUMN is_superuser, DROP COLUMN is_active;
