package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// Application error types workflows branch on.
const (
	// ErrTypePaused: the webhook is disabled; the delivery waits for enable.
	ErrTypePaused = "WebhookPaused"
	// ErrTypeGone: the delivery or its webhook no longer exists.
	ErrTypeGone = "DeliveryGone"
	// ErrTypePermanent: the receiver's answer (or the request) cannot succeed on retry.
	ErrTypePermanent = "PermanentFailure"
	// ErrTypeAttemptFailed: a retryable failure (5xx, 408, 429, timeout, connection).
	ErrTypeAttemptFailed = "AttemptFailed"
)

// DeliveryStarter starts the workflow that retries one delivery; the
// workflows package provides it (the consumer owns the interface).
type DeliveryStarter interface {
	StartDeliveryRetry(ctx context.Context, c client.Client, item RetryItem) (workflowID, runID string, err error)
}

// Webhooks holds the webhook delivery activities and their dependencies.
type Webhooks struct {
	Deliveries *store.Deliveries
	Webhooks   *store.Webhooks
	HTTP       *http.Client
	Temporal   client.Client
	Starter    DeliveryStarter
	// Concurrency bounds parallel requests of one batch (default 64).
	Concurrency int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (a *Webhooks) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// RetryItem is a delivery handed to its own workflow after its first try.
type RetryItem struct {
	DeliveryID  string
	WebhookID   string
	WebhookCode string
	EventID     string
	EventType   string
	// FirstDelay is how long to wait before the next try (the policy's
	// interval or the receiver's Retry-After); 0 when paused.
	FirstDelay time.Duration
}

// DeliverBatchInput names the publish batches delivered together: BatchIDs,
// or BatchID alone (batches handed over before grouping existed).
type DeliverBatchInput struct {
	BatchID  string
	BatchIDs []string `json:",omitempty"`
}

// batches lists the input's batch ids.
func (in DeliverBatchInput) batches() []string {
	if len(in.BatchIDs) > 0 {
		return in.BatchIDs
	}
	return []string{in.BatchID}
}

// DeliverBatchResult counts what the batch's first tries did.
type DeliverBatchResult struct {
	Succeeded int
	Failed    int
	// HandedOff deliveries continue in their own delivery- workflows
	// (retries, or paused because their webhook is disabled).
	HandedOff int
}

// DeliverBatch makes the first try of every delivery of a publish batch to
// unordered webhooks, concurrently over the shared client, records every
// attempt, and hands the ones to retry (or paused) to their own workflows.
// Retrying the activity after a crash only does what is left.
func (a *Webhooks) DeliverBatch(ctx context.Context, in DeliverBatchInput) (DeliverBatchResult, error) {
	defer keepHeartbeating(ctx)()
	var res DeliverBatchResult
	pending, err := a.Deliveries.PendingInBatches(ctx, in.batches())
	if err != nil {
		return res, err
	}
	hooks, err := a.loadWebhooks(ctx, pending)
	if err != nil {
		return res, err
	}
	var (
		mu       sync.Mutex
		attempts []store.Attempt
		outcomes []store.Outcome
		handOff  []RetryItem
	)
	sem := make(chan struct{}, a.concurrency())
	var wg sync.WaitGroup
	for _, d := range pending {
		w := hooks[d.WebhookID]
		item := RetryItem{DeliveryID: d.ID, WebhookID: d.WebhookID, WebhookCode: d.WebhookCode, EventID: d.EventID, EventType: d.EventType}
		switch {
		case w == nil:
			continue // deleted meanwhile; its deliveries went with it
		case d.Attempts > 0 || !w.Enabled:
			// Tried by an earlier run of this activity, or paused: the
			// delivery's own workflow takes it from here.
			if d.NextAttemptAt.Valid {
				item.FirstDelay = max(0, d.NextAttemptAt.Time.Sub(a.now()))
			}
			mu.Lock()
			handOff = append(handOff, item)
			mu.Unlock()
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(d *store.Delivery, w *domain.Webhook, item RetryItem) {
			defer wg.Done()
			defer func() { <-sem }()
			att, out, retry := a.attempt(ctx, w, d, 1)
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, att)
			outcomes = append(outcomes, out)
			switch {
			case out.Status == store.DeliverySucceeded:
				res.Succeeded++
			case out.Status == store.DeliveryFailed:
				res.Failed++
			case retry != nil:
				item.FirstDelay = *retry
				handOff = append(handOff, item)
			}
		}(d, w, item)
		mu.Lock()
		done := len(attempts)
		mu.Unlock()
		activity.RecordHeartbeat(ctx, done)
	}
	wg.Wait()
	if err := a.Deliveries.RecordAttempts(ctx, attempts, outcomes); err != nil {
		return res, err
	}
	for _, item := range handOff {
		wfID, runID, err := a.Starter.StartDeliveryRetry(ctx, a.Temporal, item)
		if err != nil {
			return res, fmt.Errorf("hand delivery %s to its workflow: %w", item.DeliveryID, err)
		}
		if err := a.Deliveries.SetWorkflow(ctx, []string{item.DeliveryID}, wfID, runID); err != nil {
			return res, err
		}
		res.HandedOff++
	}
	return res, nil
}

func (a *Webhooks) concurrency() int {
	if a.Concurrency > 0 {
		return a.Concurrency
	}
	return 64
}

// loadWebhooks fetches each distinct webhook of the deliveries once.
func (a *Webhooks) loadWebhooks(ctx context.Context, ds []*store.Delivery) (map[string]*domain.Webhook, error) {
	out := map[string]*domain.Webhook{}
	for _, d := range ds {
		if _, ok := out[d.WebhookID]; ok {
			continue
		}
		w, err := a.Webhooks.Get(ctx, d.WebhookID)
		if errors.Is(err, domain.ErrNotFound) {
			out[d.WebhookID] = nil
			continue
		}
		if err != nil {
			return nil, err
		}
		out[d.WebhookID] = w
	}
	return out, nil
}

// attempt makes try number n of delivery d and says what follows: the attempt
// row, the delivery's new state, and (when it should be retried) the delay.
func (a *Webhooks) attempt(ctx context.Context, w *domain.Webhook, d *store.Delivery, n int) (store.Attempt, store.Outcome, *time.Duration) {
	now := a.now()
	out := store.Outcome{DeliveryID: d.ID, Attempts: n}
	req, err := renderRequest(w, d.Event())
	if err != nil {
		att := store.NewAttempt(d.ID, n, w.Method, w.URL, nil, "", 0, nil, "", false, 0, err.Error(), now)
		out.Status, out.LastError = store.DeliveryFailed, err.Error()
		return att, out, nil
	}
	secrets := []string{w.Secret}
	if w.PreviousSecret != "" && w.PreviousSecretUntil != nil && now.Before(*w.PreviousSecretUntil) {
		secrets = append(secrets, w.PreviousSecret)
	}
	res, sentHeaders := send(ctx, a.HTTP, req, d.ID, w.Timeout, now, secrets...)
	res = res.judgedBy(w)
	att := store.NewAttempt(d.ID, n, req.Method, req.URL, maskHeaders(sentHeaders), string(req.Body),
		res.Status, res.ResponseHeaders, res.ResponseBody, res.Truncated, res.Duration, res.Err, now)
	out.LastCode, out.LastError = res.Status, res.Err
	policy := w.Retry.Resolved()
	switch {
	case res.Success():
		out.Status = store.DeliverySucceeded
		return att, out, nil
	case res.Permanent && !policy.RetryAll:
		out.Status = store.DeliveryFailed
		return att, out, nil
	case policy.MaxAttempts > 0 && n-d.WindowAttempts >= policy.MaxAttempts:
		out.Status = store.DeliveryFailed
		return att, out, nil
	}
	delay := time.Duration(policy.InitialInterval)
	if res.RetryAfter > 0 {
		delay = res.RetryAfter
	}
	next := now.Add(delay)
	out.Status, out.NextAttemptAt = store.DeliveryPending, &next
	return att, out, &delay
}

// PrepareDeliveryInput names a delivery.
type PrepareDeliveryInput struct {
	DeliveryID string
}

// PrepareDeliveryResult is what a delivery workflow needs to plan its next try.
type PrepareDeliveryResult struct {
	Exists  bool
	Status  string
	Enabled bool
	// Attempts counts the tries in the current retry window (a manual retry
	// opens a new one).
	Attempts int
	// FirstAttemptAt anchors the policy's expiry window.
	FirstAttemptAt time.Time
	Policy         domain.RetryPolicy // resolved
	Timeout        time.Duration
}

// PrepareDelivery reads a delivery's state and its webhook's current policy.
func (a *Webhooks) PrepareDelivery(ctx context.Context, in PrepareDeliveryInput) (PrepareDeliveryResult, error) {
	d, err := a.Deliveries.Get(ctx, in.DeliveryID)
	if errors.Is(err, domain.ErrNotFound) {
		return PrepareDeliveryResult{}, nil
	}
	if err != nil {
		return PrepareDeliveryResult{}, err
	}
	w, err := a.Webhooks.Get(ctx, d.WebhookID)
	if errors.Is(err, domain.ErrNotFound) {
		return PrepareDeliveryResult{}, nil
	}
	if err != nil {
		return PrepareDeliveryResult{}, err
	}
	return PrepareDeliveryResult{
		Exists: true, Status: d.Status, Enabled: w.Enabled, Attempts: d.Attempts - d.WindowAttempts,
		FirstAttemptAt: d.WindowStart, Policy: w.Retry.Resolved(), Timeout: w.Timeout,
	}, nil
}

// AttemptDeliveryInput names the delivery to try once more.
type AttemptDeliveryInput struct {
	DeliveryID string
}

// AttemptDeliveryResult is a successful try (failures are errors, so the
// activity's retry policy applies).
type AttemptDeliveryResult struct {
	Status  string
	Attempt int
	Code    int
}

// AttemptDelivery makes one try of a delivery. A retryable failure returns a
// retryable error (with the receiver's Retry-After as the next delay), a
// permanent one a non-retryable error, so the webhook's retry policy (set on
// this activity by the workflow) drives the schedule.
func (a *Webhooks) AttemptDelivery(ctx context.Context, in AttemptDeliveryInput) (AttemptDeliveryResult, error) {
	d, err := a.Deliveries.Get(ctx, in.DeliveryID)
	if errors.Is(err, domain.ErrNotFound) {
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError("delivery no longer exists", ErrTypeGone, nil)
	}
	if err != nil {
		return AttemptDeliveryResult{}, err
	}
	if d.Status != store.DeliveryPending {
		return AttemptDeliveryResult{Status: d.Status, Attempt: d.Attempts}, nil
	}
	w, err := a.Webhooks.Get(ctx, d.WebhookID)
	if errors.Is(err, domain.ErrNotFound) {
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError("webhook no longer exists", ErrTypeGone, nil)
	}
	if err != nil {
		return AttemptDeliveryResult{}, err
	}
	if !w.Enabled {
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError("webhook is disabled", ErrTypePaused, nil)
	}
	n := d.Attempts + 1
	att, out, retryAfter := a.attempt(ctx, w, d, n)
	info := activity.GetInfo(ctx)
	out.WorkflowID, out.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	if err := a.Deliveries.RecordAttempts(ctx, []store.Attempt{att}, []store.Outcome{out}); err != nil {
		return AttemptDeliveryResult{}, err
	}
	switch out.Status {
	case store.DeliverySucceeded:
		return AttemptDeliveryResult{Status: out.Status, Attempt: n, Code: out.LastCode}, nil
	case store.DeliveryFailed:
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("attempt %d: %s", n, out.LastError), ErrTypePermanent, nil)
	}
	// Only the receiver's Retry-After overrides the policy's interval.
	var delay time.Duration
	if retryAfter != nil && att.ResponseHeaders.V["Retry-After"] != "" {
		delay = *retryAfter
	}
	return AttemptDeliveryResult{}, temporal.NewApplicationErrorWithOptions(
		fmt.Sprintf("attempt %d: %s", n, out.LastError), ErrTypeAttemptFailed,
		temporal.ApplicationErrorOptions{NextRetryDelay: delay})
}

// FinishDeliveryInput closes a delivery.
type FinishDeliveryInput struct {
	DeliveryID string
	Status     string // failed or canceled
	Error      string
}

// FinishDelivery marks a delivery failed (retries exhausted) or canceled.
func (a *Webhooks) FinishDelivery(ctx context.Context, in FinishDeliveryInput) error {
	d, err := a.Deliveries.Get(ctx, in.DeliveryID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	info := activity.GetInfo(ctx)
	code := 0
	if d.LastStatusCode.Valid {
		code = int(d.LastStatusCode.Int64)
	}
	msg := in.Error
	if msg == "" {
		msg = d.LastError
	}
	return a.Deliveries.RecordAttempts(ctx, nil, []store.Outcome{{
		DeliveryID: in.DeliveryID, Status: in.Status, Attempts: d.Attempts, LastCode: code, LastError: msg,
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
	}})
}
