package activities

import (
	"context"

	"go.temporal.io/sdk/activity"
)

// StepInfo identifies the flow step an action runs for. Actions derive
// idempotency keys and log fields from it, so a retried step keeps them.
type StepInfo struct {
	// WorkflowID is the run's workflow id (its own, reserved even while the
	// run makes its first try inline in a batch run workflow).
	WorkflowID string
	// RunID tells runs of one workflow id apart (the Temporal run id, or the
	// run's id when it runs inline).
	RunID string
	// StepID tells the steps of one run apart (the activity id, or
	// "step-<n>" inline).
	StepID string
}

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
	return StepInfo{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, StepID: info.ActivityID}
}
