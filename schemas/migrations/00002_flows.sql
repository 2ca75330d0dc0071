-- +goose Up
-- The flow engine's bookkeeping: what each step of a run did, and the
-- indexes the flow API's queries need.

-- One entry per step of the flow version the run used:
-- {"name", "action", "status": succeeded|failed|skipped|canceled, "error"?,
--  "started_at", "finished_at"}. Outputs are not kept: they may hold
-- personal data and live in Temporal's history for as long as it retains it.
ALTER TABLE trigger_runs ADD COLUMN steps jsonb NOT NULL DEFAULT '[]';

CREATE INDEX trigger_runs_flow_idx ON trigger_runs (flow_id, started_at DESC);

-- Deleting a flow is refused while a trigger or queue hook uses it.
CREATE INDEX triggers_flow_idx ON triggers (flow_id) WHERE flow_id IS NOT NULL;
CREATE INDEX queue_hooks_flow_idx ON queue_hooks (flow_id);

-- +goose Down
DROP INDEX queue_hooks_flow_idx;
DROP INDEX triggers_flow_idx;
DROP INDEX trigger_runs_flow_idx;
ALTER TABLE trigger_runs DROP COLUMN steps;
