-- +goose Up
-- A publish answers once its batch is committed; a dispatcher then hands
-- several committed batches to Temporal as one group (one batch workflow).
-- dispatch_group names the group's first batch ('' = the batch alone), so a
-- sweep that finishes an interrupted hand-over starts the same workflow id.
ALTER TABLE publish_batches ADD COLUMN dispatch_group text NOT NULL DEFAULT '';
CREATE INDEX publish_batches_group_idx ON publish_batches (dispatch_group) WHERE dispatch_group <> '';

-- Runs planned by a publish make their first try inside the batch's run
-- workflow (trigger-<trigger>-batch-<group>); inline_workflow_id names it
-- while the run is there. A run handed to its own workflow clears it.
ALTER TABLE trigger_runs ADD COLUMN inline_workflow_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE trigger_runs DROP COLUMN inline_workflow_id;
DROP INDEX publish_batches_group_idx;
ALTER TABLE publish_batches DROP COLUMN dispatch_group;
