-- +goose Up
-- Smaller seed rules (issue 12 item 6).
-- Cotalker: the status codes a webhook counts as SUCCESS ("200-209");
-- webhook scripts: the use case (an object) chosen at creation, fixed.
ALTER TABLE webhooks ADD COLUMN success_status text NOT NULL DEFAULT '200-299';
ALTER TABLE webhooks ADD COLUMN use_case text NOT NULL DEFAULT '';
-- Webitel: the event types a flow expects; triggers on other events are refused.
ALTER TABLE flows ADD COLUMN event_types text[] NOT NULL DEFAULT '{}';
-- MPIQ: an On Event trigger's optional CEL expression, as webhooks have.
ALTER TABLE triggers ADD COLUMN condition_expression text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE triggers DROP COLUMN condition_expression;
ALTER TABLE flows DROP COLUMN event_types;
ALTER TABLE webhooks DROP COLUMN use_case;
ALTER TABLE webhooks DROP COLUMN success_status;
