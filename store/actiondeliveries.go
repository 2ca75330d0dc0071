package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/domain"
)

// A flow step's webhook action (ipSCAPE's trigger action) is delivered by
// the delivery engine: the step stores a delivery that carries the request
// it rendered, sent by a webhook owned by the run's trigger (or queue hook,
// or flow), which holds the signing secret. Signing, retries, Retry-After
// bounds, the attempt log, the reconciler and manual retry are then the
// ones every delivery has.

// WebhookOwner names what owns a webhook that is not a subscription: the
// trigger, queue hook or flow whose runs' webhook actions it sends. Exactly
// one field is set.
type WebhookOwner struct {
	TriggerID   string
	QueueHookID string
	FlowID      string
}

// column is the owner's column in webhooks and its id.
func (o WebhookOwner) column() (string, string, error) {
	switch {
	case o.TriggerID != "" && o.QueueHookID == "" && o.FlowID == "":
		return "owner_trigger_id", o.TriggerID, nil
	case o.QueueHookID != "" && o.TriggerID == "" && o.FlowID == "":
		return "owner_queue_hook_id", o.QueueHookID, nil
	case o.FlowID != "" && o.TriggerID == "" && o.QueueHookID == "":
		return "owner_flow_id", o.FlowID, nil
	}
	return "", "", fmt.Errorf("a webhook owner names exactly one trigger, queue hook or flow (%+v)", o)
}

// Code is the owned webhook's code, as delivery lists and Temporal's
// TriggerFlowWebhook show it: "trigger.<id>", "queue_hook.<id>" or
// "flow.<id>". Subscription codes never hold a dot, so the two never meet.
func (o WebhookOwner) Code() string {
	switch {
	case o.TriggerID != "":
		return "trigger." + o.TriggerID
	case o.QueueHookID != "":
		return "queue_hook." + o.QueueHookID
	}
	return "flow." + o.FlowID
}

// EnsureOwned returns the webhook owner's webhook actions are sent by,
// creating it (with secret, a fresh whsec_ signing secret) when it does not
// exist; created says which. Concurrent calls make one webhook.
func (s *Webhooks) EnsureOwned(ctx context.Context, owner WebhookOwner, secret string) (w *domain.Webhook, created bool, err error) {
	col, ownerID, err := owner.column()
	if err != nil {
		return nil, false, err
	}
	if w, err := s.Owned(ctx, owner); !errors.Is(err, domain.ErrNotFound) {
		return w, false, err
	}
	now := time.Now().UTC()
	row := toWebhookRow(&domain.Webhook{
		ID: NewID(PrefixWebhook), Code: owner.Code(), Name: "webhook actions of " + owner.Code(),
		Method: "POST", EventTypes: []string{}, Retry: domain.ActionRetryPolicy(""), Timeout: domain.DefaultWebhookTimeout,
		Enabled: true, Secret: secret, CreatedAt: now, UpdatedAt: now,
	})
	if err := sealSecrets(s.Cipher, &row); err != nil {
		return nil, false, err
	}
	res, err := s.DB.ExecContext(ctx, `INSERT INTO webhooks (id, code, name, url, method, event_types, retry, timeout_ms,
		enabled, secret, created_at, updated_at, `+col+`)
		VALUES ($1, $2, $3, '', $4, '{}', $5, $6, true, $7, $8, $8, $9) ON CONFLICT DO NOTHING`,
		row.ID, row.Code, row.Name, row.Method, row.Retry, row.TimeoutMS, row.Secret, now, ownerID)
	if err != nil {
		return nil, false, translate(err, "webhook of "+owner.Code())
	}
	n, _ := res.RowsAffected()
	w, err = s.Owned(ctx, owner)
	return w, n == 1, err
}

// Owned returns the webhook that sends owner's webhook actions
// (ErrNotFound when none was made yet).
func (s *Webhooks) Owned(ctx context.Context, owner WebhookOwner) (*domain.Webhook, error) {
	col, ownerID, err := owner.column()
	if err != nil {
		return nil, err
	}
	var r webhookRow
	if err := s.DB.GetContext(ctx, &r, `SELECT `+webhookColumns+` FROM webhooks WHERE `+col+` = $1`, ownerID); err != nil {
		return nil, translate(err, "webhook of "+owner.Code())
	}
	if err := openSecrets(s.Cipher, &r); err != nil {
		return nil, err
	}
	return r.toDomain(), nil
}

// RotateOwnedSecret gives owner's webhook a new signing secret; the old one
// also signs until keepOldUntil, so receivers can roll over.
func (s *Webhooks) RotateOwnedSecret(ctx context.Context, owner WebhookOwner, secret string, keepOldUntil time.Time) (*domain.Webhook, error) {
	w, err := s.Owned(ctx, owner)
	if err != nil {
		return nil, err
	}
	w.PreviousSecret, w.PreviousSecretUntil, w.Secret = w.Secret, &keepOldUntil, secret
	w.UpdatedAt = time.Now().UTC()
	row := toWebhookRow(w)
	if err := sealSecrets(s.Cipher, &row); err != nil {
		return nil, err
	}
	res, err := s.DB.NamedExecContext(ctx, `UPDATE webhooks SET secret = :secret, previous_secret = :previous_secret,
		previous_secret_until = :previous_secret_until, updated_at = :updated_at WHERE id = :id AND owned`, row)
	if err := oneRow(res, err, "webhook of "+owner.Code(), "webhook of "+owner.Code()); err != nil {
		return nil, err
	}
	return w, nil
}

// StepRequest is the request a webhook action rendered, kept on its
// delivery: every try — a manual retry included — sends it as the step
// rendered it, with the action's timeout and retry policy.
type StepRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	// Body is the text sent, or its base64 when BodyEncoding is "base64"
	// (bytes PostgreSQL cannot hold as text).
	Body         string             `json:"body"`
	BodyEncoding string             `json:"body_encoding,omitempty"`
	TimeoutMS    int64              `json:"timeout_ms"`
	Retry        domain.RetryPolicy `json:"retry"`
}

// NewStepRequest builds a StepRequest from what was rendered; the body may
// hold any bytes.
func NewStepRequest(method, url string, headers map[string]string, body []byte, timeout time.Duration, retry domain.RetryPolicy) StepRequest {
	text, enc := storableBody(string(body))
	return StepRequest{Method: method, URL: url, Headers: headers, Body: text, BodyEncoding: enc,
		TimeoutMS: timeout.Milliseconds(), Retry: retry}
}

// BodyBytes are the body's bytes as they are sent.
func (r StepRequest) BodyBytes() ([]byte, error) {
	if r.BodyEncoding == BodyBase64 {
		return base64.StdEncoding.DecodeString(r.Body)
	}
	return []byte(r.Body), nil
}

// Timeout is how long a try waits for the answer.
func (r StepRequest) Timeout() time.Duration {
	if r.TimeoutMS <= 0 {
		return domain.DefaultWebhookTimeout
	}
	return time.Duration(r.TimeoutMS) * time.Millisecond
}

// StepDelivery is the delivery a webhook action's step makes.
type StepDelivery struct {
	// ID is StepDeliveryID(RunWorkflowID, StepID).
	ID        string
	WebhookID string
	// Event is the run's event. One that is not stored (a scheduled run, a
	// flow run by hand with an event of its own) is stored with it.
	Event   domain.Event
	Request StepRequest
	// RunWorkflowID and StepID name the run and step that made it.
	RunWorkflowID string
	StepID        string
	// Carrier is the workflow that carries the delivery from the start: its
	// own, which the step starts next.
	Carrier string
}

// CreateForStep stores a webhook action's delivery (and its event, when
// that is not stored yet), unless the step made it before: a retried step
// finds the delivery it made, whatever happened to it since. It returns the
// delivery as stored.
func (s *Deliveries) CreateForStep(ctx context.Context, sd StepDelivery) (*Delivery, error) {
	req := jsonb[*StepRequest]{&sd.Request}
	err := withTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if err := insertEventIfAbsent(ctx, tx, sd.Event); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, webhook_id, event_id, batch_id, request,
			run_workflow_id, step_id, workflow_id) VALUES ($1, $2, $3, '', $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			sd.ID, sd.WebhookID, sd.Event.ID, req, sd.RunWorkflowID, sd.StepID, sd.Carrier)
		return translate(err, "delivery of step "+sd.StepID)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, sd.ID)
}

// insertEventIfAbsent stores e under a dispatched batch of its own unless
// an event with its id exists: it leads to nothing but the deliveries
// stored with it.
func insertEventIfAbsent(ctx context.Context, tx *sqlx.Tx, e domain.Event) error {
	var exists bool
	if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)`, e.ID); err != nil {
		return translate(err, "event "+e.ID)
	}
	if exists {
		return nil
	}
	batch := NewID(PrefixBatch)
	if _, err := tx.ExecContext(ctx, `INSERT INTO publish_batches (id, dispatched_at) VALUES ($1, now())`, batch); err != nil {
		return translate(err, "batch")
	}
	data := string(e.Data)
	if len(e.Data) == 0 {
		data = "{}"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO events (id, type, occurred_at, subject, data, batch_id)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`, e.ID, e.Type, e.OccurredAt, e.Subject, data, batch)
	return translate(err, "event "+e.ID)
}

// OwnerOfRun is the owner of the webhook that sends a run's webhook actions:
// its trigger, else its queue hook, else its flow.
func OwnerOfRun(r *Run) (WebhookOwner, error) {
	switch {
	case r.TriggerID != nil:
		return WebhookOwner{TriggerID: *r.TriggerID}, nil
	case r.QueueHookID != nil:
		return WebhookOwner{QueueHookID: *r.QueueHookID}, nil
	case r.FlowID != nil:
		return WebhookOwner{FlowID: *r.FlowID}, nil
	}
	return WebhookOwner{}, fmt.Errorf("run %s has neither a trigger, a queue hook nor a flow: %w", r.ID, domain.ErrInvalid)
}
