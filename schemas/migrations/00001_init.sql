-- +goose Up
-- Definitions, the event log and the delivery log. Temporal keeps run state;
-- these tables keep what the API lists and what operators audit.

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    prefix       text NOT NULL,              -- first characters, shown in lists
    hash         bytea NOT NULL UNIQUE,      -- SHA-256 of the whole key; the key itself is never stored
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE webhooks (
    id                  text PRIMARY KEY,
    code                text NOT NULL UNIQUE,
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    url                 text NOT NULL,
    method              text NOT NULL DEFAULT 'POST',
    headers             jsonb NOT NULL DEFAULT '{}',
    params              jsonb NOT NULL DEFAULT '{}',
    body                text,                         -- template; NULL sends the event as JSON
    event_types         text[] NOT NULL,
    filters             jsonb NOT NULL DEFAULT '{}',  -- event type pattern -> conditions
    conditions          jsonb NOT NULL DEFAULT '[]',
    filter_expression   text NOT NULL DEFAULT '',     -- optional CEL
    retry               jsonb NOT NULL,
    timeout_ms          integer NOT NULL DEFAULT 10000,
    ordered             boolean NOT NULL DEFAULT false,
    enabled             boolean NOT NULL DEFAULT true,
    secret              text NOT NULL,
    previous_secret     text,
    previous_secret_until timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_created_idx ON webhooks (created_at DESC, id DESC);
CREATE INDEX webhooks_event_types_idx ON webhooks USING gin (event_types);

-- A publish batch is one group commit of events; its workflow delivers them.
-- dispatched_at stays NULL until Temporal holds the batch, so a sweeper can
-- finish batches whose publisher died between the commit and the start.
CREATE TABLE publish_batches (
    id            text PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz
);
CREATE INDEX publish_batches_undispatched_idx ON publish_batches (created_at) WHERE dispatched_at IS NULL;

CREATE TABLE events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    subject     text NOT NULL DEFAULT '',
    data        jsonb NOT NULL,
    batch_id    text NOT NULL REFERENCES publish_batches (id)
);
CREATE INDEX events_received_idx ON events (received_at DESC, id DESC);
CREATE INDEX events_type_idx ON events (type, received_at DESC);
CREATE INDEX events_batch_idx ON events (batch_id);

CREATE TABLE deliveries (
    id               text PRIMARY KEY,            -- also the webhook-id header, stable across retries
    seq              bigserial NOT NULL,          -- publish order, for ordered webhooks
    webhook_id       text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         text NOT NULL REFERENCES events (id),
    batch_id         text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    attempts         integer NOT NULL DEFAULT 0,
    -- The retry policy's budget counts from here: a manual retry opens a new
    -- window (attempts and expiry) without forgetting earlier attempts.
    window_start     timestamptz NOT NULL DEFAULT now(),
    window_attempts  integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text NOT NULL DEFAULT '',
    next_attempt_at  timestamptz,
    workflow_id      text NOT NULL DEFAULT '',
    run_id           text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX deliveries_webhook_created_idx ON deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX deliveries_webhook_status_idx ON deliveries (webhook_id, status, created_at DESC);
CREATE INDEX deliveries_event_idx ON deliveries (event_id);
CREATE INDEX deliveries_batch_idx ON deliveries (batch_id);
CREATE INDEX deliveries_pending_fifo_idx ON deliveries (webhook_id, seq) WHERE status = 'pending';

-- One row per HTTP try.
CREATE TABLE delivery_attempts (
    id                 bigserial PRIMARY KEY,
    delivery_id        text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt            integer NOT NULL,
    request_method     text NOT NULL,
    request_url        text NOT NULL,
    request_headers    jsonb NOT NULL DEFAULT '{}',
    request_body       text NOT NULL DEFAULT '',
    response_status    integer,
    response_headers   jsonb NOT NULL DEFAULT '{}',
    response_body      text NOT NULL DEFAULT '',
    response_truncated boolean NOT NULL DEFAULT false,
    duration_ms        integer NOT NULL DEFAULT 0,
    error              text NOT NULL DEFAULT '',
    result             text NOT NULL CHECK (result IN ('SUCCESS', 'FAILED')),
    executed_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (delivery_id, attempt)
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, executed_at DESC);

CREATE TABLE flows (
    id          text PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    type        text NOT NULL DEFAULT 'service',
    description text NOT NULL DEFAULT '',
    version     integer NOT NULL DEFAULT 1,
    steps       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flows_created_idx ON flows (created_at DESC, id DESC);

-- Every saved version of a flow; a run reads the version current when it fired.
CREATE TABLE flow_versions (
    flow_id    text NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    version    integer NOT NULL,
    steps      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, version)
);

CREATE TABLE triggers (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    type           text NOT NULL CHECK (type IN ('at_time', 'on_event')),
    flow_id        text REFERENCES flows (id),
    actions        jsonb NOT NULL DEFAULT '[]',  -- ipSCAPE-style actions instead of a flow
    timezone       text NOT NULL DEFAULT 'UTC',
    timeout_ms     bigint NOT NULL DEFAULT 300000,
    expression     text NOT NULL DEFAULT '',
    overlap_policy text NOT NULL DEFAULT 'skip',
    object         text NOT NULL DEFAULT '',
    event          text NOT NULL DEFAULT '',
    conditions     jsonb NOT NULL DEFAULT '[]',
    description    text NOT NULL DEFAULT '',
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triggers_created_idx ON triggers (created_at DESC, id DESC);
CREATE INDEX triggers_event_idx ON triggers (object, event) WHERE type = 'on_event';

CREATE TABLE queue_hooks (
    id         text PRIMARY KEY,
    queue_id   text NOT NULL,
    event      text NOT NULL,
    flow_id    text NOT NULL REFERENCES flows (id),
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_hooks_queue_idx ON queue_hooks (queue_id, created_at DESC, id DESC);
CREATE INDEX queue_hooks_event_idx ON queue_hooks (queue_id, event);

-- A run of a trigger or queue hook (one flow execution).
CREATE TABLE trigger_runs (
    id           text PRIMARY KEY,
    trigger_id   text,
    queue_hook_id text,
    event_id     text,
    flow_id      text,
    flow_version integer,
    batch_id     text NOT NULL DEFAULT '',       -- the publish batch that planned it ('' for scheduled/manual runs)
    workflow_id  text NOT NULL,
    run_id       text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'canceled', 'timed_out')),
    error        text NOT NULL DEFAULT '',
    failed_step  text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE UNIQUE INDEX trigger_runs_workflow_idx ON trigger_runs (workflow_id);
CREATE INDEX trigger_runs_trigger_idx ON trigger_runs (trigger_id, started_at DESC);
CREATE INDEX trigger_runs_hook_idx ON trigger_runs (queue_hook_id, started_at DESC);
CREATE INDEX trigger_runs_event_idx ON trigger_runs (event_id);
CREATE INDEX trigger_runs_batch_idx ON trigger_runs (batch_id) WHERE batch_id <> '';

-- Messages of the notify action, read by GET /v1/notifications?user_id=.
CREATE TABLE notifications (
    id          text PRIMARY KEY,
    user_id     text NOT NULL,
    text        text NOT NULL,
    run_id      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE notifications;
DROP TABLE trigger_runs;
DROP TABLE queue_hooks;
DROP TABLE triggers;
DROP TABLE flow_versions;
DROP TABLE flows;
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE publish_batches;
DROP TABLE webhooks;
DROP TABLE api_keys;
