package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

var _ activities.RunStarter = Starter{}

// StartRun starts the workflow of one planned run; the workflow id comes from
// the trigger (or hook) and the event, so a repeated event is one run.
func (Starter) StartRun(ctx context.Context, c client.Client, r *store.Run, timeout time.Duration, sa activities.RunAttributes, resume *activities.RunResume) (string, string, error) {
	opts := startOnce(r.WorkflowID, runAttributes(sa))
	opts.WorkflowExecutionTimeout = timeout
	run, err := c.ExecuteWorkflow(ctx, opts, workflows.FlowRunWorkflowName, workflows.FlowRunInput{RunID: r.ID, Resume: resume})
	if err != nil {
		return "", "", fmt.Errorf("start %s: %w", r.WorkflowID, err)
	}
	return run.GetID(), run.GetRunID(), nil
}

// StartRunBatch starts the workflow making the first tries of a source's
// runs in a group of batches; a repeated start finds the existing run.
func StartRunBatch(ctx context.Context, c client.Client, group string, in workflows.RunBatchInput, sa SearchAttributeValues) error {
	source := in.TriggerID
	if source == "" {
		source = in.QueueHookID
	}
	sa.Trigger, sa.Queue = source, in.QueueID
	id := workflows.RunBatchWorkflowID(source, group)
	_, err := c.ExecuteWorkflow(ctx, startOnce(id, sa.attributes()), workflows.RunBatchWorkflow, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil // closed already: the group was handed over before
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	return nil
}

// StartFlowRun starts FlowRunWorkflow for in under workflowID with the run's
// execution timeout and search attributes. A start under an id already
// running finds that run.
func StartFlowRun(ctx context.Context, c client.Client, workflowID string, in workflows.FlowRunInput, timeout time.Duration, sa activities.RunAttributes) (client.WorkflowRun, error) {
	attrs := runAttributes(sa)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflowID,
		TaskQueue:                workflows.TaskQueue,
		WorkflowExecutionTimeout: timeout,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    attrs,
	}, workflows.FlowRunWorkflowName, in)
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
	if r.Status != domain.RunRunning || r.WorkflowID == "" || c == nil {
		return r, nil
	}
	desc, err := c.DescribeWorkflowExecution(ctx, r.ExecWorkflow(), r.RunID)
	if err != nil {
		return r, fmt.Errorf("describe %s: %w", r.ExecWorkflow(), err)
	}
	var status, msg string
	switch desc.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		status, msg = domain.RunTimedOut, "the run did not finish within its timeout"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		status, msg = domain.RunCanceled, "the run's workflow was terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		status, msg = domain.RunCanceled, "the run was canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		status, msg = domain.RunFailed, "the run's workflow failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		if r.InlineWorkflowID != "" {
			// A batch run workflow completes after recording every run
			// it tried; a re-read below sees the run's own outcome.
			return runs.Find(ctx, r.ID)
		}
		status = domain.RunSucceeded
	default:
		return r, nil
	}
	// Re-read first: the workflow may have recorded its own outcome since.
	fresh, err := runs.Find(ctx, r.ID)
	if err != nil || fresh.Status != domain.RunRunning {
		return fresh, err
	}
	if err := runs.Finish(ctx, store.RunOutcome{ID: r.ID, Status: status, Error: msg}); err != nil {
		return r, err
	}
	return runs.Find(ctx, r.ID)
}

// runAttributes are the search attributes of a run's own workflow.
func runAttributes(sa activities.RunAttributes) temporal.SearchAttributes {
	return SearchAttributeValues{Trigger: sa.TriggerID, Queue: sa.QueueID, EventID: sa.EventID, EventType: sa.EventType}.attributes()
}
