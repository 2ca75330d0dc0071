-- +goose Up
-- Every delivery's fate is its own.

-- Who carries a delivery is decided when it is planned: an ordered
-- delivery belongs to its webhook's queue workflow, an unordered one to the
-- group workflow of its batch (then to a workflow of its own). Toggling a
-- webhook's "ordered" changes only what comes next, so no delivery ever has
-- two carriers.
ALTER TABLE deliveries ADD COLUMN ordered boolean NOT NULL DEFAULT false;
UPDATE deliveries d SET ordered = w.ordered FROM webhooks w WHERE w.id = d.webhook_id;
DROP INDEX deliveries_pending_fifo_idx;
CREATE INDEX deliveries_pending_fifo_idx ON deliveries (webhook_id, seq) WHERE status = 'pending' AND ordered;

-- A pending delivery of a disabled webhook waits here, with no workflow,
-- until the webhook is enabled again (then it is handed over in a new batch).
ALTER TABLE deliveries ADD COLUMN parked_at timestamptz;
CREATE INDEX deliveries_parked_idx ON deliveries (webhook_id, seq) WHERE parked_at IS NOT NULL AND status = 'pending';

-- The reconciler looks for pending deliveries whose carrier has gone quiet.
CREATE INDEX deliveries_pending_updated_idx ON deliveries (updated_at) WHERE status = 'pending';

-- Bytes PostgreSQL cannot store in text or jsonb (NUL, invalid UTF-8) are
-- kept exactly: bodies as base64 (the encoding column says so), and other
-- texts (headers, URL, error) with such bytes escaped as \xNN and escaped
-- set, so a reader knows the stored text is not the bytes sent or received.
ALTER TABLE delivery_attempts ADD COLUMN request_body_encoding text NOT NULL DEFAULT ''
    CHECK (request_body_encoding IN ('', 'base64'));
ALTER TABLE delivery_attempts ADD COLUMN response_body_encoding text NOT NULL DEFAULT ''
    CHECK (response_body_encoding IN ('', 'base64'));
ALTER TABLE delivery_attempts ADD COLUMN escaped boolean NOT NULL DEFAULT false;
-- Which workflow made the attempt, so the log links to it.
ALTER TABLE delivery_attempts ADD COLUMN workflow_id text NOT NULL DEFAULT '';

-- Sweepers claim undispatched batches for a while, so several workers share
-- a backlog instead of all starting on the same oldest batches.
ALTER TABLE publish_batches ADD COLUMN claimed_until timestamptz;

-- +goose Down
ALTER TABLE publish_batches DROP COLUMN claimed_until;
ALTER TABLE delivery_attempts DROP COLUMN workflow_id;
ALTER TABLE delivery_attempts DROP COLUMN escaped;
ALTER TABLE delivery_attempts DROP COLUMN response_body_encoding;
ALTER TABLE delivery_attempts DROP COLUMN request_body_encoding;
DROP INDEX deliveries_pending_updated_idx;
DROP INDEX deliveries_parked_idx;
ALTER TABLE deliveries DROP COLUMN parked_at;
DROP INDEX deliveries_pending_fifo_idx;
CREATE INDEX deliveries_pending_fifo_idx ON deliveries (webhook_id, seq) WHERE status = 'pending';
ALTER TABLE deliveries DROP COLUMN ordered;
