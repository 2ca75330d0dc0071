package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
)

// WebhookQueueInput names an ordered webhook.
type WebhookQueueInput struct {
	WebhookID   string
	WebhookCode string
	// Rounds counts activity rounds across continue-as-new (for operators).
	Rounds int
	// BatchSize (default 200) and RoundsPerRun (default 500) tune how much
	// one activity sends and how long a run lives before continuing as new.
	BatchSize    int
	RoundsPerRun int
}

// sendingCall are the options of the calls a webhook's long-lived
// workflows (its ordered queue, its backlog) send with.
var sendingCall = workflow.ActivityOptions{
	// A call sends for its budget (60 s) plus one timeout at most.
	StartToCloseTimeout: batchRound,
	// A killed worker's activity is retried elsewhere within seconds; the
	// activity heartbeats every 2 s while it runs.
	HeartbeatTimeout:       10 * time.Second,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy:            infrastructureRetry(),
}

// orderedBatch is how many pending deliveries one activity sends in order.
const orderedBatch = 200

// roundsPerRun bounds a run's history: each round is a handful of events,
// so a run continues as new well before Temporal's limits.
const roundsPerRun = 500

// WebhookQueueWorkflow delivers an ordered webhook's events strictly in
// publish order. It is long-lived, fed by wake signals (signal-with-start
// from publishing), reads the queue from the database, and holds the queue
// on a failing event until that event succeeds or its policy gives up.
// Its state is only the webhook's id, so continue-as-new carries nothing that
// grows, and no event is lost by it: events live in the database.
func WebhookQueueWorkflow(ctx workflow.Context, in WebhookQueueInput) error {
	var a *activities.Webhooks
	wake := workflow.GetSignalChannel(ctx, SignalWake)
	actx := workflow.WithActivityOptions(ctx, sendingCall)
	if in.BatchSize <= 0 {
		in.BatchSize = orderedBatch
	}
	if in.RoundsPerRun <= 0 {
		in.RoundsPerRun = roundsPerRun
	}
	for round := 0; ; round++ {
		if round >= in.RoundsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Wake signals only say "look again"; the next run looks first
			// thing, so dropping the buffered ones loses nothing.
			for wake.ReceiveAsync(nil) {
			}
			in.Rounds += round
			return workflow.NewContinueAsNewError(ctx, WebhookQueueWorkflow, in)
		}
		var res activities.DeliverOrderedResult
		err := workflow.ExecuteActivity(actx, a.DeliverOrdered, activities.DeliverOrderedInput{
			WebhookID: in.WebhookID, Max: in.BatchSize,
		}).Get(ctx, &res)
		if err != nil {
			return err
		}
		switch {
		case res.Gone:
			return nil
		case res.Paused:
			// Enabling the webhook sends a wake signal; a long timer covers
			// a lost one without growing the history while paused.
			wait := pausedRecheck
			if workflow.GetVersion(ctx, "queue-long-pause", workflow.DefaultVersion, 1) >= 1 {
				wait = pausedWait
			}
			waitForWake(ctx, wake, wait)
		case res.Blocked != nil:
			if res.Blocked.FirstDelay > 0 {
				if err := workflow.Sleep(ctx, res.Blocked.FirstDelay); err != nil {
					return cancelHead(ctx, res.Blocked.DeliveryID, err)
				}
			}
			if _, err := retryDelivery(ctx, res.Blocked.DeliveryID, wake, retryOptions{}); err != nil {
				return cancelHead(ctx, res.Blocked.DeliveryID, err)
			}
		case res.Empty:
			// Idle: wait for the next publish. A long idle wait costs no
			// history; the periodic look covers a missed signal.
			waitForWake(ctx, wake, 10*time.Minute)
		}
	}
}

// cancelHead ends the delivery a queue was holding at as canceled when an
// operator cancels the queue's workflow (in Temporal UI, say); the events
// behind it stay pending, and the next publish or the reconciler starts the
// queue again. Other errors pass through.
func cancelHead(ctx workflow.Context, deliveryID string, err error) error {
	if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
		return cancelDelivery(ctx, deliveryID, err)
	}
	return err
}
