package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/store"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

var _ activities.RunStarter = Starter{}

// StartRun starts the workflow of one planned run; the workflow id comes from
// the trigger (or hook) and the event, so a repeated event is one run.
func (Starter) StartRun(ctx context.Context, c client.Client, r *store.Run, timeout time.Duration, sa activities.RunAttributes, resume *activities.RunResume) (string, string, error) {
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
	}, FlowRunWorkflowName, FlowRunInput{RunID: r.ID, Resume: resume})
	if err != nil {
		return "", "", fmt.Errorf("start %s: %w", r.WorkflowID, err)
	}
	return run.GetID(), run.GetRunID(), nil
}

// StartRunBatch starts the workflow making the first tries of a source's
// runs in a group of batches; a repeated start finds the existing run.
func StartRunBatch(ctx context.Context, c client.Client, group string, in RunBatchInput, sa SearchAttributeValues) error {
	source := in.TriggerID
	if source == "" {
		source = in.QueueHookID
	}
	sa.Trigger, sa.Queue = source, in.QueueID
	id := RunBatchWorkflowID(source, group)
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                TaskQueue,
		EnableEagerStart:         true,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    sa.attributes(),
	}, RunBatchWorkflow, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil // closed already: the group was handed over before
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	return nil
}
