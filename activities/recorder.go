package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// recorder writes the outcome of each try as soon as it completes, in small
// groups: every recordEvery, or at once when recordMax are waiting. A group
// whose statement fails for its data is written record by record, so one
// delivery's bytes never cost another delivery its record; a record that
// still cannot be written is written without its request and response, and
// if even that fails the delivery is given to onUnrecorded (its own
// workflow tries it again). While PostgreSQL is unreachable the recorder
// waits and retries; when the activity's context ends first, what is left
// unwritten makes the activity fail, so it is retried and resends at most
// the tries that were in flight or waiting here.
type recorder struct {
	deliveries   *store.Deliveries
	onRecorded   func(store.Record)
	onUnrecorded func(store.Record, error)

	mu      sync.Mutex
	waiting []store.Record
	kick    chan struct{}
	done    chan struct{}
	err     error
	written int
}

const (
	recordEvery = 50 * time.Millisecond
	recordMax   = 256
)

func newRecorder(ctx context.Context, d *store.Deliveries, onRecorded func(store.Record), onUnrecorded func(store.Record, error)) *recorder {
	r := &recorder{deliveries: d, onRecorded: onRecorded, onUnrecorded: onUnrecorded,
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	go r.loop(ctx)
	return r
}

// add queues one record for writing.
func (r *recorder) add(rec store.Record) {
	r.mu.Lock()
	r.waiting = append(r.waiting, rec)
	full := len(r.waiting) >= recordMax
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// close writes what is waiting and returns the first error that stopped
// the recorder (nil when everything was written).
func (r *recorder) close() error {
	close(r.kick)
	<-r.done
	return r.err
}

// recorded is how many records were written so far.
func (r *recorder) recorded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.written
}

func (r *recorder) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(recordEvery)
	defer t.Stop()
	for {
		open := true
		select {
		case _, open = <-r.kick:
		case <-t.C:
		}
		for {
			r.mu.Lock()
			group := r.waiting
			if len(group) > recordMax {
				group = group[:recordMax]
			}
			r.waiting = r.waiting[len(group):]
			r.mu.Unlock()
			if len(group) == 0 {
				break
			}
			if err := r.write(ctx, group); err != nil {
				r.err = err
				return
			}
		}
		if !open {
			return
		}
	}
}

// write stores one group, falling back to record by record.
func (r *recorder) write(ctx context.Context, group []store.Record) error {
	err := r.retryUnavailable(ctx, func() error { return r.deliveries.Record(ctx, group) })
	if err == nil {
		r.done1(group...)
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, domain.ErrUnavailable) {
		return fmt.Errorf("record %d attempts: %w", len(group), err)
	}
	for _, rec := range group {
		err := r.retryUnavailable(ctx, func() error { return r.deliveries.Record(ctx, []store.Record{rec}) })
		if err == nil {
			r.done1(rec)
			continue
		}
		if ctx.Err() != nil || errors.Is(err, domain.ErrUnavailable) {
			return fmt.Errorf("record attempt of %s: %w", rec.Outcome.DeliveryID, err)
		}
		// Keep the fact of the try, if not its content.
		bare := rec
		if rec.Attempt != nil {
			a := store.NewAttempt(rec.Attempt.DeliveryID, rec.Attempt.RequestMethod, "", nil, "", rec.Attempt.Status(), nil, "",
				false, time.Duration(rec.Attempt.DurationMS)*time.Millisecond,
				"the attempt could not be recorded whole: "+err.Error(), rec.Attempt.ExecutedAt, rec.Attempt.Result == store.AttemptSucceeded)
			a.Result = rec.Attempt.Result
			a.WorkflowID = rec.Attempt.WorkflowID
			bare.Attempt = &a
		}
		if err2 := r.deliveries.Record(ctx, []store.Record{bare}); err2 == nil {
			r.done1(bare)
			continue
		}
		r.onUnrecorded(rec, err)
	}
	return nil
}

func (r *recorder) done1(recs ...store.Record) {
	r.mu.Lock()
	r.written += len(recs)
	r.mu.Unlock()
	for _, rec := range recs {
		r.onRecorded(rec)
	}
}

// retryUnavailable runs f until it succeeds, fails for another reason than
// an unreachable database, or ctx ends (waiting up to a few seconds between
// tries).
func (r *recorder) retryUnavailable(ctx context.Context, f func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil || !errors.Is(err, domain.ErrUnavailable) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
