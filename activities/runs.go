package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/store"
)

// RunAttributes are the search attributes of a run's workflow.
type RunAttributes struct {
	TriggerID string
	QueueID   string
	EventID   string
	EventType string
}

// RunStarter starts the workflow of one run; the workflows package provides
// it. resume, when set, is where a run goes on after its inline first try.
type RunStarter interface {
	StartRun(ctx context.Context, c client.Client, r *store.Run, timeout time.Duration, sa RunAttributes, resume *RunResume) (workflowID, runID string, err error)
}

// RunOptions tells, for a planned run, its timeout and search attributes
// (from its trigger or queue hook and its event).
type RunOptions interface {
	OptionsFor(ctx context.Context, r *store.Run) (timeout time.Duration, sa RunAttributes, err error)
}

// Runs holds the activities that run and start the runs publishes plan.
type Runs struct {
	Runs       *store.Runs
	Flows      *store.Flows
	Events     *store.Events
	Temporal   client.Client
	Starter    RunStarter
	RunOptions RunOptions
	// Actions are the flow actions' dependencies, for runs tried inline.
	Actions *Actions
	// Concurrency bounds runs tried inline at once (default 64).
	Concurrency int
}

// StartPlannedRunsInput names a publish batch.
type StartPlannedRunsInput struct {
	BatchID string
}

// StartPlannedRunsResult counts the runs started.
type StartPlannedRunsResult struct {
	Started int
}

// StartPlannedRuns starts every pending run a publish batch planned, each as
// its own workflow, several at a time, and records them started in one
// statement. Starting is idempotent by workflow id, so a retry after a crash
// starts nothing twice. Batch workflows handed over before runs made their
// first try inline (RunPlannedRuns) still call it.
func (a *Runs) StartPlannedRuns(ctx context.Context, in StartPlannedRunsInput) (StartPlannedRunsResult, error) {
	var res StartPlannedRunsResult
	runs, err := a.Runs.PendingInBatch(ctx, in.BatchID)
	if err != nil {
		return res, err
	}
	started, startErr := a.startRuns(ctx, runs, nil)
	if err := a.Runs.MarkStartedMany(ctx, started); err != nil {
		return res, err
	}
	res.Started = len(started)
	// Anything that failed to start is still pending: the retry starts it.
	return res, startErr
}

// startRuns starts the workflows of runs, startConcurrency at a time, with
// their trigger's timeout and search attributes, and returns the ones that
// started. resumes, when given, holds where each run goes on after its
// inline first try; its timeout then counts from when the run began.
func (a *Runs) startRuns(ctx context.Context, runs []*store.Run, resumes []*RunResume) ([]store.StartedRun, error) {
	started := make([]store.StartedRun, len(runs))
	errs := make([]error, len(runs))
	sem := make(chan struct{}, startConcurrency)
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, r *store.Run) {
			defer wg.Done()
			defer func() { <-sem }()
			timeout, sa, err := a.RunOptions.OptionsFor(ctx, r)
			if err != nil {
				errs[i] = fmt.Errorf("plan run %s: %w", r.ID, err)
				return
			}
			var resume *RunResume
			if resumes != nil {
				resume = resumes[i]
				timeout = max(timeout-time.Since(r.StartedAt), time.Second)
			}
			wfID, runID, err := a.Starter.StartRun(ctx, a.Temporal, r, timeout, sa, resume)
			if err != nil {
				errs[i] = err
				return
			}
			started[i] = store.StartedRun{ID: r.ID, WorkflowID: wfID, RunID: runID}
		}(i, r)
	}
	wg.Wait()
	var ok []store.StartedRun
	for i := range runs {
		if errs[i] == nil {
			ok = append(ok, started[i])
		}
	}
	return ok, errors.Join(errs...)
}

// startConcurrency bounds parallel workflow starts of one batch's runs.
const startConcurrency = 16
