-- +goose Up
-- API keys may expire; lists show newest first, so index created_at.
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
CREATE INDEX api_keys_created_idx ON api_keys (created_at DESC, id DESC);

-- +goose Down
DROP INDEX api_keys_created_idx;
ALTER TABLE api_keys DROP COLUMN expires_at;
