-- +goose Up
-- Every read of a delivery's attempts (the log, newest first by attempt
-- number; erasure; the purge and the cascade from deliveries) is served by
-- the unique (delivery_id, attempt) index, so the index by (delivery_id,
-- executed_at) only cost each recorded attempt one more index entry.
DROP INDEX delivery_attempts_delivery_idx;

-- +goose Down
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, executed_at DESC);
