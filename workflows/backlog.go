package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
)

// A webhook whose receiver is at its limit (every request this process may
// make to it is in flight: a receiver answering in 25 s, say) cannot take
// more first tries at once. Groups do not wait for it: DeliverBatch hands
// such deliveries to the webhook's backlog workflow and the group ends. The
// backlog workflow sends them, oldest first, as the webhook's requests free
// up — one workflow per webhook, so a receiver slow for hours costs Temporal
// one activity call a minute, not calls from every group that met it.

// WebhookBacklogInput names the webhook whose backlog a
// WebhookBacklogWorkflow carries.
type WebhookBacklogInput struct {
	WebhookID   string
	WebhookCode string
	// Calls counts DrainBacklog calls across continue-as-new (for operators).
	Calls int
}

// backlogActive is how long after a wake the backlog workflow keeps looking
// at its backlog, every backlogPoll while it finds it empty. Groups wake it
// at most once a second per process (activities.wakeEvery) and hand their
// deliveries over after waking it, or in their claim within 20 s of a wake
// (activities.claimForBacklog), so a hand-over always falls within a wake's
// active window and is seen.
const (
	backlogActive = 30 * time.Second
	backlogPoll   = 5 * time.Second
	// backlogIdle is how long an idle backlog workflow waits for a wake
	// before it looks again on its own (a missed wake costs at most this;
	// the reconciler wakes it too).
	backlogIdle = 10 * time.Minute
)

// WebhookBacklogWorkflow sends a webhook's backlog (see above). It is
// long-lived, woken by signal-with-start (SignalWake), reads the backlog from
// the database, and ends only when the webhook is deleted. Its state is the
// webhook's id, so continue-as-new carries nothing that grows.
func WebhookBacklogWorkflow(ctx workflow.Context, in WebhookBacklogInput) error {
	var a *activities.Webhooks
	wake := workflow.GetSignalChannel(ctx, SignalWake)
	actx := workflow.WithActivityOptions(ctx, sendingCall)
	woke := workflow.Now(ctx) // started or continued: by a wake, or as if
	for call := 0; ; call++ {
		if call >= roundsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// The next run starts as if just woken: dropping the buffered
			// wakes loses nothing.
			for wake.ReceiveAsync(nil) {
			}
			in.Calls += call
			return workflow.NewContinueAsNewError(ctx, WebhookBacklogWorkflow, in)
		}
		var res activities.DrainBacklogResult
		if err := workflow.ExecuteActivity(actx, a.DrainBacklog, activities.DrainBacklogInput{WebhookID: in.WebhookID}).Get(ctx, &res); err != nil {
			return err
		}
		if res.Gone {
			return nil
		}
		for wake.ReceiveAsync(nil) {
			woke = workflow.Now(ctx)
		}
		if res.Taken > 0 {
			continue
		}
		wait := backlogIdle
		if quiet := workflow.Now(ctx).Sub(woke); quiet < backlogActive {
			wait = min(backlogPoll, backlogActive-quiet)
		}
		if waitForWake(ctx, wake, wait) {
			woke = workflow.Now(ctx)
		}
	}
}
