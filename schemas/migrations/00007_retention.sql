-- +goose Up
-- Retention purges attempt logs by age and erasure empties an event's
-- payload: attempts need an index by time, events a mark of erasure.
CREATE INDEX delivery_attempts_executed_idx ON delivery_attempts (executed_at);
CREATE INDEX notifications_created_idx ON notifications (created_at);
ALTER TABLE events ADD COLUMN erased_at timestamptz;

-- +goose Down
ALTER TABLE events DROP COLUMN erased_at;
DROP INDEX notifications_created_idx;
DROP INDEX delivery_attempts_executed_idx;
