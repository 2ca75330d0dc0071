package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
)

// infrastructureRetry is the retry policy of activities whose failures are
// the infrastructure's (PostgreSQL restarting, a worker gone), not a
// receiver's: quickly at first, then at most a minute apart. The receiver's
// own failures follow the webhook's policy instead (attemptOptions).
func infrastructureRetry() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute}
}

// Activity options shared by bookkeeping activities: they only touch the
// database, so they retry (PostgreSQL may be restarting) with a bound.
var bookkeeping = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy:            infrastructureRetry(),
}

// pausedRecheck is how often, in workflows started before deliveries were
// parked, a delivery of a disabled webhook looked again on its own.
const pausedRecheck = time.Minute

// pausedWait is how long an ordered webhook's queue, while the webhook is
// disabled, waits for the wake signal that enabling sends before it looks
// again on its own: a month of pause costs a few events a day.
const pausedWait = 24 * time.Hour

// batchRound bounds one DeliverBatch call: its budget for starting requests
// (activities.Webhooks.Budget, 60 s) plus the longest webhook timeout (30 s)
// plus time to record and hand over.
const batchRound = 3 * time.Minute

// roundPause is how long a group waits before another call when its last
// call could send nothing (its webhooks' requests are all in use by a slow
// receiver); it doubles while calls keep sending nothing, up to
// maxRoundPause, and starts again after a call that sent. A slow receiver's
// backlog spread over many groups then costs Temporal a few calls a minute
// per group, not one every few seconds.
const (
	roundPause    = 5 * time.Second
	maxRoundPause = time.Minute
)

// Statuses a delivery workflow may end with besides the delivery's own.
const (
	// StatusParked: the webhook is disabled; the delivery waits in
	// PostgreSQL with no workflow until it is enabled.
	StatusParked = "parked"
	// StatusCarriedElsewhere: another workflow carries the delivery.
	StatusCarriedElsewhere = "carried_elsewhere"
	// StatusPaused: (inside a queue workflow) the webhook is disabled; the
	// queue waits for it to be enabled.
	StatusPaused = "paused"
)

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
	// Version is the workflow code the group was handed over for
	// (DeliverBatchVersion when dispatched now): the changes that
	// workflows started without it decide with workflow.GetVersion apply
	// without asking. Each GetVersion a new workflow makes records a marker
	// and upserts the TemporalChangeVersion search attribute — one more
	// visibility write per group on the delivery path.
	Version int `json:",omitempty"`
}

// DeliverBatchVersion is the DeliverBatchInput.Version the dispatcher
// starts groups at: every change below is in effect.
const DeliverBatchVersion = 1

// batchChange is the version of change changeID a group workflow runs:
// the newest for a group handed over with its Version, else what
// workflow.GetVersion recorded (or records now) in its history.
func batchChange(ctx workflow.Context, in DeliverBatchInput, changeID string) workflow.Version {
	if in.Version >= DeliverBatchVersion {
		return 1
	}
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, 1)
}

// DeliverBatchResult summarizes the batch's first tries.
type DeliverBatchResult struct {
	Succeeded int
	Failed    int
	HandedOff int
	Parked    int
	// Backlogged deliveries went to their webhook's backlog workflow.
	Backlogged int `json:",omitempty"`
	Runs       int
	// Rounds counts the extra DeliverBatch calls made for deliveries a
	// call's budget left over.
	Rounds int
}

// DeliverBatchWorkflow makes the first try of every delivery in a publish
// batch in one activity and starts the batch's trigger runs. Deliveries that
// need retries continue in their own DeliveryWorkflow.
func DeliverBatchWorkflow(ctx workflow.Context, in DeliverBatchInput) (DeliverBatchResult, error) {
	var out DeliverBatchResult
	var a *activities.Webhooks
	if in.HasUnordered {
		// Version 1: each call is bounded by its budget, and the workflow
		// calls again while deliveries are left (a slow receiver's).
		rounds := batchChange(ctx, in, "delivery-batch-rounds")
		opts := workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Minute,
			// A killed worker's activity is retried elsewhere within seconds;
			// the activity heartbeats every 2 s while it runs.
			HeartbeatTimeout:       10 * time.Second,
			ScheduleToCloseTimeout: 48 * time.Hour,
			RetryPolicy:            infrastructureRetry(),
		}
		if rounds >= 1 {
			opts.StartToCloseTimeout = batchRound
		}
		actx := workflow.WithActivityOptions(ctx, opts)
		pause := roundPause
		for {
			var res activities.DeliverBatchResult
			if err := workflow.ExecuteActivity(actx, a.DeliverBatch, activities.DeliverBatchInput{BatchID: in.BatchID, BatchIDs: in.BatchIDs}).Get(ctx, &res); err != nil {
				return out, err
			}
			out.Succeeded += res.Succeeded
			out.Failed += res.Failed
			out.HandedOff += res.HandedOff
			out.Parked += res.Parked
			out.Backlogged += res.Backlogged
			if rounds < 1 || res.Left == 0 {
				break
			}
			out.Rounds++
			if res.Sent == 0 && batchChange(ctx, in, "delivery-batch-round-pause") >= 1 {
				// Nothing could be sent (the webhooks' requests are all in
				// use elsewhere): pause before trying again.
				if err := workflow.Sleep(ctx, pause); err != nil {
					return out, err
				}
				if batchChange(ctx, in, "delivery-batch-round-backoff") >= 1 {
					pause = min(2*pause, maxRoundPause)
				}
			} else {
				pause = roundPause
			}
			// A group behind a receiver at its limit for hours goes on in a
			// fresh run before its history grows large (the next run claims
			// what is still left, as any call does).
			if batchChange(ctx, in, "delivery-batch-continue") >= 1 &&
				(out.Rounds >= roundsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
				return out, workflow.NewContinueAsNewError(ctx, DeliverBatchWorkflow, in)
			}
		}
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
	// TriggerID names the trigger whose webhook action made the delivery
	// ('' for a subscription's): the workflow then carries
	// TriggerFlowTrigger too.
	TriggerID string `json:",omitempty"`
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
// under the webhook's retry policy, parks it while the webhook is disabled,
// and marks it failed when the policy gives up — or canceled when an
// operator cancels the workflow (in Temporal UI, say).
func DeliveryWorkflow(ctx workflow.Context, in DeliveryInput) (res DeliveryResult, err error) {
	defer func() {
		if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
			err = cancelDelivery(ctx, in.DeliveryID, err)
		}
	}()
	if in.FirstDelay > 0 {
		if err := workflow.Sleep(ctx, in.FirstDelay); err != nil {
			return DeliveryResult{}, err
		}
	}
	wake := workflow.GetSignalChannel(ctx, SignalWake)
	return retryDelivery(ctx, in.DeliveryID, wake, retryOptions{singleTry: in.SingleTry, park: true})
}

// cancelDelivery records a delivery canceled because its workflow was (an
// operator's cancel), then returns the cancellation so the workflow ends
// canceled. Workflows started before this existed end without recording.
func cancelDelivery(ctx workflow.Context, deliveryID string, cause error) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if workflow.GetVersion(dctx, "delivery-record-cancel", workflow.DefaultVersion, 1) < 1 {
		return cause
	}
	var a *activities.Webhooks
	bctx := workflow.WithActivityOptions(dctx, bookkeeping)
	if err := workflow.ExecuteActivity(bctx, a.FinishDelivery, activities.FinishDeliveryInput{
		DeliveryID: deliveryID, Status: domain.DeliveryCanceled, Error: "its workflow was canceled (in Temporal)",
	}).Get(dctx, nil); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// retryOptions shape retryDelivery.
type retryOptions struct {
	// singleTry makes exactly one try, whatever the policy (test sends).
	singleTry bool
	// park leaves the delivery in PostgreSQL when its webhook is disabled
	// (a delivery's own workflow); otherwise the caller is told the webhook
	// is paused (an ordered queue holds its head itself).
	park bool
}

// retryDelivery tries a delivery until it succeeds, its policy gives up, or it
// is gone; while its webhook is disabled it is parked (or, for a queue, the
// queue is told to pause).
func retryDelivery(ctx workflow.Context, deliveryID string, wake workflow.ReceiveChannel, o retryOptions) (DeliveryResult, error) {
	var a *activities.Webhooks
	bctx := workflow.WithActivityOptions(ctx, bookkeeping)
	for {
		var p activities.PrepareDeliveryResult
		if err := workflow.ExecuteActivity(bctx, a.PrepareDelivery, activities.PrepareDeliveryInput{DeliveryID: deliveryID}).Get(ctx, &p); err != nil {
			return DeliveryResult{}, err
		}
		if !p.Exists {
			return DeliveryResult{Status: domain.DeliveryCanceled}, nil
		}
		if p.Status != domain.DeliveryPending {
			return DeliveryResult{Status: p.Status, Attempt: p.Attempts}, nil
		}
		if p.CarriedBy != "" {
			return DeliveryResult{Status: StatusCarriedElsewhere, Attempt: p.Attempts}, nil
		}
		if !p.Enabled {
			if workflow.GetVersion(ctx, "delivery-park-when-disabled", workflow.DefaultVersion, 1) < 1 {
				waitForWake(ctx, wake, pausedRecheck)
				continue
			}
			if !o.park {
				return DeliveryResult{Status: StatusPaused, Attempt: p.Attempts}, nil
			}
			var parked activities.ParkDeliveryResult
			if err := workflow.ExecuteActivity(bctx, a.ParkDelivery, activities.ParkDeliveryInput{DeliveryID: deliveryID}).Get(ctx, &parked); err != nil {
				return DeliveryResult{}, err
			}
			if parked.Parked {
				return DeliveryResult{Status: StatusParked, Attempt: p.Attempts}, nil
			}
			continue // enabled again meanwhile
		}
		opts, ok := attemptOptions(workflow.Now(ctx), p)
		if ok && o.singleTry {
			opts.RetryPolicy.MaximumAttempts = 1
		}
		if !ok {
			return finishDelivery(ctx, deliveryID, domain.DeliveryFailed, "", p.Attempts)
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
				continue // PrepareDelivery sees it disabled
			case activities.ErrTypeGone:
				return DeliveryResult{Status: domain.DeliveryCanceled}, nil
			}
		}
		if temporal.IsCanceledError(err) {
			return DeliveryResult{}, err
		}
		// The policy gave up (attempts or expiry) or the answer was permanent.
		return finishDelivery(ctx, deliveryID, domain.DeliveryFailed, rootMessage(err), p.Attempts)
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
// wake signals (they all mean the same thing), and says whether one came.
func waitForWake(ctx workflow.Context, wake workflow.ReceiveChannel, timeout time.Duration) (woken bool) {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(timerCtx, timeout)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); woken = true })
	sel.AddFuture(timer, func(workflow.Future) {})
	sel.Select(ctx)
	for wake.ReceiveAsync(nil) {
		woken = true
	}
	return woken
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
