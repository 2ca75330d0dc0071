package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
	DeliveryCanceled  = "canceled"
)

// Deliveries is the repository of deliveries and their attempts.
type Deliveries struct {
	DB *sqlx.DB
}

// Delivery is one (webhook, event) pair and where it stands.
type Delivery struct {
	ID             string        `db:"id" json:"id"`
	Seq            int64         `db:"seq" json:"-"`
	WebhookID      string        `db:"webhook_id" json:"webhook_id"`
	WebhookCode    string        `db:"webhook_code" json:"webhook_code"`
	EventID        string        `db:"event_id" json:"event_id"`
	EventType      string        `db:"event_type" json:"event_type"`
	Status         string        `db:"status" json:"status"`
	Attempts       int           `db:"attempts" json:"attempts"`
	WindowStart    time.Time     `db:"window_start" json:"-"`
	WindowAttempts int           `db:"window_attempts" json:"-"`
	LastStatusCode sql.NullInt64 `db:"last_status_code" json:"-"`
	LastError      string        `db:"last_error" json:"last_error,omitempty"`
	NextAttemptAt  sql.NullTime  `db:"next_attempt_at" json:"-"`
	WorkflowID     string        `db:"workflow_id" json:"workflow_id"`
	RunID          string        `db:"run_id" json:"run_id"`
	CreatedAt      time.Time     `db:"created_at" json:"created_at"`
	UpdatedAt      time.Time     `db:"updated_at" json:"updated_at"`
	CompletedAt    sql.NullTime  `db:"completed_at" json:"-"`
	BatchID        string        `db:"batch_id" json:"-"`
	// DispatchGroup is the batch group whose workflow made the first try
	// ('' when the batch was handed over alone).
	DispatchGroup  sql.NullString `db:"dispatch_group" json:"-"`
	Ordered        bool           `db:"ordered" json:"-"`
	EventData      []byte         `db:"event_data" json:"-"`
	EventSubject   string         `db:"event_subject" json:"-"`
	EventTime      time.Time      `db:"event_occurred_at" json:"-"`
	WebhookEnabled bool           `db:"webhook_enabled" json:"-"`
}

// Event rebuilds the delivery's event.
func (d *Delivery) Event() domain.Event {
	return domain.Event{ID: d.EventID, Type: d.EventType, Subject: d.EventSubject, OccurredAt: d.EventTime.UTC(), Data: d.EventData}
}

const deliverySelect = `SELECT d.id, d.seq, d.webhook_id, w.code AS webhook_code, d.event_id, e.type AS event_type,
	d.status, d.attempts, d.window_start, d.window_attempts, d.last_status_code, d.last_error, d.next_attempt_at, d.workflow_id, d.run_id,
	d.created_at, d.updated_at, d.completed_at, d.batch_id, w.ordered, w.enabled AS webhook_enabled,
	(SELECT dispatch_group FROM publish_batches b WHERE b.id = d.batch_id) AS dispatch_group,
	e.data AS event_data, e.subject AS event_subject, e.occurred_at AS event_occurred_at
	FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id`

// Get finds one delivery.
func (s *Deliveries) Get(ctx context.Context, id string) (*Delivery, error) {
	var d Delivery
	if err := s.DB.GetContext(ctx, &d, deliverySelect+` WHERE d.id = $1`, id); err != nil {
		return nil, translate(err, "delivery "+id)
	}
	return &d, nil
}

// PendingInBatches lists the pending deliveries of publish batches to
// unordered webhooks: the work of the batches' first attempts. Calling it
// again after a crash returns only what is left.
func (s *Deliveries) PendingInBatches(ctx context.Context, batchIDs []string) ([]*Delivery, error) {
	var out []*Delivery
	err := s.DB.SelectContext(ctx, &out, deliverySelect+` WHERE d.batch_id = ANY($1) AND NOT w.ordered
		AND d.status = 'pending' ORDER BY d.seq`, pq.StringArray(batchIDs))
	return out, translate(err, "batch deliveries")
}

// PendingOrdered lists up to limit pending deliveries of an ordered webhook in
// publish order.
func (s *Deliveries) PendingOrdered(ctx context.Context, webhookID string, limit int) ([]*Delivery, error) {
	var out []*Delivery
	err := s.DB.SelectContext(ctx, &out, deliverySelect+` WHERE d.webhook_id = $1 AND d.status = 'pending'
		ORDER BY d.seq LIMIT $2`, webhookID, limit)
	return out, translate(err, "ordered deliveries")
}

// DeliveryFilter narrows a delivery list.
type DeliveryFilter struct {
	WebhookID string
	EventID   string
	Status    string
	Since     time.Time
	Until     time.Time
}

var deliverySorts = map[string]string{"created_at": "d.created_at", "updated_at": "d.updated_at", "attempts": "d.attempts"}

// DeliverySortFields are the fields a delivery list may be sorted by.
func DeliverySortFields() []string { return []string{"created_at", "updated_at", "attempts"} }

// List returns one page of deliveries, newest first.
func (s *Deliveries) List(ctx context.Context, f DeliveryFilter, p domain.Page) (domain.List[*Delivery], error) {
	var q listQuery
	q.eq("d.webhook_id", f.WebhookID)
	q.eq("d.event_id", f.EventID)
	q.eq("d.status", f.Status)
	if !f.Since.IsZero() {
		q.and("d.created_at >= " + q.arg(f.Since))
	}
	if !f.Until.IsZero() {
		q.and("d.created_at < " + q.arg(f.Until))
	}
	var out domain.List[*Delivery]
	err := q.page(ctx, s.DB, "deliveries d", deliverySelect, qualifiedOrderBy(p.Sort, deliverySorts, "d"), p, &out.Total, &out.Items, "deliveries")
	return out, err
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	ID                int64            `db:"id" json:"id"`
	DeliveryID        string           `db:"delivery_id" json:"delivery_id"`
	Attempt           int              `db:"attempt" json:"attempt"`
	RequestMethod     string           `db:"request_method" json:"-"`
	RequestURL        string           `db:"request_url" json:"-"`
	RequestHeaders    jsonb[headerMap] `db:"request_headers" json:"-"`
	RequestBody       string           `db:"request_body" json:"-"`
	ResponseStatus    sql.NullInt64    `db:"response_status" json:"-"`
	ResponseHeaders   jsonb[headerMap] `db:"response_headers" json:"-"`
	ResponseBody      string           `db:"response_body" json:"-"`
	ResponseTruncated bool             `db:"response_truncated" json:"-"`
	DurationMS        int              `db:"duration_ms" json:"duration_ms"`
	Error             string           `db:"error" json:"error"`
	Result            string           `db:"result" json:"result"`
	ExecutedAt        time.Time        `db:"executed_at" json:"executed_at"`
}

// headerMap is a header map as stored; repeated headers are joined with ", ".
type headerMap = map[string]string

// NewAttempt builds an Attempt row from plain values.
func NewAttempt(deliveryID string, n int, method, url string, reqHeaders map[string]string, reqBody string,
	status int, respHeaders map[string]string, respBody string, truncated bool, dur time.Duration, errText string,
	executedAt time.Time) Attempt {
	a := Attempt{
		DeliveryID: deliveryID, Attempt: n, RequestMethod: method, RequestURL: url,
		RequestHeaders: jsonb[headerMap]{reqHeaders}, RequestBody: reqBody,
		ResponseHeaders: jsonb[headerMap]{respHeaders}, ResponseBody: respBody, ResponseTruncated: truncated,
		DurationMS: int(dur.Milliseconds()), Error: errText, ExecutedAt: executedAt.UTC(),
	}
	if a.RequestHeaders.V == nil {
		a.RequestHeaders.V = map[string]string{}
	}
	if a.ResponseHeaders.V == nil {
		a.ResponseHeaders.V = map[string]string{}
	}
	if status > 0 {
		a.ResponseStatus = sql.NullInt64{Int64: int64(status), Valid: true}
	}
	a.Result = "FAILED"
	if domain.SuccessStatus(status) && errText == "" {
		a.Result = "SUCCESS"
	}
	return a
}

// Headers returns the stored request and response headers.
func (a *Attempt) Headers() (request, response map[string]string) {
	return a.RequestHeaders.V, a.ResponseHeaders.V
}

// Status is the response status, 0 when there was no response.
func (a *Attempt) Status() int { return int(a.ResponseStatus.Int64) }

// Outcome is the state a delivery moves to after attempts.
type Outcome struct {
	DeliveryID    string
	Status        string // pending (to retry), succeeded, failed, canceled
	Attempts      int    // the attempt number just made
	LastCode      int
	LastError     string
	NextAttemptAt *time.Time
	WorkflowID    string
	RunID         string
}

const (
	insertAttempts = `INSERT INTO delivery_attempts (delivery_id, attempt, request_method, request_url,
		request_headers, request_body, response_status, response_headers, response_body, response_truncated,
		duration_ms, error, result, executed_at)
		VALUES (:delivery_id, :attempt, :request_method, :request_url, :request_headers, :request_body,
		:response_status, :response_headers, :response_body, :response_truncated, :duration_ms, :error,
		:result, :executed_at)
		ON CONFLICT (delivery_id, attempt) DO NOTHING`
	applyOutcomes = `UPDATE deliveries d SET
		status = o.status,
		attempts = GREATEST(d.attempts, o.attempts),
		last_status_code = NULLIF(o.code, 0),
		last_error = o.error,
		next_attempt_at = o.next_at,
		workflow_id = CASE WHEN o.workflow_id <> '' THEN o.workflow_id ELSE d.workflow_id END,
		run_id = CASE WHEN o.run_id <> '' THEN o.run_id ELSE d.run_id END,
		updated_at = now(),
		completed_at = CASE WHEN o.status IN ('succeeded', 'failed', 'canceled') THEN now() ELSE NULL END
		FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::timestamptz[], $7::text[], $8::text[])
			AS o(id, status, attempts, code, error, next_at, workflow_id, run_id)
		WHERE d.id = o.id AND d.status NOT IN ('succeeded', 'canceled')`
)

// RecordAttempts stores attempt rows and the deliveries' new states in one
// transaction. Attempt numbers make it idempotent: a retried activity that
// records the same attempt again changes nothing. A delivery that already
// succeeded or was canceled keeps its state.
func (s *Deliveries) RecordAttempts(ctx context.Context, attempts []Attempt, outcomes []Outcome) error {
	return withTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		for start := 0; start < len(attempts); start += 500 {
			end := min(start+500, len(attempts))
			if _, err := tx.NamedExecContext(ctx, insertAttempts, attempts[start:end]); err != nil {
				return translate(err, "store attempts")
			}
		}
		if len(outcomes) == 0 {
			return nil
		}
		n := len(outcomes)
		ids, statuses, errs, wfs, runs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attemptsN, codes := make([]int64, n), make([]int64, n)
		nexts := make([]sql.NullString, n)
		for i, o := range outcomes {
			ids[i], statuses[i], errs[i], wfs[i], runs[i] = o.DeliveryID, o.Status, truncateText(o.LastError, 2000), o.WorkflowID, o.RunID
			attemptsN[i], codes[i] = int64(o.Attempts), int64(o.LastCode)
			if o.NextAttemptAt != nil {
				nexts[i] = sql.NullString{String: o.NextAttemptAt.UTC().Format(time.RFC3339Nano), Valid: true}
			}
		}
		_, err := tx.ExecContext(ctx, applyOutcomes, pq.StringArray(ids), pq.StringArray(statuses),
			pq.Int64Array(attemptsN), pq.Int64Array(codes), pq.StringArray(errs), pq.Array(nexts),
			pq.StringArray(wfs), pq.StringArray(runs))
		return translate(err, "update deliveries")
	})
}

// SetWorkflow records which workflow carries a delivery now.
func (s *Deliveries) SetWorkflow(ctx context.Context, ids []string, workflowID, runID string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET workflow_id = $2, run_id = $3, updated_at = now()
		WHERE id = ANY($1)`, pq.StringArray(ids), workflowID, runID)
	return translate(err, "set delivery workflow")
}

// Attempts lists a delivery's attempts, newest first.
func (s *Deliveries) Attempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	var out []Attempt
	err := s.DB.SelectContext(ctx, &out, `SELECT * FROM delivery_attempts WHERE delivery_id = $1
		ORDER BY attempt DESC`, deliveryID)
	return out, translate(err, "attempts of "+deliveryID)
}

// Reopen sets a finished (failed or canceled) delivery back to pending for a
// manual retry. A pending or succeeded one is ErrUnprocessable.
func (s *Deliveries) Reopen(ctx context.Context, id string) error {
	res, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', completed_at = NULL,
		next_attempt_at = NULL, window_start = now(), window_attempts = attempts, updated_at = now()
		WHERE id = $1 AND status IN ('failed', 'canceled')`, id)
	if err != nil {
		return translate(err, "reopen delivery")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Get(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("delivery %s is not failed or canceled: %w", id, domain.ErrUnprocessable)
	}
	return nil
}

// Insert stores a single delivery outside a publish (test sends).
func (s *Deliveries) Insert(ctx context.Context, id, webhookID, eventID string) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO deliveries (id, webhook_id, event_id, batch_id)
		VALUES ($1, $2, $3, '')`, id, webhookID, eventID)
	return translate(err, "delivery")
}

// CountByStatus counts a webhook's deliveries by status.
func (s *Deliveries) CountByStatus(ctx context.Context, webhookID string) (map[string]int, error) {
	rows := []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}{}
	if err := s.DB.SelectContext(ctx, &rows, `SELECT status, count(*) AS n FROM deliveries WHERE webhook_id = $1
		GROUP BY status`, webhookID); err != nil {
		return nil, translate(err, "count deliveries")
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
