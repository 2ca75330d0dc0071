package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
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
	// Resume is set on a run that made its first try inline in a batch run
	// workflow: the steps it finished there and the step to go on with.
	Resume *activities.RunResume `json:",omitempty"`
}

// startPlannedRuns starts the trigger and queue-hook runs a publish batch
// planned, each as its own workflow. Only batch workflows handed over before
// RunBatchWorkflow existed take this path.
func startPlannedRuns(ctx workflow.Context, batchID string) (int, error) {
	var a *activities.Runs
	var res activities.StartPlannedRunsResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, bookkeeping), a.StartPlannedRuns,
		activities.StartPlannedRunsInput{BatchID: batchID}).Get(ctx, &res)
	return res.Started, err
}

// RunBatchInput names the planned runs of one trigger or queue hook in a
// dispatched group of publish batches.
type RunBatchInput struct {
	BatchIDs    []string
	TriggerID   string
	QueueHookID string
	// QueueID is a queue hook's queue: the workflow carries it from its
	// start as TriggerFlowQueue.
	QueueID string `json:",omitempty"`
}

// runBatchOptions bound the activity making a group's first tries: a run may
// take up to its trigger's timeout (at most 24 h), and a killed worker's
// activity moves to another worker within seconds (it heartbeats).
var runBatchOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    25 * time.Hour,
	HeartbeatTimeout:       10 * time.Second,
	ScheduleToCloseTimeout: 48 * time.Hour,
	RetryPolicy:            infrastructureRetry(),
}

// RunBatchWorkflow makes the first try of the runs one trigger or queue hook
// has in a group of publish batches, in one activity (see
// activities.Runs.RunPlannedRuns); runs that need retries or a durable timer
// continue in their own FlowRunWorkflow. It carries TriggerFlowTrigger (and
// TriggerFlowQueue for a queue hook), so operators find it with the
// trigger's runs.
func RunBatchWorkflow(ctx workflow.Context, in RunBatchInput) (activities.RunPlannedResult, error) {
	var a *activities.Runs
	var res activities.RunPlannedResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, runBatchOptions), a.RunPlannedRuns,
		activities.RunPlannedInput{BatchIDs: in.BatchIDs, TriggerID: in.TriggerID, QueueHookID: in.QueueHookID}).Get(ctx, &res)
	return res, err
}
