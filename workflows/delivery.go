package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/store"
)

// Activity options shared by bookkeeping activities: they only touch the
// database, so they retry (PostgreSQL may be restarting) with a bound.
var bookkeeping = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// pausedRecheck is how often a delivery of a disabled webhook looks again on
// its own; enabling a webhook also wakes it by signal.
const pausedRecheck = time.Minute

// DeliverBatchInput names the publish batches to deliver together: a
// dispatched group, named by its first batch (BatchID), with all its
// batches in BatchIDs (empty when the group is that batch alone).
type DeliverBatchInput struct {
	BatchID  string
	BatchIDs []string `json:",omitempty"`
	// HasUnordered is false when the batch only feeds ordered webhooks or runs.
	HasUnordered bool
	// HasRuns says trigger or queue-hook runs were planned for the batch and
	// are started here, each as its own workflow. Only batches handed over
	// before RunBatchWorkflow existed set it.
	HasRuns bool
}

// DeliverBatchResult summarizes the batch's first tries.
type DeliverBatchResult struct {
	Succeeded int
	Failed    int
	HandedOff int
	Runs      int
}

// DeliverBatchWorkflow makes the first try of every delivery in a publish
// batch in one activity and starts the batch's trigger runs. Deliveries that
// need retries continue in their own DeliveryWorkflow.
func DeliverBatchWorkflow(ctx workflow.Context, in DeliverBatchInput) (DeliverBatchResult, error) {
	var out DeliverBatchResult
	var a *activities.Webhooks
	if in.HasUnordered {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Minute,
			// A killed worker's activity is retried elsewhere within seconds;
			// the activity heartbeats every 2 s while it runs.
			HeartbeatTimeout:       10 * time.Second,
			ScheduleToCloseTimeout: 48 * time.Hour,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval:    time.Second,
				BackoffCoefficient: 2,
				MaximumInterval:    time.Minute,
			},
		})
		var res activities.DeliverBatchResult
		if err := workflow.ExecuteActivity(actx, a.DeliverBatch, activities.DeliverBatchInput{BatchID: in.BatchID, BatchIDs: in.BatchIDs}).Get(ctx, &res); err != nil {
			return out, err
		}
		out.Succeeded, out.Failed, out.HandedOff = res.Succeeded, res.Failed, res.HandedOff
	}
	if in.HasRuns {
		n, err := startPlannedRuns(ctx, in.BatchID)
		if err != nil {
			return out, err
		}
		out.Runs = n
	}
	return out, nil
}

// DeliveryInput names one delivery to retry.
type DeliveryInput struct {
	DeliveryID  string
	WebhookID   string
	WebhookCode string
	EventID     string
	EventType   string
	// FirstDelay is waited before the next try.
	FirstDelay time.Duration
	// SingleTry makes exactly one try, whatever the policy (test sends).
	SingleTry bool
}

// DeliveryResult is how a delivery ended.
type DeliveryResult struct {
	Status  string
	Attempt int
}

// DeliveryWorkflow carries one delivery after its first try: it retries it
// under the webhook's retry policy, pauses while the webhook is disabled, and
// marks it failed when the policy gives up.
func DeliveryWorkflow(ctx workflow.Context, in DeliveryInput) (DeliveryResult, error) {
	if in.FirstDelay > 0 {
		if err := workflow.Sleep(ctx, in.FirstDelay); err != nil {
			return DeliveryResult{}, err
		}
	}
	wake := workflow.GetSignalChannel(ctx, SignalWake)
	return retryDelivery(ctx, in.DeliveryID, wake, in.SingleTry)
}

// retryDelivery tries a delivery until it succeeds, its policy gives up, or it
// is gone; while its webhook is disabled it waits for a wake signal (or
// rechecks every minute).
func retryDelivery(ctx workflow.Context, deliveryID string, wake workflow.ReceiveChannel, singleTry bool) (DeliveryResult, error) {
	var a *activities.Webhooks
	bctx := workflow.WithActivityOptions(ctx, bookkeeping)
	for {
		var p activities.PrepareDeliveryResult
		if err := workflow.ExecuteActivity(bctx, a.PrepareDelivery, activities.PrepareDeliveryInput{DeliveryID: deliveryID}).Get(ctx, &p); err != nil {
			return DeliveryResult{}, err
		}
		if !p.Exists {
			return DeliveryResult{Status: store.DeliveryCanceled}, nil
		}
		if p.Status != store.DeliveryPending {
			return DeliveryResult{Status: p.Status, Attempt: p.Attempts}, nil
		}
		if !p.Enabled {
			waitForWake(ctx, wake, pausedRecheck)
			continue
		}
		opts, ok := attemptOptions(workflow.Now(ctx), p)
		if ok && singleTry {
			opts.RetryPolicy.MaximumAttempts = 1
		}
		if !ok {
			return finishDelivery(ctx, deliveryID, store.DeliveryFailed, "", p.Attempts)
		}
		var res activities.AttemptDeliveryResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.AttemptDelivery,
			activities.AttemptDeliveryInput{DeliveryID: deliveryID}).Get(ctx, &res)
		if err == nil {
			return DeliveryResult{Status: res.Status, Attempt: res.Attempt}, nil
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			switch appErr.Type() {
			case activities.ErrTypePaused:
				continue // PrepareDelivery sees it disabled and waits
			case activities.ErrTypeGone:
				return DeliveryResult{Status: store.DeliveryCanceled}, nil
			}
		}
		if temporal.IsCanceledError(err) {
			return DeliveryResult{}, err
		}
		// The policy gave up (attempts or expiry) or the answer was permanent.
		return finishDelivery(ctx, deliveryID, store.DeliveryFailed, rootMessage(err), p.Attempts)
	}
}

// attemptOptions turns the webhook's policy and the delivery's history into
// the activity options of the remaining tries; ok is false when none remain.
func attemptOptions(now time.Time, p activities.PrepareDeliveryResult) (workflow.ActivityOptions, bool) {
	pol := p.Policy
	remaining := int32(0)
	if pol.MaxAttempts > 0 {
		remaining = int32(pol.MaxAttempts - p.Attempts)
		if remaining <= 0 {
			return workflow.ActivityOptions{}, false
		}
	}
	opts := workflow.ActivityOptions{
		// The HTTP client times out at the webhook's timeout; the margin
		// leaves room to record the attempt.
		StartToCloseTimeout: p.Timeout + 15*time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Duration(pol.InitialInterval),
			BackoffCoefficient:     pol.Backoff,
			MaximumInterval:        time.Duration(pol.MaxInterval),
			MaximumAttempts:        remaining,
			NonRetryableErrorTypes: []string{activities.ErrTypePermanent, activities.ErrTypePaused, activities.ErrTypeGone},
		},
	}
	if opts.RetryPolicy.InitialInterval <= 0 {
		opts.RetryPolicy.InitialInterval = time.Second
	}
	if opts.RetryPolicy.MaximumInterval < opts.RetryPolicy.InitialInterval {
		opts.RetryPolicy.MaximumInterval = opts.RetryPolicy.InitialInterval
	}
	if pol.ExpireAfter > 0 {
		left := p.FirstAttemptAt.Add(time.Duration(pol.ExpireAfter)).Sub(now)
		if left <= 0 {
			return workflow.ActivityOptions{}, false
		}
		opts.ScheduleToCloseTimeout = left
		if remaining == 0 {
			// The window bounds the tries; say so explicitly rather than
			// "unlimited" (no two tries are closer than a second).
			remaining = int32(min(left/time.Second+1, 1<<30))
			opts.RetryPolicy.MaximumAttempts = remaining
		}
	} else {
		// Nothing retries forever by accident: attempts bound it, and a
		// generous window bounds the waiting.
		opts.ScheduleToCloseTimeout = 30 * 24 * time.Hour
	}
	return opts, true
}

func finishDelivery(ctx workflow.Context, deliveryID, status, msg string, attempts int) (DeliveryResult, error) {
	var a *activities.Webhooks
	bctx := workflow.WithActivityOptions(ctx, bookkeeping)
	err := workflow.ExecuteActivity(bctx, a.FinishDelivery, activities.FinishDeliveryInput{
		DeliveryID: deliveryID, Status: status, Error: msg,
	}).Get(ctx, nil)
	return DeliveryResult{Status: status, Attempt: attempts}, err
}

// waitForWake blocks until a wake signal or the timeout, draining extra
// wake signals (they all mean the same thing).
func waitForWake(ctx workflow.Context, wake workflow.ReceiveChannel, timeout time.Duration) {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(timerCtx, timeout)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.AddFuture(timer, func(workflow.Future) {})
	sel.Select(ctx)
	for wake.ReceiveAsync(nil) {
	}
}

// rootMessage is the innermost error message (the HTTP outcome, not the
// activity wrapper).
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// deliverySearchAttributes are the attributes of a delivery's workflow.
func deliverySearchAttributes(webhookCode, eventID, eventType string) temporal.SearchAttributes {
	updates := []temporal.SearchAttributeUpdate{SAWebhook.ValueSet(webhookCode)}
	if eventID != "" {
		updates = append(updates, SAEventID.ValueSet(eventID))
	}
	if eventType != "" {
		updates = append(updates, SAEventType.ValueSet(eventType))
	}
	return temporal.NewSearchAttributes(updates...)
}
