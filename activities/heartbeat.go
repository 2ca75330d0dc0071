package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeatEvery is how often long activities report that they are alive.
// Their HeartbeatTimeout (set by the workflows) is a few times this, so a
// killed worker's batch is handed to another worker within seconds, while a
// single slow request (up to the 30 s webhook timeout) never looks dead.
const heartbeatEvery = 2 * time.Second

// keepHeartbeating records a heartbeat every heartbeatEvery until stop is
// called.
func keepHeartbeating(ctx context.Context) (stop func()) { return heartbeatProgress(ctx, nil) }

// heartbeatProgress records a heartbeat with progress() as its details
// (none when progress is nil) every heartbeatEvery until stop is called, so
// Temporal UI shows how far a long activity got.
func heartbeatProgress(ctx context.Context, progress func() any) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if progress == nil {
					activity.RecordHeartbeat(ctx)
					continue
				}
				activity.RecordHeartbeat(ctx, progress())
			}
		}
	}()
	return func() { close(done) }
}
