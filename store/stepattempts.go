package store

import (
	"context"
	"encoding/json"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// StepAttempts is the log of the tries of flow steps that call out by
// themselves (http.request): what each try sent and received, kept like a
// delivery's attempts, so a run's log shows what was sent.
type StepAttempts struct {
	DB *sqlx.DB
}

// StepAttempt is one try of a step of a run.
type StepAttempt struct {
	RunWorkflowID string `db:"run_workflow_id"`
	StepID        string `db:"step_id"`
	// Attempt holds what was sent and received (its DeliveryID and
	// WorkflowID stay empty).
	Attempt
}

const stepAttemptColumns = `id, run_workflow_id, step_id, attempt, request_method, request_url, request_headers,
	request_body, request_body_encoding, response_status, response_headers, response_body, response_body_encoding,
	response_truncated, escaped, duration_ms, error, result, executed_at`

// Record stores one try of step stepID of the run whose workflow is
// runWorkflowID, numbered after the step's earlier tries. Any bytes are
// stored (see Attempt). It returns the try's number.
func (s *StepAttempts) Record(ctx context.Context, runWorkflowID, stepID string, a Attempt) (int, error) {
	a = a.storable()
	reqH, err := json.Marshal(a.RequestHeaders.V)
	if err != nil {
		return 0, err
	}
	respH, err := json.Marshal(a.ResponseHeaders.V)
	if err != nil {
		return 0, err
	}
	var n int
	// A step's tries follow each other, so the next number is free; the
	// unique key catches the impossible rest.
	err = s.DB.GetContext(ctx, &n, `INSERT INTO step_attempts (run_workflow_id, step_id, attempt, request_method,
		request_url, request_headers, request_body, request_body_encoding, response_status, response_headers,
		response_body, response_body_encoding, response_truncated, escaped, duration_ms, error, result, executed_at)
		SELECT $1, $2, COALESCE(max(attempt), 0) + 1, $3, $4, $5, $6, $7, NULLIF($8, 0), $9, $10, $11, $12, $13, $14, $15, $16, $17
		FROM step_attempts WHERE run_workflow_id = $1 AND step_id = $2
		RETURNING attempt`,
		runWorkflowID, stepID, a.RequestMethod, a.RequestURL, string(reqH), a.RequestBody, a.RequestBodyEncoding,
		a.ResponseStatus.Int64, string(respH), a.ResponseBody, a.ResponseBodyEncoding, a.ResponseTruncated, a.Escaped,
		a.DurationMS, a.Error, a.Result, a.ExecutedAt)
	return n, translate(err, "attempt of step "+stepID)
}

// OfRuns lists the step tries of runs (by their workflow ids), each step's
// newest first.
func (s *StepAttempts) OfRuns(ctx context.Context, runWorkflowIDs []string) ([]StepAttempt, error) {
	var out []StepAttempt
	err := s.DB.SelectContext(ctx, &out, `SELECT `+stepAttemptColumns+` FROM step_attempts
		WHERE run_workflow_id = ANY($1) ORDER BY run_workflow_id, step_id, attempt DESC`, pq.StringArray(runWorkflowIDs))
	return out, translate(err, "step attempts")
}
