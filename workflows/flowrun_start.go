package workflows

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/store"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// StartFlowRun starts FlowRunWorkflow for in under workflowID with the run's
// execution timeout and search attributes. A start under an id already
// running finds that run.
func StartFlowRun(ctx context.Context, c client.Client, workflowID string, in FlowRunInput, timeout time.Duration, sa activities.RunAttributes) (client.WorkflowRun, error) {
	var updates []temporal.SearchAttributeUpdate
	if sa.TriggerID != "" {
		updates = append(updates, SATrigger.ValueSet(sa.TriggerID))
	}
	if sa.QueueID != "" {
		updates = append(updates, SAQueue.ValueSet(sa.QueueID))
	}
	if sa.EventID != "" {
		updates = append(updates, SAEventID.ValueSet(sa.EventID))
	}
	if sa.EventType != "" {
		updates = append(updates, SAEventType.ValueSet(sa.EventType))
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflowID,
		TaskQueue:                TaskQueue,
		WorkflowExecutionTimeout: timeout,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(updates...),
	}, FlowRunWorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", workflowID, err)
	}
	return run, nil
}

// ReconcileRunStatus brings a run that its workflow could not finish (a
// workflow that timed out, was terminated, or whose worker died before the
// last write) in line with what Temporal knows. Runs already finished, not
// yet started, or whose workflow is still running are returned unchanged.
func ReconcileRunStatus(ctx context.Context, c client.Client, runs *store.Runs, r *store.Run) (*store.Run, error) {
	if r.Status != store.RunRunning || r.WorkflowID == "" || c == nil {
		return r, nil
	}
	desc, err := c.DescribeWorkflowExecution(ctx, r.ExecWorkflow(), r.RunID)
	if err != nil {
		return r, fmt.Errorf("describe %s: %w", r.ExecWorkflow(), err)
	}
	var status, msg string
	switch desc.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		status, msg = store.RunTimedOut, "the run did not finish within its timeout"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		status, msg = store.RunCanceled, "the run's workflow was terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		status, msg = store.RunCanceled, "the run was canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		status, msg = store.RunFailed, "the run's workflow failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		if r.InlineWorkflowID != "" {
			// A batch run workflow completes after recording every run
			// it tried; a re-read below sees the run's own outcome.
			return runs.Find(ctx, r.ID)
		}
		status = store.RunSucceeded
	default:
		return r, nil
	}
	// Re-read first: the workflow may have recorded its own outcome since.
	fresh, err := runs.Find(ctx, r.ID)
	if err != nil || fresh.Status != store.RunRunning {
		return fresh, err
	}
	if err := runs.Finish(ctx, store.RunOutcome{ID: r.ID, Status: status, Error: msg}); err != nil {
		return r, err
	}
	return runs.Find(ctx, r.ID)
}
