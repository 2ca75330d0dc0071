package activities

import (
	"context"
	"errors"
	"sync/atomic"

	"go.temporal.io/sdk/activity"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// DeliverOrderedInput names an ordered webhook and how many pending
// deliveries one call may send.
type DeliverOrderedInput struct {
	WebhookID string
	Max       int
}

// DeliverOrderedResult says how far the queue got.
type DeliverOrderedResult struct {
	Delivered int
	GaveUp    int
	// Blocked is the delivery that failed and must be retried by policy
	// before anything after it is sent; nil when none.
	Blocked *RetryItem
	// Paused: the webhook is disabled. Gone: it was deleted. Empty: nothing
	// was pending.
	Paused bool
	Gone   bool
	Empty  bool
	// More: the call stopped at Max with deliveries still pending.
	More bool
}

// DeliverOrderedProgress is the heartbeat detail of DeliverOrdered.
type DeliverOrderedProgress struct {
	Pending  int
	Sent     int
	Recorded int
}

// DeliverOrdered sends an ordered webhook's pending deliveries one after
// another in publish order, stopping at the first retryable failure: the next
// event is sent only after the previous one was received or gave up. Each
// attempt is recorded as soon as it completes (in small groups), and a call
// starts requests only within its budget (More says some are left), so a
// slow receiver never keeps one call running longer than the budget plus
// its timeout.
func (a *Webhooks) DeliverOrdered(ctx context.Context, in DeliverOrderedInput) (DeliverOrderedResult, error) {
	var res DeliverOrderedResult
	w, err := a.Webhooks.Get(ctx, in.WebhookID)
	if errors.Is(err, domain.ErrNotFound) {
		res.Gone = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if !w.Enabled {
		res.Paused = true
		return res, nil
	}
	limit := in.Max
	if limit <= 0 {
		limit = 200
	}
	pending, err := a.Deliveries.PendingOrdered(ctx, in.WebhookID, limit)
	if err != nil {
		return res, err
	}
	if len(pending) == 0 {
		res.Empty = true
		return res, nil
	}
	carrier := activity.GetInfo(ctx).WorkflowExecution.ID
	var unrecorded *RetryItem
	rec := newRecorder(ctx, a.Deliveries, func(store.Record) {}, func(r store.Record, _ error) {
		// The queue holds at this delivery until its retries settle it.
		if unrecorded == nil {
			unrecorded = &RetryItem{DeliveryID: r.Outcome.DeliveryID}
		}
	})
	var sent atomic.Int64
	stopBeat := heartbeatProgress(ctx, func() any {
		return DeliverOrderedProgress{Pending: len(pending), Sent: int(sent.Load()), Recorded: rec.recorded()}
	})
	defer stopBeat()
	deadline := a.now().Add(a.budget())
	stopped := false
	for _, d := range pending {
		item := RetryItem{DeliveryID: d.ID, WebhookID: d.WebhookID, WebhookCode: d.WebhookCode, EventID: d.EventID, EventType: d.EventType}
		if d.Attempts > 0 {
			// Tried before and still pending: it is the head of the queue
			// waiting for its retries.
			res.Blocked = &item
			break
		}
		if ctx.Err() != nil || (sent.Load() > 0 && !a.now().Before(deadline)) {
			stopped = true
			break
		}
		r := a.attempt(ctx, w, d, 1, nil)
		r.Attempt.WorkflowID, r.Outcome.Carrier = carrier, carrier
		rec.add(r)
		sent.Add(1)
		switch r.Outcome.Status {
		case domain.DeliverySucceeded:
			res.Delivered++
		case domain.DeliveryFailed:
			res.GaveUp++
		default:
			if r.Outcome.NextAttemptAt != nil {
				item.FirstDelay = max(0, r.Outcome.NextAttemptAt.Sub(a.now()))
			}
			res.Blocked = &item
		}
		if res.Blocked != nil {
			break
		}
	}
	if err := rec.close(); err != nil {
		return res, err
	}
	if unrecorded != nil && res.Blocked == nil {
		res.Blocked = unrecorded
	}
	res.More = res.Blocked == nil && (stopped || len(pending) == limit)
	return res, nil
}
