package store

import (
	"context"
	"encoding/json"
	"time"

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
		int64(a.Status()), string(respH), a.ResponseBody, a.ResponseBodyEncoding, a.ResponseTruncated, a.Escaped,
		a.DurationMS, a.Error, a.Result, a.ExecutedAt)
	return n, translate(err, "attempt of step "+stepID)
}

// StepTry is one try of a step to record: the run's workflow id, the step's
// id and what was sent and received.
type StepTry struct {
	RunWorkflowID string
	StepID        string
	Attempt       Attempt
}

// RecordMany stores tries of steps in one statement, each numbered after its
// step's earlier tries (and after the tries before it in tries). Any bytes
// are stored (see Attempt). Tries that share a statement share its fate:
// when it fails, record them one by one with Record.
func (s *StepAttempts) RecordMany(ctx context.Context, tries []StepTry) error {
	if len(tries) == 0 {
		return nil
	}
	type row struct {
		Ord           int       `json:"ord"`
		RunWorkflowID string    `json:"run_workflow_id"`
		StepID        string    `json:"step_id"`
		Method        string    `json:"request_method"`
		URL           string    `json:"request_url"`
		ReqHeaders    headerMap `json:"request_headers"`
		ReqBody       string    `json:"request_body"`
		ReqEncoding   string    `json:"request_body_encoding"`
		Status        int64     `json:"response_status"`
		RespHeaders   headerMap `json:"response_headers"`
		RespBody      string    `json:"response_body"`
		RespEncoding  string    `json:"response_body_encoding"`
		Truncated     bool      `json:"response_truncated"`
		Escaped       bool      `json:"escaped"`
		DurationMS    int       `json:"duration_ms"`
		Error         string    `json:"error"`
		Result        string    `json:"result"`
		ExecutedAt    time.Time `json:"executed_at"`
	}
	rows := make([]row, len(tries))
	for i, t := range tries {
		a := t.Attempt.storable()
		rows[i] = row{Ord: i, RunWorkflowID: t.RunWorkflowID, StepID: t.StepID, Method: a.RequestMethod,
			URL: a.RequestURL, ReqHeaders: a.RequestHeaders.V, ReqBody: a.RequestBody, ReqEncoding: a.RequestBodyEncoding,
			Status: int64(a.Status()), RespHeaders: a.ResponseHeaders.V, RespBody: a.ResponseBody,
			RespEncoding: a.ResponseBodyEncoding, Truncated: a.ResponseTruncated, Escaped: a.Escaped,
			DurationMS: a.DurationMS, Error: a.Error, Result: a.Result, ExecutedAt: a.ExecutedAt}
	}
	raw, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO step_attempts (run_workflow_id, step_id, attempt, request_method,
		request_url, request_headers, request_body, request_body_encoding, response_status, response_headers,
		response_body, response_body_encoding, response_truncated, escaped, duration_ms, error, result, executed_at)
		SELECT t.run_workflow_id, t.step_id,
			COALESCE((SELECT max(s.attempt) FROM step_attempts s
				WHERE s.run_workflow_id = t.run_workflow_id AND s.step_id = t.step_id), 0)
				+ row_number() OVER (PARTITION BY t.run_workflow_id, t.step_id ORDER BY t.ord),
			t.request_method, t.request_url, COALESCE(t.request_headers, '{}'), t.request_body,
			t.request_body_encoding, NULLIF(t.response_status, 0), COALESCE(t.response_headers, '{}'),
			t.response_body, t.response_body_encoding, t.response_truncated, t.escaped, t.duration_ms, t.error,
			t.result, t.executed_at
		FROM jsonb_to_recordset($1::jsonb) AS t(ord int, run_workflow_id text, step_id text, request_method text,
			request_url text, request_headers jsonb, request_body text, request_body_encoding text,
			response_status int, response_headers jsonb, response_body text, response_body_encoding text,
			response_truncated boolean, escaped boolean, duration_ms int, error text, result text,
			executed_at timestamptz)`, string(raw))
	return translate(err, "attempts of steps")
}

// OfRuns lists the step tries of runs (by their workflow ids), each step's
// newest first.
func (s *StepAttempts) OfRuns(ctx context.Context, runWorkflowIDs []string) ([]StepAttempt, error) {
	var out []StepAttempt
	err := s.DB.SelectContext(ctx, &out, `SELECT `+stepAttemptColumns+` FROM step_attempts
		WHERE run_workflow_id = ANY($1) ORDER BY run_workflow_id, step_id, attempt DESC`, pq.StringArray(runWorkflowIDs))
	return out, translate(err, "step attempts")
}
