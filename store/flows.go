package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// ErrFlowNameTaken means another flow already has the name; it is an
// ErrConflict.
var ErrFlowNameTaken = fmt.Errorf("%w: another flow has this name", domain.ErrConflict)

// nameConflict turns a unique violation on the flow's name into
// ErrFlowNameTaken.
func nameConflict(err error, name string) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" && pqErr.Constraint == "flows_name_key" {
		return fmt.Errorf("flow named %q: %w", name, ErrFlowNameTaken)
	}
	return translate(err, fmt.Sprintf("flow named %q", name))
}

// Flows is the repository of flows and their versions.
type Flows struct {
	DB *sqlx.DB
}

type flowRow struct {
	ID          string         `db:"id"`
	Name        string         `db:"name"`
	Type        string         `db:"type"`
	Description string         `db:"description"`
	Version     int            `db:"version"`
	Steps       []byte         `db:"steps"`
	EventTypes  pq.StringArray `db:"event_types"`
	CreatedAt   time.Time      `db:"created_at"`
	UpdatedAt   time.Time      `db:"updated_at"`
}

func (r flowRow) toDomain() (*domain.Flow, error) {
	steps, err := domain.DecodeSteps(r.Steps)
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", r.ID, err)
	}
	return &domain.Flow{
		ID: r.ID, Name: r.Name, Type: r.Type, Description: r.Description, Version: r.Version,
		Steps: steps, EventTypes: append([]string{}, r.EventTypes...), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

const (
	flowColumns = `id, name, type, description, version, steps, event_types, created_at, updated_at`
	insertFlow  = `INSERT INTO flows (` + flowColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	// selectFlowByIDOrName prefers an id match, so a flow named like another
	// flow's id cannot shadow it.
	selectFlowByIDOrName = `SELECT ` + flowColumns + ` FROM flows WHERE id = $1 OR name = $1
		ORDER BY (id = $1) DESC LIMIT 1`
	insertFlowVersion = `INSERT INTO flow_versions (flow_id, version, steps, created_at) VALUES ($1, $2, $3, $4)`
	lockFlow          = `SELECT steps = $2::jsonb AS same, version FROM flows WHERE id = $1 FOR UPDATE`
	updateFlow        = `UPDATE flows SET name = $2, type = $3, description = $4, version = $5, steps = $6,
		updated_at = $7, event_types = $8 WHERE id = $1`
	selectFlowUsage = `SELECT 'trigger' AS kind, id, name AS label FROM triggers WHERE flow_id = $1
		UNION ALL
		SELECT 'queue_hook', id, queue_id || ' ' || event FROM queue_hooks WHERE flow_id = $1
		ORDER BY kind DESC, id LIMIT 20`
)

// nonNil stores a missing list as an empty one (the column is NOT NULL).
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func stepsJSON(steps []domain.Step) (string, error) {
	if steps == nil {
		steps = []domain.Step{}
	}
	b, err := json.Marshal(steps)
	if err != nil {
		return "", fmt.Errorf("encode steps: %w", err)
	}
	return string(b), nil
}

// Create stores a new flow as version 1. A duplicate name is ErrConflict.
func (s *Flows) Create(ctx context.Context, f *domain.Flow) error {
	steps, err := stepsJSON(f.Steps)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if f.ID == "" {
		f.ID = NewID(PrefixFlow)
	}
	f.Version, f.CreatedAt, f.UpdatedAt = 1, now, now
	return withTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, insertFlow, f.ID, f.Name, f.Type, f.Description, f.Version, steps, pq.StringArray(nonNil(f.EventTypes)), now, now); err != nil {
			return nameConflict(err, f.Name)
		}
		_, err := tx.ExecContext(ctx, insertFlowVersion, f.ID, f.Version, steps, now)
		return translate(err, "flow version")
	})
}

// Get finds a flow by id or name.
func (s *Flows) Get(ctx context.Context, idOrName string) (*domain.Flow, error) {
	var r flowRow
	if err := s.DB.GetContext(ctx, &r, selectFlowByIDOrName, idOrName); err != nil {
		return nil, translate(err, "flow "+idOrName)
	}
	return r.toDomain()
}

// Update saves a flow's name, type, description and steps. When the steps
// differ from the stored ones the version goes up by one and the new steps
// are kept as that version; runs already going keep the version they began
// with. Making a flow that triggers or queue hooks use something other than
// a service flow is ErrConflict; a duplicate name is ErrConflict.
func (s *Flows) Update(ctx context.Context, f *domain.Flow) error {
	steps, err := stepsJSON(f.Steps)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return withTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var cur struct {
			Same    bool `db:"same"`
			Version int  `db:"version"`
		}
		if err := tx.GetContext(ctx, &cur, lockFlow, f.ID, steps); err != nil {
			return translate(err, "flow "+f.ID)
		}
		if !domain.FlowUsableByTriggers(f.Type) {
			users, err := flowUsers(ctx, tx, f.ID)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				return fmt.Errorf("flow %q is used by %s; only %q flows may be, so its type cannot become %q: %w",
					f.Name, strings.Join(users, ", "), domain.FlowTypeService, f.Type, domain.ErrConflict)
			}
		}
		version := cur.Version
		if !cur.Same {
			version++
			if _, err := tx.ExecContext(ctx, insertFlowVersion, f.ID, version, steps, now); err != nil {
				return translate(err, "flow version")
			}
		}
		if _, err := tx.ExecContext(ctx, updateFlow, f.ID, f.Name, f.Type, f.Description, version, steps, now, pq.StringArray(nonNil(f.EventTypes))); err != nil {
			return nameConflict(err, f.Name)
		}
		f.Version, f.UpdatedAt = version, now
		return nil
	})
}

// flowUsers names the triggers and queue hooks that run a flow.
func flowUsers(ctx context.Context, q sqlx.QueryerContext, flowID string) ([]string, error) {
	var rows []struct {
		Kind  string `db:"kind"`
		ID    string `db:"id"`
		Label string `db:"label"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, selectFlowUsage, flowID); err != nil {
		return nil, translate(err, "users of flow "+flowID)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		if r.Kind == "trigger" {
			out = append(out, fmt.Sprintf("trigger %q (%s)", r.Label, r.ID))
		} else {
			out = append(out, fmt.Sprintf("queue hook %s (%s)", r.ID, r.Label))
		}
	}
	return out, nil
}

// Delete removes a flow and its versions. It is refused with ErrConflict
// while a trigger or queue hook uses the flow.
func (s *Flows) Delete(ctx context.Context, id string) error {
	return withTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var name string
		if err := tx.GetContext(ctx, &name, `SELECT name FROM flows WHERE id = $1 FOR UPDATE`, id); err != nil {
			return translate(err, "flow "+id)
		}
		users, err := flowUsers(ctx, tx, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("flow %q is used by %s; point them at another flow or delete them first: %w",
				name, strings.Join(users, ", "), domain.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM flows WHERE id = $1`, id); err != nil {
			var pqErr *pq.Error
			if errors.As(err, &pqErr) && pqErr.Code == "23503" {
				// A trigger took the flow between the check and the delete.
				return fmt.Errorf("flow %q was just taken into use: %w", name, domain.ErrConflict)
			}
			return translate(err, "flow "+id)
		}
		return nil
	})
}

// FlowFilter narrows a flow list.
type FlowFilter struct {
	Type string // exact type, e.g. "service"
	Text string // case-insensitive match on name or description
}

var flowSorts = map[string]string{
	"created_at": "created_at", "updated_at": "updated_at", "name": "name", "type": "type", "version": "version",
}

// FlowSortFields are the fields a flow list may be sorted by.
func FlowSortFields() []string {
	return []string{"created_at", "updated_at", "name", "type", "version"}
}

// List returns one page of flows, newest first unless sorted otherwise.
func (s *Flows) List(ctx context.Context, f FlowFilter, p domain.Page) (domain.List[*domain.Flow], error) {
	var q listQuery
	q.eq("type", f.Type)
	q.text(f.Text, "name", "description")
	var out domain.List[*domain.Flow]
	var rows []flowRow
	if err := q.page(ctx, s.DB, "flows", "SELECT "+flowColumns+" FROM flows", orderBy(p.Sort, flowSorts), p, &out.Total, &rows, "flows"); err != nil {
		return out, err
	}
	for _, r := range rows {
		fl, err := r.toDomain()
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, fl)
	}
	return out, nil
}

// FlowVersion is one saved version of a flow's steps.
type FlowVersion struct {
	FlowID    string
	Version   int
	Steps     []domain.Step
	CreatedAt time.Time
}

type flowVersionRow struct {
	FlowID    string    `db:"flow_id"`
	Version   int       `db:"version"`
	Steps     []byte    `db:"steps"`
	CreatedAt time.Time `db:"created_at"`
}

func (r flowVersionRow) toVersion() (*FlowVersion, error) {
	steps, err := domain.DecodeSteps(r.Steps)
	if err != nil {
		return nil, fmt.Errorf("flow %s version %d: %w", r.FlowID, r.Version, err)
	}
	return &FlowVersion{FlowID: r.FlowID, Version: r.Version, Steps: steps, CreatedAt: r.CreatedAt.UTC()}, nil
}

// Version reads one saved version of a flow.
func (s *Flows) Version(ctx context.Context, flowID string, version int) (*FlowVersion, error) {
	var r flowVersionRow
	if err := s.DB.GetContext(ctx, &r, `SELECT flow_id, version, steps, created_at FROM flow_versions
		WHERE flow_id = $1 AND version = $2`, flowID, version); err != nil {
		return nil, translate(err, fmt.Sprintf("flow %s version %d", flowID, version))
	}
	return r.toVersion()
}

// Versions lists a flow's versions, newest first.
func (s *Flows) Versions(ctx context.Context, flowID string, p domain.Page) (domain.List[*FlowVersion], error) {
	var out domain.List[*FlowVersion]
	if err := s.DB.GetContext(ctx, &out.Total, `SELECT count(*) FROM flow_versions WHERE flow_id = $1`, flowID); err != nil {
		return out, translate(err, "count flow versions")
	}
	var rows []flowVersionRow
	if err := s.DB.SelectContext(ctx, &rows, fmt.Sprintf(`SELECT flow_id, version, steps, created_at FROM flow_versions
		WHERE flow_id = $1 ORDER BY version DESC LIMIT %d OFFSET %d`, p.PerPage, p.Offset()), flowID); err != nil {
		return out, translate(err, "list flow versions")
	}
	for _, r := range rows {
		v, err := r.toVersion()
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// The flow engine's bookkeeping of runs. These methods live beside the
// flows because only the flow run workflow and the flow API use them.

// Find reads one run by id.
func (s *Runs) Find(ctx context.Context, id string) (*Run, error) {
	var r Run
	err := s.DB.GetContext(ctx, &r, `SELECT `+runColumns+` FROM trigger_runs WHERE id = $1`, id)
	if err != nil {
		return nil, translate(err, "run "+id)
	}
	return &r, nil
}

// FindByWorkflow reads the run of a workflow id.
func (s *Runs) FindByWorkflow(ctx context.Context, workflowID string) (*Run, error) {
	var r Run
	err := s.DB.GetContext(ctx, &r, `SELECT `+runColumns+` FROM trigger_runs WHERE workflow_id = $1`, workflowID)
	if err != nil {
		return nil, translate(err, "run of workflow "+workflowID)
	}
	return &r, nil
}

// MarkRunning records that a run's workflow has begun: status running with
// the Temporal ids. A run that already finished under another Temporal run
// id (its workflow id was started again) begins afresh; one that finished
// under this run id is left alone, so a retried activity changes nothing.
func (s *Runs) MarkRunning(ctx context.Context, id, workflowID, runID string) (*Run, error) {
	_, err := s.DB.ExecContext(ctx, `UPDATE trigger_runs SET status = 'running', workflow_id = $2, run_id = $3,
		error = '', failed_step = '', finished_at = NULL, steps = '[]',
		started_at = CASE WHEN status = 'running' AND run_id = $3 THEN started_at ELSE now() END
		WHERE id = $1 AND (status IN ('pending', 'running') OR run_id <> $3)`, id, workflowID, runID)
	if err != nil {
		return nil, translate(err, "mark run running")
	}
	return s.Find(ctx, id)
}

// PinFlowVersion fixes the flow and version a run executes, unless one is
// already fixed, and returns what the run uses. Editing the flow later does
// not change it.
func (s *Runs) PinFlowVersion(ctx context.Context, id, flowID string, version int) (string, int, error) {
	var out struct {
		FlowID  string `db:"flow_id"`
		Version int    `db:"flow_version"`
	}
	err := s.DB.GetContext(ctx, &out, `UPDATE trigger_runs
		SET flow_id = COALESCE(flow_id, $2), flow_version = COALESCE(flow_version, $3)
		WHERE id = $1 RETURNING flow_id, flow_version`, id, flowID, version)
	if err != nil {
		return "", 0, translate(err, "pin flow version of run "+id)
	}
	return out.FlowID, out.Version, nil
}

// RunOutcome is how a run ended.
type RunOutcome struct {
	ID         string
	Status     string // succeeded, failed, canceled or timed_out
	Error      string
	FailedStep string
	Steps      []domain.StepOutcome
}

// Finish records how a run ended. Finishing again writes the same values, so
// a retried activity is harmless.
func (s *Runs) Finish(ctx context.Context, o RunOutcome) error {
	b, err := encodeSteps(o.Steps)
	if err != nil {
		return err
	}
	res, err := s.DB.ExecContext(ctx, `UPDATE trigger_runs SET status = $2, error = $3, failed_step = $4, steps = $5,
		finished_at = COALESCE(finished_at, now()) WHERE id = $1`, o.ID, o.Status, o.Error, o.FailedStep, b)
	if err != nil {
		return translate(err, "finish run "+o.ID)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("run %s: %w", o.ID, domain.ErrNotFound)
	}
	return nil
}

// encodeSteps is the steps column's JSON (an empty list for none).
func encodeSteps(steps []domain.StepOutcome) (string, error) {
	if steps == nil {
		steps = []domain.StepOutcome{}
	}
	b, err := json.Marshal(steps)
	if err != nil {
		return "", fmt.Errorf("encode step outcomes: %w", err)
	}
	return string(b), nil
}

// StepsOf reads what each step of a run did.
func (s *Runs) StepsOf(ctx context.Context, id string) ([]domain.StepOutcome, error) {
	var raw []byte
	if err := s.DB.GetContext(ctx, &raw, `SELECT steps FROM trigger_runs WHERE id = $1`, id); err != nil {
		return nil, translate(err, "steps of run "+id)
	}
	var out []domain.StepOutcome
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode steps of run %s: %w", id, err)
	}
	return out, nil
}

// StepsOfRuns reads the step outcomes of many runs at once, by run id.
func (s *Runs) StepsOfRuns(ctx context.Context, ids []string) (map[string][]domain.StepOutcome, error) {
	var rows []struct {
		ID    string `db:"id"`
		Steps []byte `db:"steps"`
	}
	if err := s.DB.SelectContext(ctx, &rows, `SELECT id, steps FROM trigger_runs WHERE id = ANY($1)`, pq.StringArray(ids)); err != nil {
		return nil, translate(err, "steps of runs")
	}
	out := make(map[string][]domain.StepOutcome, len(rows))
	for _, r := range rows {
		var steps []domain.StepOutcome
		if err := json.Unmarshal(r.Steps, &steps); err != nil {
			return nil, fmt.Errorf("decode steps of run %s: %w", r.ID, err)
		}
		out[r.ID] = steps
	}
	return out, nil
}

// ByFlow returns one page of a flow's runs, newest first, optionally of one
// status.
func (s *Runs) ByFlow(ctx context.Context, flowID, status string, p domain.Page) (domain.List[*Run], error) {
	var q listQuery
	q.and("flow_id = " + q.arg(flowID))
	q.eq("status", status)
	var out domain.List[*Run]
	err := q.page(ctx, s.DB, "trigger_runs", "SELECT "+runColumns+" FROM trigger_runs", newestRunsFirst, p, &out.Total, &out.Items, "runs")
	return out, err
}

// RunSource is what started a run: a trigger (with its flow or its
// ipSCAPE-style actions) or a queue hook. Both are read here, in the columns
// the flow engine needs, so running a flow does not depend on how the
// trigger API shapes them.
type RunSource struct {
	TriggerID   string
	QueueHookID string
	Name        string
	Type        string // at_time or on_event for triggers; "queue_hook" for hooks
	FlowID      string // "" when the trigger has actions instead
	Actions     []domain.TriggerAction
	TimeZone    string
	Timeout     time.Duration
	QueueID     string
	Event       string // the hook's queue event, or the trigger's object event
	Object      string
}

// TriggerSource reads a trigger for a run.
func (s *Runs) TriggerSource(ctx context.Context, triggerID string) (*RunSource, error) {
	var r struct {
		ID        string                        `db:"id"`
		Name      string                        `db:"name"`
		Type      string                        `db:"type"`
		FlowID    sql.NullString                `db:"flow_id"`
		Actions   jsonb[[]domain.TriggerAction] `db:"actions"`
		TimeZone  string                        `db:"timezone"`
		TimeoutMS int64                         `db:"timeout_ms"`
		Object    string                        `db:"object"`
		Event     string                        `db:"event"`
	}
	if err := s.DB.GetContext(ctx, &r, `SELECT id, name, type, flow_id, actions, timezone, timeout_ms, object, event
		FROM triggers WHERE id = $1`, triggerID); err != nil {
		return nil, translate(err, "trigger "+triggerID)
	}
	return &RunSource{
		TriggerID: r.ID, Name: r.Name, Type: r.Type, FlowID: r.FlowID.String, Actions: r.Actions.V,
		TimeZone: r.TimeZone, Timeout: time.Duration(r.TimeoutMS) * time.Millisecond, Object: r.Object, Event: r.Event,
	}, nil
}

// QueueHookSource reads a queue hook for a run. Hooks have no timeout of
// their own; their runs get domain.DefaultTriggerTimeout.
func (s *Runs) QueueHookSource(ctx context.Context, hookID string) (*RunSource, error) {
	var r struct {
		ID      string `db:"id"`
		QueueID string `db:"queue_id"`
		Event   string `db:"event"`
		FlowID  string `db:"flow_id"`
	}
	if err := s.DB.GetContext(ctx, &r, `SELECT id, queue_id, event, flow_id FROM queue_hooks WHERE id = $1`, hookID); err != nil {
		return nil, translate(err, "queue hook "+hookID)
	}
	return &RunSource{
		QueueHookID: r.ID, Name: "queue " + r.QueueID + " " + r.Event, Type: "queue_hook", FlowID: r.FlowID,
		TimeZone: domain.DefaultTimeZone, Timeout: domain.DefaultTriggerTimeout, QueueID: r.QueueID,
		Event: r.Event, Object: "queue",
	}, nil
}

// EventTypeOf reads the type of a stored event ("" when it is not stored).
func (s *Runs) EventTypeOf(ctx context.Context, eventID string) (string, error) {
	var t string
	err := s.DB.GetContext(ctx, &t, `SELECT type FROM events WHERE id = $1`, eventID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return t, translate(err, "event "+eventID)
}
