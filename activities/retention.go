package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/triggerflow/triggerflow/store"
)

// Retention holds the purge activity's dependencies.
type Retention struct {
	Store *store.Retention
}

// PurgeInput says what to keep: events (with their deliveries and runs) for
// PayloadRetention, attempt logs and notifications for LogRetention; zero
// keeps them forever. BatchSize rows go per statement; MaxBatches bounds one
// run (the schedule's next run goes on).
type PurgeInput struct {
	PayloadRetention time.Duration
	LogRetention     time.Duration
	BatchSize        int
	MaxBatches       int
	// Now is when the purge's workflow started (cutoffs count from it, so a
	// retried activity deletes the same set).
	Now time.Time
}

// PurgeResult is what a purge deleted.
type PurgeResult struct {
	Deleted store.PurgeCounts
	Batches int
}

// PurgeExpired deletes expired rows batch by batch until nothing old is left
// or MaxBatches ran, heartbeating between batches. Each batch is its own
// short statement, so publishing never waits on a purge.
func (r *Retention) PurgeExpired(ctx context.Context, in PurgeInput) (PurgeResult, error) {
	var out PurgeResult
	if in.BatchSize <= 0 {
		in.BatchSize = 500
	}
	if in.MaxBatches <= 0 {
		in.MaxBatches = 1000
	}
	// Events first (their attempts go with them), then what is left of the
	// logs; each kind until a batch finds nothing.
	var steps []purgeStep
	if in.PayloadRetention > 0 {
		steps = append(steps, purgeStep{r.Store.PurgeEvents, in.Now.Add(-in.PayloadRetention)})
	}
	if in.LogRetention > 0 {
		steps = append(steps, purgeStep{r.Store.PurgeLogs, in.Now.Add(-in.LogRetention)})
	}
	for _, s := range steps {
		for out.Batches < in.MaxBatches {
			c, err := s.purge(ctx, s.before, in.BatchSize)
			if err != nil {
				return out, err
			}
			out.Batches++
			out.Deleted.Add(c)
			activity.RecordHeartbeat(ctx, out)
			if c.Total() == 0 {
				break
			}
		}
	}
	return out, nil
}

// purgeStep is one kind of purge with its cutoff.
type purgeStep struct {
	purge  func(context.Context, time.Time, int) (store.PurgeCounts, error)
	before time.Time
}
