package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// EventTypes is the repository of the event-type registry: admins' own
// types, admins' changes to catalog types (aliases, validation), and the
// notes publishing leaves on events (the type as sent, schema warnings).
type EventTypes struct {
	DB *sqlx.DB
}

type eventTypeRow struct {
	Name        string         `db:"name"`
	Builtin     bool           `db:"builtin"`
	Description string         `db:"description"`
	Schema      *[]byte        `db:"schema"`
	Example     *[]byte        `db:"example"`
	Validation  string         `db:"validation"`
	Aliases     pq.StringArray `db:"aliases"`
	CreatedAt   time.Time      `db:"created_at"`
	UpdatedAt   time.Time      `db:"updated_at"`
}

const selectEventTypes = `SELECT t.name, t.builtin, t.description, t.schema, t.example, t.validation,
	COALESCE((SELECT array_agg(a.alias ORDER BY a.alias) FROM event_type_aliases a WHERE a.type_name = t.name), '{}') AS aliases,
	t.created_at, t.updated_at
	FROM event_types t`

// StoredEventType is a registry row: a custom type (Builtin false) or an
// admin's changes to a catalog type (Builtin true: only Aliases and
// Validation count).
type StoredEventType struct {
	domain.EventTypeDef
	Builtin   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (r eventTypeRow) toStored() StoredEventType {
	d := domain.EventTypeDef{Name: r.Name, Description: r.Description, Validation: r.Validation,
		Aliases: append([]string{}, r.Aliases...), Custom: !r.Builtin}
	if r.Schema != nil {
		d.Schema = *r.Schema
	}
	if r.Example != nil {
		d.Example = *r.Example
	}
	return StoredEventType{EventTypeDef: d, Builtin: r.Builtin, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// List returns every row, custom types and catalog changes alike, by name.
func (s *EventTypes) List(ctx context.Context) ([]StoredEventType, error) {
	var rows []eventTypeRow
	if err := s.DB.SelectContext(ctx, &rows, selectEventTypes+` ORDER BY t.name`); err != nil {
		return nil, translate(err, "event types")
	}
	out := make([]StoredEventType, len(rows))
	for i, r := range rows {
		out[i] = r.toStored()
	}
	return out, nil
}

// Get returns one row; ErrNotFound when the name has none.
func (s *EventTypes) Get(ctx context.Context, name string) (StoredEventType, error) {
	var r eventTypeRow
	if err := s.DB.GetContext(ctx, &r, selectEventTypes+` WHERE t.name = $1`, name); err != nil {
		return StoredEventType{}, translate(err, "event type "+name)
	}
	return r.toStored(), nil
}

// Save creates or replaces a row and its aliases in one transaction. An
// alias already owned by another type fails with ErrConflict. create
// refuses an existing name (ErrConflict) instead of replacing it.
func (s *EventTypes) Save(ctx context.Context, t StoredEventType, create bool) error {
	return withTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var schema, example any
		if len(t.Schema) > 0 {
			schema = string(t.Schema)
		}
		if len(t.Example) > 0 {
			example = string(t.Example)
		}
		q := `INSERT INTO event_types (name, builtin, description, schema, example, validation)
			VALUES ($1, $2, $3, $4, $5, $6)`
		if !create {
			q += ` ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, schema = EXCLUDED.schema,
				example = EXCLUDED.example, validation = EXCLUDED.validation, updated_at = now()`
		}
		if _, err := tx.ExecContext(ctx, q, t.Name, t.Builtin, t.Description, schema, example, t.Validation); err != nil {
			return translate(err, "event type "+t.Name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_type_aliases WHERE type_name = $1`, t.Name); err != nil {
			return translate(err, "aliases of "+t.Name)
		}
		for _, a := range t.Aliases {
			if _, err := tx.ExecContext(ctx, `INSERT INTO event_type_aliases (alias, type_name) VALUES ($1, $2)`, a, t.Name); err != nil {
				return translate(err, fmt.Sprintf("alias %q", a))
			}
		}
		return nil
	})
}

// Delete removes a row and its aliases.
func (s *EventTypes) Delete(ctx context.Context, name string) error {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM event_types WHERE name = $1`, name)
	if err != nil {
		return translate(err, "event type "+name)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("event type %s: %w", name, domain.ErrNotFound)
	}
	return nil
}

// Subscribers names the webhooks (by code) and On Event triggers (by id)
// that subscribe to the exact type, so a type in use is not deleted under
// them.
func (s *EventTypes) Subscribers(ctx context.Context, name string) ([]string, error) {
	object, event := domain.SplitEventType(name)
	var who []string
	err := s.DB.SelectContext(ctx, &who, `SELECT 'webhook ' || code FROM webhooks WHERE $1 = ANY (event_types)
		UNION ALL SELECT 'trigger ' || id FROM triggers WHERE type = 'on_event' AND object = $2 AND event = $3
		ORDER BY 1 LIMIT 10`, name, object, event)
	return who, translate(err, "subscribers of "+name)
}

// EventNote is what publishing noted about one event.
type EventNote struct {
	EventID    string         `db:"event_id"`
	SourceType string         `db:"source_type"`
	Warnings   pq.StringArray `db:"warnings"`
}

// SaveNotes stores notes before their events are published; the first note
// of an event id wins, as the first publish of an id does.
func (s *EventTypes) SaveNotes(ctx context.Context, notes []EventNote) error {
	if len(notes) == 0 {
		return nil
	}
	ids := make([]string, len(notes))
	types := make([]string, len(notes))
	warnings := make([]string, len(notes))
	for i, n := range notes {
		ids[i], types[i] = n.EventID, n.SourceType
		b, _ := json.Marshal(append([]string{}, n.Warnings...))
		warnings[i] = string(b)
	}
	_, err := s.DB.ExecContext(ctx, `INSERT INTO event_notes (event_id, source_type, warnings)
		SELECT id, st, ARRAY(SELECT jsonb_array_elements_text(w::jsonb))
		FROM unnest($1::text[], $2::text[], $3::text[]) AS n(id, st, w)
		ON CONFLICT (event_id) DO NOTHING`, pq.Array(ids), pq.Array(types), pq.Array(warnings))
	return translate(err, "event notes")
}

// Note returns an event's note; ok is false when publishing noted nothing.
func (s *EventTypes) Note(ctx context.Context, eventID string) (EventNote, bool, error) {
	var n EventNote
	err := s.DB.GetContext(ctx, &n, `SELECT event_id, source_type, warnings FROM event_notes WHERE event_id = $1`, eventID)
	if err == sql.ErrNoRows {
		return EventNote{}, false, nil
	}
	if err != nil {
		return EventNote{}, false, translate(err, "note of event "+eventID)
	}
	return n, true, nil
}
