package activities

import (
	"context"
	"errors"

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

// DeliverOrdered sends an ordered webhook's pending deliveries one after
// another in publish order, stopping at the first retryable failure: the next
// event is sent only after the previous one was received or gave up.
func (a *Webhooks) DeliverOrdered(ctx context.Context, in DeliverOrderedInput) (DeliverOrderedResult, error) {
	defer keepHeartbeating(ctx)()
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
	var attempts []store.Attempt
	var outcomes []store.Outcome
	flush := func() error {
		err := a.Deliveries.RecordAttempts(ctx, attempts, outcomes)
		attempts, outcomes = attempts[:0], outcomes[:0]
		return err
	}
	for i, d := range pending {
		item := RetryItem{DeliveryID: d.ID, WebhookID: d.WebhookID, WebhookCode: d.WebhookCode, EventID: d.EventID, EventType: d.EventType}
		if d.Attempts > 0 {
			// Tried before and still pending: it is the head of the queue
			// waiting for its retries.
			res.Blocked = &item
			break
		}
		att, out, retry := a.attempt(ctx, w, d, 1)
		attempts = append(attempts, att)
		outcomes = append(outcomes, out)
		switch out.Status {
		case store.DeliverySucceeded:
			res.Delivered++
		case store.DeliveryFailed:
			res.GaveUp++
		default:
			if retry != nil {
				item.FirstDelay = *retry
			}
			res.Blocked = &item
		}
		if res.Blocked != nil {
			break
		}
		if len(attempts) >= 50 {
			if err := flush(); err != nil {
				return res, err
			}
		}
		activity.RecordHeartbeat(ctx, i)
	}
	if err := flush(); err != nil {
		return res, err
	}
	res.More = res.Blocked == nil && len(pending) == limit
	return res, nil
}
