package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// Runs is the repository of trigger and queue-hook runs.
type Runs struct {
	DB *sqlx.DB
}

// Run is one flow execution started by a trigger or queue hook.
type Run struct {
	ID          string  `db:"id"`
	TriggerID   *string `db:"trigger_id"`
	QueueHookID *string `db:"queue_hook_id"`
	EventID     *string `db:"event_id"`
	FlowID      *string `db:"flow_id"`
	FlowVersion *int    `db:"flow_version"`
	BatchID     string  `db:"batch_id"`
	WorkflowID  string  `db:"workflow_id"`
	RunID       string  `db:"run_id"`
	// InlineWorkflowID names the batch run workflow the run made its first
	// try in (RunID is then that workflow's run id); '' once the run has a
	// workflow of its own.
	InlineWorkflowID string     `db:"inline_workflow_id"`
	Status           string     `db:"status"`
	Error            string     `db:"error"`
	FailedStep       string     `db:"failed_step"`
	StartedAt        time.Time  `db:"started_at"`
	FinishedAt       *time.Time `db:"finished_at"`
}

const runColumns = `id, trigger_id, queue_hook_id, event_id, flow_id, flow_version, batch_id, workflow_id,
	run_id, inline_workflow_id, status, error, failed_step, started_at, finished_at`

// ExecWorkflow is the workflow that executes (or executed) the run: its own,
// or the batch run workflow it ran inline in.
func (r *Run) ExecWorkflow() string {
	if r.InlineWorkflowID != "" {
		return r.InlineWorkflowID
	}
	return r.WorkflowID
}

// ByEvent lists the runs an event led to, newest first.
func (s *Runs) ByEvent(ctx context.Context, eventID string) ([]*Run, error) {
	var out []*Run
	err := s.DB.SelectContext(ctx, &out, `SELECT `+runColumns+` FROM trigger_runs WHERE event_id = $1
		ORDER BY started_at DESC, id DESC`, eventID)
	return out, translate(err, "runs of event "+eventID)
}

// PendingInBatch lists the runs a publish batch planned that have not started.
func (s *Runs) PendingInBatch(ctx context.Context, batchID string) ([]*Run, error) {
	var out []*Run
	err := s.DB.SelectContext(ctx, &out, `SELECT `+runColumns+` FROM trigger_runs WHERE batch_id = $1
		AND status = 'pending' ORDER BY started_at, id`, batchID)
	return out, translate(err, "planned runs")
}

// InlineInBatches lists the runs of one trigger or queue hook that batches
// planned and that have neither finished nor been handed to a workflow of
// their own: pending ones, and ones an interrupted inline try left running.
func (s *Runs) InlineInBatches(ctx context.Context, batchIDs []string, g RunGroup) ([]*Run, error) {
	var out []*Run
	err := s.DB.SelectContext(ctx, &out, `SELECT `+runColumns+` FROM trigger_runs WHERE batch_id = ANY($1)
		AND COALESCE(trigger_id, '') = $2 AND COALESCE(queue_hook_id, '') = $3
		AND (status = 'pending' OR (status = 'running' AND inline_workflow_id <> ''))
		ORDER BY started_at, id`, pq.StringArray(batchIDs), g.TriggerID, g.QueueHookID)
	return out, translate(err, "planned runs")
}

// MarkInline records that runs begin their first try inline in a batch run
// workflow, pinning the flow and version unless one is pinned already, and
// returns the runs as they now are: the pending ones, and the ones this
// workflow began before (its activity retried) — never one another
// workflow holds, so a run has one carrier even if its batch is ever handed
// over twice.
func (s *Runs) MarkInline(ctx context.Context, ids []string, workflowID, runID, flowID string, version int) ([]*Run, error) {
	var out []*Run
	err := s.DB.SelectContext(ctx, &out, `UPDATE trigger_runs SET status = 'running', inline_workflow_id = $2,
		run_id = $3, flow_id = COALESCE(flow_id, NULLIF($4, '')),
		flow_version = COALESCE(flow_version, CASE WHEN $4 = '' THEN NULL ELSE $5::int END),
		error = '', failed_step = '', steps = '[]', finished_at = NULL, started_at = now()
		WHERE id = ANY($1) AND (status = 'pending' OR (status = 'running' AND inline_workflow_id = $2))
		RETURNING `+runColumns, pq.StringArray(ids), workflowID, runID, flowID, version)
	return out, translate(err, "mark runs inline")
}

// FinishMany records how runs ended, in one statement.
func (s *Runs) FinishMany(ctx context.Context, outcomes []RunOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	n := len(outcomes)
	ids, statuses, errs, failed, steps := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, o := range outcomes {
		b, err := encodeSteps(o.Steps)
		if err != nil {
			return err
		}
		ids[i], statuses[i], errs[i], failed[i], steps[i] = o.ID, o.Status, o.Error, o.FailedStep, b
	}
	_, err := s.DB.ExecContext(ctx, `UPDATE trigger_runs t SET status = u.status, error = u.error,
		failed_step = u.failed_step, steps = u.steps, finished_at = COALESCE(t.finished_at, now())
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(id, status, error, failed_step, steps)
		WHERE t.id = u.id`, pq.StringArray(ids), pq.StringArray(statuses), pq.StringArray(errs),
		pq.StringArray(failed), pq.StringArray(steps))
	return translate(err, "finish runs")
}

// HandOverMany records that runs left their batch run workflow for
// workflows of their own.
func (s *Runs) HandOverMany(ctx context.Context, runs []StartedRun) error {
	if len(runs) == 0 {
		return nil
	}
	ids, wfs, rids := make([]string, len(runs)), make([]string, len(runs)), make([]string, len(runs))
	for i, r := range runs {
		ids[i], wfs[i], rids[i] = r.ID, r.WorkflowID, r.RunID
	}
	_, err := s.DB.ExecContext(ctx, `UPDATE trigger_runs t SET inline_workflow_id = '', workflow_id = u.wf,
		run_id = u.rid FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, wf, rid)
		WHERE t.id = u.id AND t.status = 'running'`, pq.StringArray(ids), pq.StringArray(wfs), pq.StringArray(rids))
	return translate(err, "hand runs over")
}

// StartedRun is a planned run whose workflow started.
type StartedRun struct {
	ID, WorkflowID, RunID string
}

// MarkStartedMany records in one statement that planned runs' workflows
// started.
func (s *Runs) MarkStartedMany(ctx context.Context, runs []StartedRun) error {
	if len(runs) == 0 {
		return nil
	}
	ids, wfs, rids := make([]string, len(runs)), make([]string, len(runs)), make([]string, len(runs))
	for i, r := range runs {
		ids[i], wfs[i], rids[i] = r.ID, r.WorkflowID, r.RunID
	}
	_, err := s.DB.ExecContext(ctx, `UPDATE trigger_runs t SET status = 'running', workflow_id = u.wf, run_id = u.rid,
		started_at = now() FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, wf, rid)
		WHERE t.id = u.id AND t.status = 'pending'`, pq.StringArray(ids), pq.StringArray(wfs), pq.StringArray(rids))
	return translate(err, "mark runs started")
}

// MarkStarted records that a planned run's workflow started.
func (s *Runs) MarkStarted(ctx context.Context, id, workflowID, runID string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE trigger_runs SET status = 'running', workflow_id = $2, run_id = $3,
		started_at = now() WHERE id = $1 AND status = 'pending'`, id, workflowID, runID)
	return translate(err, "mark run started")
}

// RunFilter narrows a run list to one trigger or queue hook and, optionally,
// one status.
type RunFilter struct {
	TriggerID   string
	QueueHookID string
	Status      string
}

// Search returns one page of runs, newest first.
func (s *Runs) Search(ctx context.Context, f RunFilter, p domain.Page) (domain.List[*Run], error) {
	var q listQuery
	q.eq("trigger_id", f.TriggerID)
	q.eq("queue_hook_id", f.QueueHookID)
	q.eq("status", f.Status)
	var out domain.List[*Run]
	err := q.page(ctx, s.DB, "trigger_runs", "SELECT "+runColumns+" FROM trigger_runs", newestRunsFirst, p, &out.Total, &out.Items, "runs")
	return out, err
}

// newestRunsFirst orders run lists.
const newestRunsFirst = " ORDER BY started_at DESC, id DESC"

// Record stores a run that no publish planned — a scheduled firing or a
// manual run — and returns the stored row. It is idempotent by workflow id:
// when a run with r.WorkflowID exists, that row is returned unchanged, so the
// API and the run's own workflow may both record it.
func (s *Runs) Record(ctx context.Context, r *Run) (*Run, error) {
	if r.ID == "" {
		r.ID = NewID(PrefixRun)
	}
	if r.Status == "" {
		r.Status = domain.RunPending
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now().UTC()
	}
	if _, err := s.DB.NamedExecContext(ctx, `INSERT INTO trigger_runs (id, trigger_id, queue_hook_id, event_id,
		flow_id, flow_version, batch_id, workflow_id, run_id, status, started_at)
		VALUES (:id, :trigger_id, :queue_hook_id, :event_id, :flow_id, :flow_version, '', :workflow_id, :run_id,
		:status, :started_at)
		ON CONFLICT (workflow_id) DO NOTHING`, r); err != nil {
		return nil, translate(err, "run "+r.WorkflowID)
	}
	var out Run
	err := s.DB.GetContext(ctx, &out, `SELECT `+runColumns+` FROM trigger_runs WHERE workflow_id = $1`, r.WorkflowID)
	return &out, translate(err, "run "+r.WorkflowID)
}

// Discard removes a recorded run whose workflow never started, so a failed
// manual start leaves no run behind that nothing will ever finish.
func (s *Runs) Discard(ctx context.Context, id string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM trigger_runs WHERE id = $1 AND status = 'pending' AND run_id = ''`, id)
	return translate(err, "discard run "+id)
}
