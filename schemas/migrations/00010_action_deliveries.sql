-- +goose Up
-- A flow step's webhook action (ipSCAPE's trigger action) is a delivery:
-- signed, retried by its own policy, every attempt logged, retryable by
-- hand. Its sender is a webhook row owned by the run's trigger (or queue
-- hook, or flow for runs of a flow by itself) that holds the signing secret;
-- owned webhooks are not subscriptions: they match no event and the
-- webhooks API does not show them. Deleting the owner deletes its webhook
-- with its deliveries, as deleting a webhook does.
ALTER TABLE webhooks ADD COLUMN owner_trigger_id text REFERENCES triggers (id) ON DELETE CASCADE;
ALTER TABLE webhooks ADD COLUMN owner_queue_hook_id text REFERENCES queue_hooks (id) ON DELETE CASCADE;
ALTER TABLE webhooks ADD COLUMN owner_flow_id text REFERENCES flows (id) ON DELETE CASCADE;
ALTER TABLE webhooks ADD COLUMN owned boolean
    GENERATED ALWAYS AS (num_nonnulls(owner_trigger_id, owner_queue_hook_id, owner_flow_id) > 0) STORED;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_one_owner
    CHECK (num_nonnulls(owner_trigger_id, owner_queue_hook_id, owner_flow_id) <= 1);
CREATE UNIQUE INDEX webhooks_owner_trigger_idx ON webhooks (owner_trigger_id) WHERE owner_trigger_id IS NOT NULL;
CREATE UNIQUE INDEX webhooks_owner_queue_hook_idx ON webhooks (owner_queue_hook_id) WHERE owner_queue_hook_id IS NOT NULL;
CREATE UNIQUE INDEX webhooks_owner_flow_idx ON webhooks (owner_flow_id) WHERE owner_flow_id IS NOT NULL;

-- The request a webhook action rendered is kept on its delivery (method,
-- URL, headers, body, timeout, retry policy): every try, a manual retry
-- included, sends what the step rendered. NULL for a subscription's
-- delivery, which renders its webhook's templates at each try.
ALTER TABLE deliveries ADD COLUMN request jsonb;
-- The run and step that made a webhook action's delivery ('' otherwise);
-- the delivery's id derives from them, so a retried step makes no second one.
ALTER TABLE deliveries ADD COLUMN run_workflow_id text NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN step_id text NOT NULL DEFAULT '';
CREATE INDEX deliveries_run_step_idx ON deliveries (run_workflow_id, step_id) WHERE run_workflow_id <> '';
-- One delivery per (webhook, event) holds for subscriptions; a trigger's
-- actions may send one event several times (two webhook actions, runs fired
-- by hand).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_webhook_id_event_id_key;
CREATE UNIQUE INDEX deliveries_webhook_event_idx ON deliveries (webhook_id, event_id) WHERE request IS NULL;

-- Every try of a flow step that calls out by itself (http.request), with
-- what was sent and received, as delivery attempts are kept: the run's log
-- shows each try. Keyed by the run's workflow id and the step's id
-- ("step-<n>"), the identity every try of a step shares.
CREATE TABLE step_attempts (
    id                     bigserial PRIMARY KEY,
    run_workflow_id        text NOT NULL,
    step_id                text NOT NULL,
    attempt                integer NOT NULL,
    request_method         text NOT NULL,
    request_url            text NOT NULL,
    request_headers        jsonb NOT NULL DEFAULT '{}',
    request_body           text NOT NULL DEFAULT '',
    request_body_encoding  text NOT NULL DEFAULT '' CHECK (request_body_encoding IN ('', 'base64')),
    response_status        integer,
    response_headers       jsonb NOT NULL DEFAULT '{}',
    response_body          text NOT NULL DEFAULT '',
    response_body_encoding text NOT NULL DEFAULT '' CHECK (response_body_encoding IN ('', 'base64')),
    response_truncated     boolean NOT NULL DEFAULT false,
    escaped                boolean NOT NULL DEFAULT false,
    duration_ms            integer NOT NULL DEFAULT 0,
    error                  text NOT NULL DEFAULT '',
    result                 text NOT NULL CHECK (result IN ('SUCCESS', 'FAILED')),
    executed_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_workflow_id, step_id, attempt)
);
CREATE INDEX step_attempts_executed_idx ON step_attempts (executed_at);

-- +goose Down
DROP TABLE step_attempts;
DROP INDEX deliveries_webhook_event_idx;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_webhook_id_event_id_key UNIQUE (webhook_id, event_id);
DROP INDEX deliveries_run_step_idx;
ALTER TABLE deliveries DROP COLUMN step_id;
ALTER TABLE deliveries DROP COLUMN run_workflow_id;
ALTER TABLE deliveries DROP COLUMN request;
DROP INDEX webhooks_owner_flow_idx;
DROP INDEX webhooks_owner_queue_hook_idx;
DROP INDEX webhooks_owner_trigger_idx;
ALTER TABLE webhooks DROP CONSTRAINT webhooks_one_owner;
ALTER TABLE webhooks DROP COLUMN owned;
ALTER TABLE webhooks DROP COLUMN owner_flow_id;
ALTER TABLE webhooks DROP COLUMN owner_queue_hook_id;
ALTER TABLE webhooks DROP COLUMN owner_trigger_id;
