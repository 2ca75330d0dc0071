package activities_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// Tries logged at once by many runs share statements, yet each is numbered
// as if written alone, and a try the database refuses fails only itself.
func TestTryLogGroupsTriesAndKeepsEachFateItsOwn(t *testing.T) {
	ctx := context.Background()
	db := &store.StepAttempts{DB: testkit.DB(t)}
	var l activities.TryLog
	const runs, tries = 40, 5
	errs := make(chan error, runs*tries+1)
	var wg sync.WaitGroup
	for r := range runs {
		wg.Add(1)
		go func() { // a run's tries follow each other, as a step's retries do
			defer wg.Done()
			for range tries {
				a := store.NewAttempt("", "GET", "https://example.com", nil, "", 503, nil, "busy", false,
					time.Millisecond, "HTTP 503", time.Now(), false)
				errs <- l.Record(ctx, db, store.StepTry{RunWorkflowID: fmt.Sprintf("run-%d", r), StepID: "step-1", Attempt: a})
			}
		}()
	}
	bad := store.NewAttempt("", "GET", "https://example.com", nil, "", 200, nil, "", false, 0, "", time.Now(), true)
	bad.Result = "MAYBE" // refused by the table's check
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := l.Record(ctx, db, store.StepTry{RunWorkflowID: "run-bad", StepID: "step-1", Attempt: bad}); err == nil {
			errs <- fmt.Errorf("a try the table refuses was reported written")
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for r := range runs {
		got, err := db.OfRuns(ctx, []string{fmt.Sprintf("run-%d", r)})
		if err != nil || len(got) != tries {
			t.Fatalf("run-%d: %d tries (%v)", r, len(got), err)
		}
		for i, a := range got {
			if a.Attempt.Attempt != tries-i {
				t.Fatalf("run-%d: tries numbered %+v", r, got)
			}
		}
	}
}
