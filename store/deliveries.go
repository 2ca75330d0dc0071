package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
)

// Deliveries is the repository of deliveries and their attempts.
type Deliveries struct {
	DB *sqlx.DB
}

// Delivery is one (webhook, event) pair and where it stands.
type Delivery struct {
	ID             string     `db:"id" json:"id"`
	Seq            int64      `db:"seq" json:"-"`
	WebhookID      string     `db:"webhook_id" json:"webhook_id"`
	WebhookCode    string     `db:"webhook_code" json:"webhook_code"`
	EventID        string     `db:"event_id" json:"event_id"`
	EventType      string     `db:"event_type" json:"event_type"`
	Status         string     `db:"status" json:"status"`
	Attempts       int        `db:"attempts" json:"attempts"`
	WindowStart    time.Time  `db:"window_start" json:"-"`
	WindowAttempts int        `db:"window_attempts" json:"-"`
	LastStatusCode *int       `db:"last_status_code" json:"-"`
	LastError      string     `db:"last_error" json:"last_error,omitempty"`
	NextAttemptAt  *time.Time `db:"next_attempt_at" json:"-"`
	WorkflowID     string     `db:"workflow_id" json:"workflow_id"`
	RunID          string     `db:"run_id" json:"run_id"`
	CreatedAt      time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt      time.Time  `db:"updated_at" json:"updated_at"`
	CompletedAt    *time.Time `db:"completed_at" json:"-"`
	BatchID        string     `db:"batch_id" json:"-"`
	// ParkedAt is when the delivery was left waiting, with no workflow, for
	// its disabled webhook to be enabled again.
	ParkedAt *time.Time `db:"parked_at" json:"-"`
	// DispatchGroup is the batch group whose workflow made the first try
	// ('' when the batch was handed over alone).
	DispatchGroup string `db:"dispatch_group" json:"-"`
	// Ordered is fixed when the delivery is planned: an ordered delivery
	// belongs to its webhook's queue workflow, whatever the webhook's
	// setting is now.
	Ordered bool `db:"ordered" json:"-"`
	// Request is the request a webhook action rendered (nil for a
	// subscription's delivery, which renders its webhook's templates).
	Request jsonb[*StepRequest] `db:"request" json:"-"`
	// RunWorkflowID and StepID name the run and step of a webhook action
	// that made the delivery ('' for a subscription's).
	RunWorkflowID  string    `db:"run_workflow_id" json:"-"`
	StepID         string    `db:"step_id" json:"-"`
	EventData      []byte    `db:"event_data" json:"-"`
	EventSubject   string    `db:"event_subject" json:"-"`
	EventTime      time.Time `db:"event_occurred_at" json:"-"`
	WebhookEnabled bool      `db:"webhook_enabled" json:"-"`
}

// StepRequest is the request a webhook action rendered, nil for a
// subscription's delivery.
func (d *Delivery) StepRequest() *StepRequest { return d.Request.V }

// Event rebuilds the delivery's event.
func (d *Delivery) Event() domain.Event {
	return domain.Event{ID: d.EventID, Type: d.EventType, Subject: d.EventSubject, OccurredAt: d.EventTime.UTC(), Data: d.EventData}
}

// deliverySelect reads deliveries with their webhook and event.
var deliverySelect = deliverySelectFrom("deliveries")

// deliverySelectFrom reads the delivery rows of src (a table or a CTE with
// the deliveries' columns) as d, with their webhook and event.
func deliverySelectFrom(src string) string {
	return `SELECT d.id, d.seq, d.webhook_id, w.code AS webhook_code, d.event_id, e.type AS event_type,
	d.status, d.attempts, d.window_start, d.window_attempts, d.last_status_code, d.last_error, d.next_attempt_at, d.workflow_id, d.run_id,
	d.created_at, d.updated_at, d.completed_at, d.batch_id, d.parked_at, d.ordered, w.enabled AS webhook_enabled,
	d.request, d.run_workflow_id, d.step_id,
	COALESCE((SELECT dispatch_group FROM publish_batches b WHERE b.id = d.batch_id), '') AS dispatch_group,
	e.data AS event_data, e.subject AS event_subject, e.occurred_at AS event_occurred_at
	FROM ` + src + ` d JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id`
}

// Get finds one delivery.
func (s *Deliveries) Get(ctx context.Context, id string) (*Delivery, error) {
	var d Delivery
	if err := s.DB.GetContext(ctx, &d, deliverySelect+` WHERE d.id = $1`, id); err != nil {
		return nil, translate(err, "delivery "+id)
	}
	return &d, nil
}

// CarriedBy lists up to limit pending deliveries, not parked, that workflow
// carrier carries, in publish order: a webhook's backlog workflow reads its
// backlog with it.
func (s *Deliveries) CarriedBy(ctx context.Context, webhookID, carrier string, limit int) ([]*Delivery, error) {
	var out []*Delivery
	err := s.DB.SelectContext(ctx, &out, deliverySelect+` WHERE d.webhook_id = $1 AND d.status = 'pending'
		AND d.workflow_id = $2 AND d.parked_at IS NULL ORDER BY d.seq LIMIT $3`, webhookID, carrier, limit)
	return out, translate(err, "backlog deliveries")
}

// PendingOrdered lists up to limit pending deliveries of an ordered webhook's
// queue in publish order.
func (s *Deliveries) PendingOrdered(ctx context.Context, webhookID string, limit int) ([]*Delivery, error) {
	var out []*Delivery
	err := s.DB.SelectContext(ctx, &out, deliverySelect+` WHERE d.webhook_id = $1 AND d.status = 'pending'
		AND d.ordered ORDER BY d.seq LIMIT $2`, webhookID, limit)
	return out, translate(err, "ordered deliveries")
}

// DeliveryFilter narrows a delivery list.
type DeliveryFilter struct {
	WebhookID string
	// RunWorkflowID keeps the deliveries a run's webhook actions made.
	RunWorkflowID string
	EventID       string
	Status        string
	Since         time.Time
	Until         time.Time
}

var deliverySorts = map[string]string{"created_at": "d.created_at", "updated_at": "d.updated_at", "attempts": "d.attempts"}

// DeliverySortFields are the fields a delivery list may be sorted by.
func DeliverySortFields() []string { return []string{"created_at", "updated_at", "attempts"} }

// List returns one page of deliveries, newest first.
func (s *Deliveries) List(ctx context.Context, f DeliveryFilter, p domain.Page) (domain.List[*Delivery], error) {
	var q listQuery
	q.eq("d.webhook_id", f.WebhookID)
	q.eq("d.run_workflow_id", f.RunWorkflowID)
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

// Attempt is one HTTP try of a delivery. Bodies, headers, URL and error
// hold what was sent and received; when written, texts PostgreSQL cannot
// store are kept in a storable form (see storableBody and storableText) and
// the encoding fields and Escaped say so when read back.
type Attempt struct {
	ID                   int64            `db:"id" json:"id"`
	DeliveryID           string           `db:"delivery_id" json:"delivery_id"`
	Attempt              int              `db:"attempt" json:"attempt"`
	RequestMethod        string           `db:"request_method" json:"-"`
	RequestURL           string           `db:"request_url" json:"-"`
	RequestHeaders       jsonb[headerMap] `db:"request_headers" json:"-"`
	RequestBody          string           `db:"request_body" json:"-"`
	RequestBodyEncoding  string           `db:"request_body_encoding" json:"-"`
	ResponseStatus       *int             `db:"response_status" json:"-"`
	ResponseHeaders      jsonb[headerMap] `db:"response_headers" json:"-"`
	ResponseBody         string           `db:"response_body" json:"-"`
	ResponseBodyEncoding string           `db:"response_body_encoding" json:"-"`
	ResponseTruncated    bool             `db:"response_truncated" json:"-"`
	// Escaped: a header, the URL or the error held bytes PostgreSQL cannot
	// store, written as \xNN.
	Escaped    bool      `db:"escaped" json:"-"`
	DurationMS int       `db:"duration_ms" json:"duration_ms"`
	Error      string    `db:"error" json:"error"`
	Result     string    `db:"result" json:"result"`
	ExecutedAt time.Time `db:"executed_at" json:"executed_at"`
	// WorkflowID is the workflow whose activity made the attempt.
	WorkflowID string `db:"workflow_id" json:"-"`
}

// headerMap is a header map as stored; repeated headers are joined with ", ".
type headerMap = map[string]string

// Attempt results.
const (
	AttemptSucceeded = "SUCCESS"
	AttemptFailed    = "FAILED"
)

// NewAttempt builds an Attempt row from plain values; success says whether
// the answer counts as SUCCESS. Bodies may hold any bytes.
func NewAttempt(deliveryID string, method, url string, reqHeaders map[string]string, reqBody string,
	status int, respHeaders map[string]string, respBody string, truncated bool, dur time.Duration, errText string,
	executedAt time.Time, success bool) Attempt {
	a := Attempt{
		DeliveryID: deliveryID, RequestMethod: method, RequestURL: url,
		RequestHeaders: jsonb[headerMap]{reqHeaders}, RequestBody: reqBody,
		ResponseHeaders: jsonb[headerMap]{respHeaders}, ResponseBody: respBody, ResponseTruncated: truncated,
		DurationMS: int(dur.Milliseconds()), Error: errText, ExecutedAt: executedAt.UTC(),
	}
	if status > 0 {
		a.ResponseStatus = &status
	}
	a.Result = AttemptFailed
	if success && errText == "" {
		a.Result = AttemptSucceeded
	}
	return a
}

// storable returns the attempt as PostgreSQL can store it.
func (a Attempt) storable() Attempt {
	var esc [5]bool
	if a.RequestBodyEncoding == "" {
		a.RequestBody, a.RequestBodyEncoding = storableBody(a.RequestBody)
	}
	if a.ResponseBodyEncoding == "" {
		a.ResponseBody, a.ResponseBodyEncoding = storableBody(a.ResponseBody)
	}
	a.RequestHeaders.V, esc[0] = storableHeaders(a.RequestHeaders.V)
	a.ResponseHeaders.V, esc[1] = storableHeaders(a.ResponseHeaders.V)
	a.RequestURL, esc[2] = storableText(a.RequestURL)
	a.Error, esc[3] = storableText(truncateText(a.Error, 2000))
	a.RequestMethod, esc[4] = storableText(a.RequestMethod)
	a.Escaped = a.Escaped || esc[0] || esc[1] || esc[2] || esc[3] || esc[4]
	if a.RequestHeaders.V == nil {
		a.RequestHeaders.V = map[string]string{}
	}
	if a.ResponseHeaders.V == nil {
		a.ResponseHeaders.V = map[string]string{}
	}
	return a
}

// Headers returns the stored request and response headers.
func (a *Attempt) Headers() (request, response map[string]string) {
	return a.RequestHeaders.V, a.ResponseHeaders.V
}

// Status is the response status, 0 when there was no response.
func (a *Attempt) Status() int {
	if a.ResponseStatus == nil {
		return 0
	}
	return *a.ResponseStatus
}

// Outcome is the state a delivery moves to.
type Outcome struct {
	DeliveryID    string
	Status        string // pending (to retry), succeeded, failed, canceled
	LastCode      int
	LastError     string
	NextAttemptAt *time.Time
	// WorkflowID and RunID, when set, name the workflow that carries the
	// delivery from now on.
	WorkflowID string
	RunID      string
	// Carrier, when set, is the workflow recording: the delivery's state
	// changes only while it carries the delivery (the try is logged anyway).
	Carrier string
}

// Record is one thing that happened to a delivery: a try (Attempt) and the
// state it leads to, or a state change alone (Attempt nil: given up,
// canceled).
type Record struct {
	Attempt *Attempt
	Outcome Outcome
}

// recordSQL applies records in one statement. Each try takes the next
// attempt number of its delivery under the row's lock, so attempt numbers
// never collide, whoever records. Only a pending delivery changes state,
// and only when the recording workflow (o.carrier) still carries it: a
// succeeded, failed or canceled delivery keeps its state (a late or
// duplicate try is still logged), so nothing but an explicit retry turns a
// finished delivery back to pending.
var recordSQL = strings.ReplaceAll(`WITH o AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::int[], $26::text[])
			AS o(id, status, code, error, next_at, workflow_id, run_id, tried, carrier)
	), upd AS (
		UPDATE deliveries d SET
			attempts = d.attempts + o.tried,
			status = CASE WHEN {ok} THEN o.status ELSE d.status END,
			last_status_code = CASE WHEN {ok} AND (o.tried = 1 OR o.code <> 0) THEN NULLIF(o.code, 0) ELSE d.last_status_code END,
			last_error = CASE WHEN {ok} THEN o.error ELSE d.last_error END,
			next_attempt_at = CASE WHEN {ok} THEN o.next_at ELSE d.next_attempt_at END,
			workflow_id = CASE WHEN {ok} AND o.workflow_id <> '' THEN o.workflow_id ELSE d.workflow_id END,
			run_id = CASE WHEN {ok} AND o.run_id <> '' THEN o.run_id ELSE d.run_id END,
			parked_at = CASE WHEN {ok} AND o.status <> 'pending' THEN NULL ELSE d.parked_at END,
			updated_at = now(),
			completed_at = CASE WHEN {ok} AND o.status IN ('succeeded', 'failed', 'canceled') THEN now() ELSE d.completed_at END
		FROM o WHERE d.id = o.id
		RETURNING d.id, d.attempts, o.tried
	)
	INSERT INTO delivery_attempts (delivery_id, attempt, request_method, request_url, request_headers,
		request_body, request_body_encoding, response_status, response_headers, response_body, response_body_encoding,
		response_truncated, escaped, duration_ms, error, result, executed_at, workflow_id)
	SELECT a.id, upd.attempts, a.method, a.url, a.req_headers::jsonb, a.req_body, a.req_enc, NULLIF(a.status, 0),
		a.resp_headers::jsonb, a.resp_body, a.resp_enc, a.truncated, a.escaped, a.duration, a.error, a.result, a.executed_at, a.workflow_id
	FROM upd JOIN unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::int[],
		$16::text[], $17::text[], $18::text[], $19::bool[], $20::bool[], $21::int[], $22::text[], $23::text[],
		$24::timestamptz[], $25::text[])
		AS a(id, method, url, req_headers, req_body, req_enc, status, resp_headers, resp_body, resp_enc,
			truncated, escaped, duration, error, result, executed_at, workflow_id) ON a.id = upd.id
	WHERE upd.tried = 1`,
	"{ok}", "(d.status = 'pending' AND (o.carrier = '' OR d.workflow_id IN ('', o.carrier)))")

// Record stores what happened to deliveries — tries and the states they lead
// to — in one statement. A delivery may appear once per call. Every text is
// stored in a form PostgreSQL takes, whatever bytes it held. Unknown
// deliveries (deleted meanwhile) are skipped.
func (s *Deliveries) Record(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	n := len(recs)
	ids, statuses, errs, wfs, runs, carriers := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	codes, tried := make([]int64, n), make([]int64, n)
	nexts := make([]sql.NullString, n)
	var at attemptColumns
	for i, r := range recs {
		o := r.Outcome
		ids[i], statuses[i], wfs[i], runs[i], carriers[i] = o.DeliveryID, o.Status, o.WorkflowID, o.RunID, o.Carrier
		errs[i], _ = storableText(truncateText(o.LastError, 2000))
		codes[i] = int64(o.LastCode)
		if o.NextAttemptAt != nil {
			nexts[i] = sql.NullString{String: o.NextAttemptAt.UTC().Format(time.RFC3339Nano), Valid: true}
		}
		if r.Attempt != nil {
			tried[i] = 1
			a := *r.Attempt
			a.DeliveryID = o.DeliveryID
			if err := at.add(a.storable()); err != nil {
				return fmt.Errorf("record attempt of %s: %w", o.DeliveryID, err)
			}
		}
	}
	args := []any{pq.StringArray(ids), pq.StringArray(statuses), pq.Int64Array(codes), pq.StringArray(errs),
		pq.Array(nexts), pq.StringArray(wfs), pq.StringArray(runs), pq.Int64Array(tried)}
	args = append(args, at.args()...)
	args = append(args, pq.StringArray(carriers))
	_, err := s.DB.ExecContext(ctx, recordSQL, args...)
	return translate(err, "record deliveries")
}

// attemptColumns are attempt rows as the column arrays recordSQL unnests.
type attemptColumns struct {
	id, method, url, reqHeaders, reqBody, reqEnc, respHeaders, respBody, respEnc, errText, result, executedAt, workflowID []string
	status, duration                                                                                                      []int64
	truncated, escaped                                                                                                    []bool
}

func (c *attemptColumns) add(a Attempt) error {
	reqH, err := json.Marshal(a.RequestHeaders.V)
	if err != nil {
		return err
	}
	respH, err := json.Marshal(a.ResponseHeaders.V)
	if err != nil {
		return err
	}
	c.id = append(c.id, a.DeliveryID)
	c.method = append(c.method, a.RequestMethod)
	c.url = append(c.url, a.RequestURL)
	c.reqHeaders = append(c.reqHeaders, string(reqH))
	c.reqBody = append(c.reqBody, a.RequestBody)
	c.reqEnc = append(c.reqEnc, a.RequestBodyEncoding)
	c.status = append(c.status, int64(a.Status()))
	c.respHeaders = append(c.respHeaders, string(respH))
	c.respBody = append(c.respBody, a.ResponseBody)
	c.respEnc = append(c.respEnc, a.ResponseBodyEncoding)
	c.truncated = append(c.truncated, a.ResponseTruncated)
	c.escaped = append(c.escaped, a.Escaped)
	c.duration = append(c.duration, int64(a.DurationMS))
	c.errText = append(c.errText, a.Error)
	c.result = append(c.result, a.Result)
	c.executedAt = append(c.executedAt, a.ExecutedAt.UTC().Format(time.RFC3339Nano))
	c.workflowID = append(c.workflowID, a.WorkflowID)
	return nil
}

func (c *attemptColumns) args() []any {
	return []any{pq.StringArray(c.id), pq.StringArray(c.method), pq.StringArray(c.url), pq.StringArray(c.reqHeaders),
		pq.StringArray(c.reqBody), pq.StringArray(c.reqEnc), pq.Int64Array(c.status), pq.StringArray(c.respHeaders),
		pq.StringArray(c.respBody), pq.StringArray(c.respEnc), pq.BoolArray(c.truncated), pq.BoolArray(c.escaped),
		pq.Int64Array(c.duration), pq.StringArray(c.errText), pq.StringArray(c.result), pq.StringArray(c.executedAt),
		pq.StringArray(c.workflowID)}
}

// ClaimInBatches claims for workflow carrier the pending unordered
// deliveries of publish batches that no other workflow carries (nor parked),
// and returns them with those the batches were stored carried by it
// (StoreBatchIn), in publish order. Claiming first makes a batch's
// deliveries belong to one group workflow even if a group is ever handed
// over twice under different names; calling it again from the same workflow
// (a retried activity) returns what it still carries. Deliveries stored
// carried by it are not written: most of a group's are.
//
// backlogs maps webhook ids to the backlog workflow that takes their
// deliveries instead (their receivers are at their limit): the same
// statement hands those to it, so they are carried by one workflow from the
// start, and handed says how many were.
func (s *Deliveries) ClaimInBatches(ctx context.Context, batchIDs []string, carrier string, backlogs map[string]string) (own []*Delivery, handed int, err error) {
	hooks, to := make([]string, 0, len(backlogs)), make([]string, 0, len(backlogs))
	for h, c := range backlogs {
		hooks, to = append(hooks, h), append(to, c)
	}
	var claimed []*Delivery
	if err := s.DB.SelectContext(ctx, &claimed, claimSQL, pq.StringArray(batchIDs), carrier, pq.StringArray(hooks), pq.StringArray(to)); err != nil {
		return nil, 0, translate(err, "claim batch deliveries")
	}
	for _, d := range claimed {
		if d.WorkflowID == carrier {
			own = append(own, d)
		} else {
			handed++
		}
	}
	return own, handed, nil
}

// claimSQL claims the deliveries no workflow carries (and hands a busy
// webhook's to its backlog), reads those already carried by the claimer,
// and returns both as deliverySelect reads deliveries, in publish order.
// The two parts see one snapshot and take disjoint rows.
var claimSQL = `WITH claimed AS (
		UPDATE deliveries d SET workflow_id = COALESCE(
			(SELECT b.carrier FROM unnest($3::text[], $4::text[]) AS b(webhook_id, carrier) WHERE b.webhook_id = d.webhook_id),
			$2), updated_at = now()
		WHERE d.batch_id = ANY($1) AND NOT d.ordered AND d.status = 'pending' AND d.parked_at IS NULL
			AND (d.workflow_id = '' OR (d.workflow_id = $2 AND d.webhook_id = ANY($3)))
		RETURNING d.*
	), carried AS (
		SELECT d.* FROM deliveries d
		WHERE d.batch_id = ANY($1) AND NOT d.ordered AND d.status = 'pending' AND d.parked_at IS NULL
			AND d.workflow_id = $2 AND d.webhook_id <> ALL($3)
	), taken AS (SELECT * FROM claimed UNION ALL SELECT * FROM carried)
	` + deliverySelectFrom("taken") + ` ORDER BY d.seq`

// OwnDelivery is a delivery given a workflow of its own at hand-over.
type OwnDelivery struct {
	ID          string `db:"id"`
	WebhookID   string `db:"webhook_id"`
	WebhookCode string `db:"webhook_code"`
	EventID     string `db:"event_id"`
	EventType   string `db:"event_type"`
}

// ClaimEachInBatches claims every pending unordered delivery of publish
// batches for a workflow of its own, named prefix + its id (unless another
// workflow carries it), and returns them, claimed now or before.
func (s *Deliveries) ClaimEachInBatches(ctx context.Context, batchIDs []string, prefix string) ([]OwnDelivery, error) {
	var out []OwnDelivery
	err := s.DB.SelectContext(ctx, &out, `WITH own AS (
			UPDATE deliveries SET workflow_id = $2 || id, updated_at = now()
			WHERE batch_id = ANY($1) AND NOT ordered AND status = 'pending' AND parked_at IS NULL
				AND workflow_id IN ('', $2 || id)
			RETURNING id, webhook_id, event_id, seq)
		SELECT own.id, own.webhook_id, w.code AS webhook_code, own.event_id, e.type AS event_type
		FROM own JOIN webhooks w ON w.id = own.webhook_id JOIN events e ON e.id = own.event_id
		ORDER BY own.seq`, pq.StringArray(batchIDs), prefix)
	return out, translate(err, "claim deliveries one by one")
}

// HandOver records that workflow to carries a pending delivery from now on,
// if from (the workflow that carried it, or ” for none) still does. It
// reports whether the delivery is now carried by to.
func (s *Deliveries) HandOver(ctx context.Context, id, from, to string) (bool, error) {
	res, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET workflow_id = $3, run_id = '', parked_at = NULL, updated_at = now()
		WHERE id = $1 AND status = 'pending' AND workflow_id IN ($2, $3)`, id, from, to)
	if err != nil {
		return false, translate(err, "hand delivery over")
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// HandOverAll is HandOver for many deliveries at once: those of ids that
// are pending and carried by from (or already by to) are carried by to from
// now on. It returns how many are.
func (s *Deliveries) HandOverAll(ctx context.Context, ids []string, from, to string) (int, error) {
	res, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET workflow_id = $3, run_id = '', updated_at = now()
		WHERE id = ANY($1) AND status = 'pending' AND workflow_id IN ($2, $3)`, pq.StringArray(ids), from, to)
	if err != nil {
		return 0, translate(err, "hand deliveries over")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// SetWorkflow records which workflow carries a delivery now.
func (s *Deliveries) SetWorkflow(ctx context.Context, ids []string, workflowID, runID string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET workflow_id = $2, run_id = $3, updated_at = now()
		WHERE id = ANY($1)`, pq.StringArray(ids), workflowID, runID)
	return translate(err, "set delivery workflow")
}

// Park leaves a pending delivery of a disabled webhook waiting with no
// workflow: enabling the webhook hands it over again (ResumeParked). It
// reports false when the delivery is no longer pending or its webhook was
// enabled meanwhile (then the caller goes on delivering).
func (s *Deliveries) Park(ctx context.Context, id string) (bool, error) {
	res, err := s.DB.ExecContext(ctx, `UPDATE deliveries d SET parked_at = now(), workflow_id = '', run_id = '', updated_at = now()
		FROM webhooks w WHERE d.id = $1 AND w.id = d.webhook_id AND d.status = 'pending' AND NOT w.enabled`, id)
	if err != nil {
		return false, translate(err, "park delivery")
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ParkedBatchSize is how many parked deliveries one resumed batch holds.
const ParkedBatchSize = 2000

// ResumeParked hands the parked deliveries of enabled webhooks (or of the
// given webhooks only) over again: they are put, in publish order, into new
// publish batches of up to ParkedBatchSize that wait for a hand-over like
// freshly published ones (undispatched: the caller dispatches them, or the
// sweep does after the lease), so no hand-over is lost if the caller dies.
// It returns the new batches' ids.
func (s *Deliveries) ResumeParked(ctx context.Context, webhookIDs []string, limit int) ([]string, error) {
	var batches []string
	err := withTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var ids []string
		q := `SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.parked_at IS NOT NULL AND d.status = 'pending' AND w.enabled`
		args := []any{limit}
		if webhookIDs != nil {
			q += ` AND d.webhook_id = ANY($2)`
			args = append(args, pq.StringArray(webhookIDs))
		}
		q += ` ORDER BY d.seq LIMIT $1 FOR UPDATE OF d SKIP LOCKED`
		if err := tx.SelectContext(ctx, &ids, q, args...); err != nil {
			return translate(err, "parked deliveries")
		}
		for start := 0; start < len(ids); start += ParkedBatchSize {
			end := min(start+ParkedBatchSize, len(ids))
			batch := NewID(PrefixBatch)
			if _, err := tx.ExecContext(ctx, insertBatch, batch, dispatchLease.Milliseconds(), ""); err != nil {
				return translate(err, "publish batch")
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET parked_at = NULL, batch_id = $2, updated_at = now()
				WHERE id = ANY($1)`, pq.StringArray(ids[start:end]), batch); err != nil {
				return translate(err, "resume parked deliveries")
			}
			batches = append(batches, batch)
		}
		return nil
	})
	return batches, err
}

// Attempts lists a delivery's attempts, newest first.
func (s *Deliveries) Attempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	var out []Attempt
	err := s.DB.SelectContext(ctx, &out, `SELECT * FROM delivery_attempts WHERE delivery_id = $1
		ORDER BY attempt DESC`, deliveryID)
	return out, translate(err, "attempts of "+deliveryID)
}

// Reopen sets a finished (failed or canceled) delivery back to pending for a
// manual retry, carried from now on by workflowID. A pending or succeeded
// one is ErrUnprocessable.
func (s *Deliveries) Reopen(ctx context.Context, id, workflowID string) error {
	res, err := s.DB.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', completed_at = NULL,
		next_attempt_at = NULL, window_start = now(), window_attempts = attempts, parked_at = NULL,
		workflow_id = $2, run_id = '', updated_at = now()
		WHERE id = $1 AND status IN ('failed', 'canceled')`, id, workflowID)
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
