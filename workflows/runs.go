package workflows

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// FlowRunWorkflowName is the registered name of the workflow that runs one
// flow for a trigger or queue hook.
const FlowRunWorkflowName = "FlowRunWorkflow"

// FlowRunInput names the run (a trigger_runs row) to execute.
//
// Runs planned by a publish carry RunID: their row exists. Scheduled and
// fire-now runs may leave RunID empty and name their source instead
// (TriggerID, QueueHookID, or FlowID for a run of a flow by itself); the run
// then records its own row, keyed by its workflow id, when it begins, so a
// repeated start records one run.
type FlowRunInput struct {
	RunID string
	// TriggerID is set, with RunID empty, on runs an At Time trigger's
	// schedule starts: a schedule's arguments are fixed when it is saved, so
	// the run records its own trigger_runs row (store.Runs.Record, keyed by
	// its workflow id) when it begins.
	TriggerID   string
	QueueHookID string
	FlowID      string
	// EventID names a stored event the run sees; Event carries one inline
	// (a fire-now event that was not published). A run with neither sees an
	// empty event.
	EventID string
	Event   *domain.Event
}

// startPlannedRuns starts the trigger and queue-hook runs a publish batch
// planned, each as its own workflow.
func startPlannedRuns(ctx workflow.Context, batchID string) (int, error) {
	var a *activities.Runs
	var res activities.StartPlannedRunsResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, bookkeeping), a.StartPlannedRuns,
		activities.StartPlannedRunsInput{BatchID: batchID}).Get(ctx, &res)
	return res.Started, err
}

var _ activities.RunStarter = Starter{}

// StartRun starts the workflow of one planned run; the workflow id comes from
// the trigger (or hook) and the event, so a repeated event is one run.
func (Starter) StartRun(ctx context.Context, c client.Client, r *store.Run, timeout time.Duration, sa activities.RunAttributes) (string, string, error) {
	updates := []temporal.SearchAttributeUpdate{}
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
		ID:                       r.WorkflowID,
		TaskQueue:                TaskQueue,
		WorkflowExecutionTimeout: timeout,
		// Started from the worker's own activity: eager start hands the
		// first workflow task straight to this worker.
		EnableEagerStart:         true,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(updates...),
	}, FlowRunWorkflowName, FlowRunInput{RunID: r.ID})
	if err != nil {
		return "", "", fmt.Errorf("start %s: %w", r.WorkflowID, err)
	}
	return run.GetID(), run.GetRunID(), nil
}
