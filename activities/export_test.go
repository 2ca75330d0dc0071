package activities

import (
	"context"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// Hooks for the external tests into unexported parts.

// ParseRetryAfter is parseRetryAfter.
var ParseRetryAfter = parseRetryAfter

// AttemptOf is (*Webhooks).attempt (a function: every exported method of
// Webhooks would be registered as an activity).
func AttemptOf(a *Webhooks, ctx context.Context, w *domain.Webhook, d *store.Delivery, n int) store.Record {
	return a.attempt(ctx, w, d, n, nil)
}

// Recorder wraps the recorder for tests.
type Recorder struct{ r *recorder }

// NewRecorder is newRecorder.
func NewRecorder(ctx context.Context, d *store.Deliveries, onRecorded func(store.Record), onUnrecorded func(store.Record, error)) Recorder {
	return Recorder{newRecorder(ctx, d, onRecorded, onUnrecorded)}
}

// Add queues a record.
func (r Recorder) Add(rec store.Record) { r.r.add(rec) }

// Close writes what is waiting.
func (r Recorder) Close() error { return r.r.close() }

// WithStepInfo is withStepInfo: a context as the inline runner gives an
// action, naming the run and step.
var WithStepInfo = withStepInfo

// TryLog is tryLog, for tests of how tries of steps are written.
type TryLog struct{ l tryLog }

// Record is (*tryLog).record.
func (t *TryLog) Record(ctx context.Context, db *store.StepAttempts, try store.StepTry) error {
	return t.l.record(ctx, db, try)
}

// HoldRequests takes n of a webhook's process-wide request tokens, as n
// requests in flight elsewhere would, until release is called.
func HoldRequests(a *Webhooks, webhookID string, n int) (release func()) {
	slots := a.slotsOf(webhookID)
	for range n {
		slots <- struct{}{}
	}
	return func() {
		for range n {
			<-slots
		}
	}
}

// ClassifyInlineError is classifyInlineError.
var ClassifyInlineError = classifyInlineError
