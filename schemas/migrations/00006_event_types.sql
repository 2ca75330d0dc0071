-- +goose Up
-- The event-type registry (issue 12 item 3). Admins' own types live here
-- with their description, JSON Schema, example and validation mode; a row
-- with builtin = true holds an admin's changes to a catalog type (its
-- aliases and validation), whose description, schema and example come from
-- the code.
CREATE TABLE event_types (
    name        text PRIMARY KEY,
    builtin     boolean NOT NULL DEFAULT false,
    description text NOT NULL DEFAULT '',
    schema      jsonb,
    example     jsonb,
    validation  text NOT NULL DEFAULT 'off' CHECK (validation IN ('off', 'warn', 'reject')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A source system's type name stored under a registered type. The primary
-- key keeps an alias unambiguous across types.
CREATE TABLE event_type_aliases (
    alias     text PRIMARY KEY,
    type_name text NOT NULL REFERENCES event_types (name) ON DELETE CASCADE
);
CREATE INDEX event_type_aliases_type_idx ON event_type_aliases (type_name);

-- What publishing noted about an event beside its row: the type as the
-- source sent it when that was an alias, and schema warnings of types whose
-- validation is "warn". Written before the publish commits (so no crash
-- loses it); a row whose publish then failed names no stored event and is
-- never shown.
CREATE TABLE event_notes (
    event_id    text PRIMARY KEY,
    source_type text NOT NULL DEFAULT '',
    warnings    text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE event_notes;
DROP TABLE event_type_aliases;
DROP TABLE event_types;
