-- +goose Up
-- The runs gauge counts the last day's runs by trigger and status at every
-- scrape: an index by start time keeps that to the day's rows.
CREATE INDEX trigger_runs_started_idx ON trigger_runs (started_at);

-- +goose Down
DROP INDEX trigger_runs_started_idx;
