package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// Triggers is the repository of At Time and On Event triggers.
type Triggers struct {
	DB *sqlx.DB
	// OnChange, when set, runs after every committed change so matching
	// indexes in this process refresh before the API answers.
	OnChange func()
}

type triggerRow struct {
	ID            string                        `db:"id"`
	Name          string                        `db:"name"`
	Type          string                        `db:"type"`
	FlowID        sql.NullString                `db:"flow_id"`
	FlowName      sql.NullString                `db:"flow_name"`
	Actions       jsonb[[]domain.TriggerAction] `db:"actions"`
	TimeZone      string                        `db:"timezone"`
	TimeoutMS     int64                         `db:"timeout_ms"`
	Expression    string                        `db:"expression"`
	OverlapPolicy string                        `db:"overlap_policy"`
	Object        string                        `db:"object"`
	Event         string                        `db:"event"`
	Conditions    jsonb[[]domain.Condition]     `db:"conditions"`
	CondExpr      string                        `db:"condition_expression"`
	Description   string                        `db:"description"`
	Enabled       bool                          `db:"enabled"`
	CreatedAt     time.Time                     `db:"created_at"`
	UpdatedAt     time.Time                     `db:"updated_at"`
}

const (
	triggerColumns = `t.id, t.name, t.type, t.flow_id, f.name AS flow_name, t.actions, t.timezone, t.timeout_ms,
	t.expression, t.overlap_policy, t.object, t.event, t.conditions, t.condition_expression, t.description, t.enabled,
	t.created_at, t.updated_at`
	triggerFrom = ` FROM triggers t LEFT JOIN flows f ON f.id = t.flow_id`

	insertTrigger = `INSERT INTO triggers (id, name, type, flow_id, actions, timezone, timeout_ms, expression,
		overlap_policy, object, event, conditions, condition_expression, description, enabled, created_at, updated_at)
		VALUES (:id, :name, :type, :flow_id, :actions, :timezone, :timeout_ms, :expression, :overlap_policy,
		:object, :event, :conditions, :condition_expression, :description, :enabled, :created_at, :updated_at)`
	updateTrigger = `UPDATE triggers SET name = :name, type = :type, flow_id = :flow_id, actions = :actions,
		timezone = :timezone, timeout_ms = :timeout_ms, expression = :expression, overlap_policy = :overlap_policy,
		object = :object, event = :event, conditions = :conditions, condition_expression = :condition_expression,
		description = :description,
		enabled = :enabled, updated_at = :updated_at
		WHERE id = :id`
	selectTriggerByID = `SELECT ` + triggerColumns + triggerFrom + ` WHERE t.id = $1`
	deleteTrigger     = `DELETE FROM triggers WHERE id = $1`
	// selectFlowRef prefers an id match, so a flow named like another
	// flow's id cannot shadow it. FOR SHARE holds the flow until the
	// trigger or hook commits, so it cannot be deleted or retyped between
	// the check and the insert.
	selectFlowRef = `SELECT id, name, type, event_types FROM flows WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1 FOR SHARE`
)

func toTriggerRow(t *domain.Trigger) triggerRow {
	r := triggerRow{
		ID: t.ID, Name: t.Name, Type: t.Type, TimeZone: t.TimeZone, TimeoutMS: t.Timeout.Milliseconds(),
		Expression: t.Expression, OverlapPolicy: t.OverlapPolicy, Object: t.Object, Event: t.Event,
		Conditions: jsonb[[]domain.Condition]{t.Conditions}, CondExpr: t.ConditionExpression,
		Description: t.Description, Enabled: t.Enabled,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		Actions: jsonb[[]domain.TriggerAction]{t.Actions},
	}
	if t.Actions == nil {
		r.Actions.V = []domain.TriggerAction{}
	}
	if r.Conditions.V == nil {
		r.Conditions.V = []domain.Condition{}
	}
	if t.Flow != "" {
		r.FlowID = sql.NullString{String: t.Flow, Valid: true}
	}
	return r
}

func (r triggerRow) toDomain() *domain.Trigger {
	t := &domain.Trigger{
		ID: r.ID, Name: r.Name, Type: r.Type, Flow: r.FlowID.String, FlowName: r.FlowName.String,
		TimeZone: r.TimeZone, Timeout: time.Duration(r.TimeoutMS) * time.Millisecond, Expression: r.Expression,
		OverlapPolicy: r.OverlapPolicy, Object: r.Object, Event: r.Event, Conditions: r.Conditions.V,
		ConditionExpression: r.CondExpr,
		Description:         r.Description, Enabled: r.Enabled, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if !r.FlowID.Valid {
		t.Actions = r.Actions.V
		if t.Actions == nil {
			t.Actions = []domain.TriggerAction{}
		}
	}
	t.Normalize()
	return t
}

// resolveServiceFlow finds the flow ref names (an id or a name) and checks
// that triggers may run it, for events of eventType ("" for an At Time
// trigger, which has none). Problems are field errors on "flow": nothing is
// saved and the client learns what to fix.
func resolveServiceFlow(ctx context.Context, q sqlx.QueryerContext, ref, eventType string) (id, name string, err error) {
	var f struct {
		ID         string         `db:"id"`
		Name       string         `db:"name"`
		Type       string         `db:"type"`
		EventTypes pq.StringArray `db:"event_types"`
	}
	if err := sqlx.GetContext(ctx, q, &f, selectFlowRef, ref); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", domain.Invalid("flow", fmt.Sprintf("no flow has the id or name %q; create it first (POST /v1/flows)", ref))
		}
		return "", "", translate(err, "flow "+ref)
	}
	// Webitel: "Only Flow schemes with the Service type are suitable".
	if !domain.FlowUsableByTriggers(f.Type) {
		return "", "", domain.Invalid("flow", fmt.Sprintf("flow %q is a %q flow; triggers and queue hooks run only %q flows", f.Name, f.Type, domain.FlowTypeService))
	}
	flow := domain.Flow{Name: f.Name, EventTypes: f.EventTypes}
	if err := flow.CheckHandles(eventType); err != nil {
		return "", "", domain.Invalid("flow", err.Error())
	}
	return f.ID, f.Name, nil
}

// Create resolves t.Flow (id or name) and stores the trigger. An unknown or
// non-service flow is a validation error on "flow".
func (s *Triggers) Create(ctx context.Context, t *domain.Trigger) error {
	now := time.Now().UTC()
	if t.ID == "" {
		t.ID = NewID(PrefixTrigger)
	}
	t.CreatedAt, t.UpdatedAt = now, now
	err := changeDefinitions(ctx, s.DB, "trigger:"+t.ID, s.OnChange, func(tx *sqlx.Tx) error {
		if err := s.resolveFlow(ctx, tx, t); err != nil {
			return err
		}
		if _, err := tx.NamedExecContext(ctx, insertTrigger, toTriggerRow(t)); err != nil {
			return translate(err, "trigger "+t.ID)
		}
		return nil
	})
	return err
}

func (s *Triggers) resolveFlow(ctx context.Context, tx *sqlx.Tx, t *domain.Trigger) error {
	if t.Flow == "" {
		t.FlowName = ""
		return nil
	}
	id, name, err := resolveServiceFlow(ctx, tx, t.Flow, t.EventType())
	if err != nil {
		return err
	}
	t.Flow, t.FlowName = id, name
	return nil
}

// Get finds a trigger by id.
func (s *Triggers) Get(ctx context.Context, id string) (*domain.Trigger, error) {
	var r triggerRow
	if err := s.DB.GetContext(ctx, &r, selectTriggerByID, id); err != nil {
		return nil, translate(err, "trigger "+id)
	}
	return r.toDomain(), nil
}

// Update saves every field of t, resolving t.Flow again (a client may name
// the new flow by name).
func (s *Triggers) Update(ctx context.Context, t *domain.Trigger) error {
	t.UpdatedAt = time.Now().UTC()
	err := changeDefinitions(ctx, s.DB, "trigger:"+t.ID, s.OnChange, func(tx *sqlx.Tx) error {
		if err := s.resolveFlow(ctx, tx, t); err != nil {
			return err
		}
		res, err := tx.NamedExecContext(ctx, updateTrigger, toTriggerRow(t))
		return oneRow(res, err, "trigger "+t.ID, "trigger "+t.ID)
	})
	return err
}

// Delete removes a trigger. Its runs stay as history.
func (s *Triggers) Delete(ctx context.Context, id string) error {
	err := changeDefinitions(ctx, s.DB, "trigger:"+id, s.OnChange, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, deleteTrigger, id)
		return oneRow(res, err, "trigger "+id, "trigger "+id)
	})
	return err
}

// TriggerFilter narrows a trigger list.
type TriggerFilter struct {
	Type    string
	Enabled *bool
	Object  string
	Event   string
	FlowID  string // triggers running this flow (by id)
	Text    string // case-insensitive match on name or description
}

var triggerSorts = map[string]string{
	"created_at": "t.created_at", "updated_at": "t.updated_at", "name": "t.name",
}

// TriggerSortFields are the fields a trigger list may be sorted by.
func TriggerSortFields() []string { return []string{"created_at", "updated_at", "name"} }

// List returns one page of triggers, newest first unless sorted otherwise.
func (s *Triggers) List(ctx context.Context, f TriggerFilter, p domain.Page) (domain.List[*domain.Trigger], error) {
	var q listQuery
	q.eq("t.type", f.Type)
	q.eq("t.enabled", f.Enabled)
	q.eq("t.object", f.Object)
	q.eq("t.event", f.Event)
	q.eq("t.flow_id", f.FlowID)
	q.text(f.Text, "t.name", "t.description")
	var out domain.List[*domain.Trigger]
	var rows []triggerRow
	if err := q.page(ctx, s.DB, "triggers t", "SELECT "+triggerColumns+triggerFrom,
		qualifiedOrderBy(p.Sort, triggerSorts, "t"), p, &out.Total, &rows, "triggers"); err != nil {
		return out, err
	}
	for _, r := range rows {
		out.Items = append(out.Items, r.toDomain())
	}
	return out, nil
}

// qualifiedOrderBy is orderBy for a query whose table has an alias (joins
// make the bare column names ambiguous).
func qualifiedOrderBy(sort string, allowed map[string]string, alias string) string {
	dir := "ASC"
	name := sort
	if strings.HasPrefix(sort, "-") {
		dir, name = "DESC", sort[1:]
	}
	col, ok := allowed[name]
	if !ok || sort == "" {
		return fmt.Sprintf(" ORDER BY %[1]s.created_at DESC, %[1]s.id DESC", alias)
	}
	return fmt.Sprintf(" ORDER BY %s %s, %s.id %s", col, dir, alias, dir)
}

// TriggerRef names a trigger and says what kind it is, for bulk operations
// that must also act on At Time triggers' schedules.
type TriggerRef struct {
	ID      string `db:"id"`
	Type    string `db:"type"`
	Enabled bool   `db:"enabled"`
}

// Refs returns the triggers among ids that exist.
func (s *Triggers) Refs(ctx context.Context, ids []string) ([]TriggerRef, error) {
	var out []TriggerRef
	err := s.DB.SelectContext(ctx, &out, `SELECT id, type, enabled FROM triggers WHERE id = ANY($1) ORDER BY id`,
		pq.StringArray(ids))
	return out, translate(err, "triggers")
}

// SetEnabled switches many triggers on or off and returns those that exist
// (all of them, changed or not, so callers can bring schedules in line).
func (s *Triggers) SetEnabled(ctx context.Context, ids []string, enabled bool) ([]TriggerRef, error) {
	var out []TriggerRef
	err := changeDefinitions(ctx, s.DB, "triggers", s.OnChange, func(tx *sqlx.Tx) error {
		out = nil
		if err := tx.SelectContext(ctx, &out, `UPDATE triggers SET enabled = $2,
			updated_at = CASE WHEN enabled = $2 THEN updated_at ELSE now() END
			WHERE id = ANY($1) RETURNING id, type, enabled`, pq.StringArray(ids), enabled); err != nil {
			return translate(err, "switch triggers")
		}
		return nil
	})
	return out, err
}

// DeleteMany removes many triggers and returns the ids removed.
func (s *Triggers) DeleteMany(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	err := changeDefinitions(ctx, s.DB, "triggers", s.OnChange, func(tx *sqlx.Tx) error {
		out = nil
		if err := tx.SelectContext(ctx, &out, `DELETE FROM triggers WHERE id = ANY($1) RETURNING id`,
			pq.StringArray(ids)); err != nil {
			return translate(err, "delete triggers")
		}
		return nil
	})
	return out, err
}

// AtTime returns every At Time trigger, for reconciling schedules with the
// database (e.g. after a restore, or schedules made by an older version).
func (s *Triggers) AtTime(ctx context.Context) ([]*domain.Trigger, error) {
	var rows []triggerRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT `+triggerColumns+triggerFrom+
		` WHERE t.type = 'at_time' ORDER BY t.created_at, t.id`); err != nil {
		return nil, translate(err, "at_time triggers")
	}
	out := make([]*domain.Trigger, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.toDomain())
	}
	return out, nil
}
