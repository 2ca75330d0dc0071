package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
)

// StepInfo identifies the flow step an action runs for. Actions derive
// idempotency keys and log fields from it, so every try of a step — the
// inline first try and the retries in the run's own workflow — carries the
// same identity.
type StepInfo struct {
	// WorkflowID is the run's workflow id: its own, reserved even while the
	// run makes its first try inline in a batch run workflow. Run workflow
	// ids are never reused, so it names one run.
	WorkflowID string
	// StepID names the step within the run: "step-<n>", n counting from 1
	// (the activity id FlowRunWorkflow gives the step; runs started before
	// it did have Temporal's numeric activity ids).
	StepID string
}

// StepActivityID is the id of the n-th step (from 0) of a run, inline and
// as FlowRunWorkflow's activity.
func StepActivityID(n int) string { return fmt.Sprintf("step-%d", n+1) }

type stepInfoKey struct{}

// withStepInfo makes ctx carry the step an action runs for inline.
func withStepInfo(ctx context.Context, si StepInfo) context.Context {
	return context.WithValue(ctx, stepInfoKey{}, si)
}

// stepInfoOf is the step an action runs for: the one set by the inline
// runner, or else the activity's own workflow and activity ids.
func stepInfoOf(ctx context.Context) StepInfo {
	if si, ok := ctx.Value(stepInfoKey{}).(StepInfo); ok {
		return si
	}
	info := activity.GetInfo(ctx)
	return StepInfo{WorkflowID: info.WorkflowExecution.ID, StepID: info.ActivityID}
}
