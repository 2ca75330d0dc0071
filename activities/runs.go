package activities

import (
	"context"
	"fmt"
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

// RunStarter starts the workflow of one run; the workflows package provides it.
type RunStarter interface {
	StartRun(ctx context.Context, c client.Client, r *store.Run, timeout time.Duration, sa RunAttributes) (workflowID, runID string, err error)
}

// RunPlanner tells, for a planned run, its timeout and search attributes
// (from its trigger or queue hook and its event).
type RunPlanner interface {
	PlanRun(ctx context.Context, r *store.Run) (timeout time.Duration, sa RunAttributes, err error)
}

// Runs holds the activities that start and record trigger runs.
type Runs struct {
	Runs     *store.Runs
	Temporal client.Client
	Starter  RunStarter
	Planner  RunPlanner
}

// StartPlannedRunsInput names a publish batch.
type StartPlannedRunsInput struct {
	BatchID string
}

// StartPlannedRunsResult counts the runs started.
type StartPlannedRunsResult struct {
	Started int
}

// StartPlannedRuns starts every pending run a publish batch planned. Starting
// is idempotent by workflow id, so a retry after a crash starts nothing twice.
func (a *Runs) StartPlannedRuns(ctx context.Context, in StartPlannedRunsInput) (StartPlannedRunsResult, error) {
	var res StartPlannedRunsResult
	runs, err := a.Runs.PendingInBatch(ctx, in.BatchID)
	if err != nil {
		return res, err
	}
	for _, r := range runs {
		timeout, sa, err := a.Planner.PlanRun(ctx, r)
		if err != nil {
			return res, fmt.Errorf("plan run %s: %w", r.ID, err)
		}
		wfID, runID, err := a.Starter.StartRun(ctx, a.Temporal, r, timeout, sa)
		if err != nil {
			return res, err
		}
		if err := a.Runs.MarkStarted(ctx, r.ID, wfID, runID); err != nil {
			return res, err
		}
		res.Started++
	}
	return res, nil
}
