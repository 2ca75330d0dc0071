package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"
)

// Run statuses.
const (
	RunPending   = "pending"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCanceled  = "canceled"
	RunTimedOut  = "timed_out"
)

// Runs is the repository of trigger and queue-hook runs.
type Runs struct {
	DB *sqlx.DB
}

// Run is one flow execution started by a trigger or queue hook.
type Run struct {
	ID          string         `db:"id"`
	TriggerID   sql.NullString `db:"trigger_id"`
	QueueHookID sql.NullString `db:"queue_hook_id"`
	EventID     sql.NullString `db:"event_id"`
	FlowID      sql.NullString `db:"flow_id"`
	FlowVersion sql.NullInt64  `db:"flow_version"`
	BatchID     string         `db:"batch_id"`
	WorkflowID  string         `db:"workflow_id"`
	RunID       string         `db:"run_id"`
	Status      string         `db:"status"`
	Error       string         `db:"error"`
	FailedStep  string         `db:"failed_step"`
	StartedAt   time.Time      `db:"started_at"`
	FinishedAt  sql.NullTime   `db:"finished_at"`
}

const runColumns = `id, trigger_id, queue_hook_id, event_id, flow_id, flow_version, batch_id, workflow_id,
	run_id, status, error, failed_step, started_at, finished_at`

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

// MarkStarted records that a planned run's workflow started.
func (s *Runs) MarkStarted(ctx context.Context, id, workflowID, runID string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE trigger_runs SET status = 'running', workflow_id = $2, run_id = $3,
		started_at = now() WHERE id = $1 AND status = 'pending'`, id, workflowID, runID)
	return translate(err, "mark run started")
}
