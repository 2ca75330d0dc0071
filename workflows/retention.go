package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
)

// RetentionScheduleID is the Temporal Schedule that runs PurgeWorkflow.
const RetentionScheduleID = "triggerflow-retention"

// RetentionInterval is how often the purge runs.
const RetentionInterval = time.Hour

// PurgeWorkflowInput is the purge's settings, carried by the schedule's action.
type PurgeWorkflowInput struct {
	PayloadRetention time.Duration
	LogRetention     time.Duration
	BatchSize        int
	MaxBatches       int
}

// PurgeWorkflowResult is what one purge deleted.
type PurgeWorkflowResult struct {
	Result activities.PurgeResult
}

// PurgeWorkflow deletes what is older than the retention settings, in small
// batches in one activity that heartbeats between them.
func PurgeWorkflow(ctx workflow.Context, in PurgeWorkflowInput) (PurgeWorkflowResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 5},
	})
	var r *activities.Retention
	var out PurgeWorkflowResult
	err := workflow.ExecuteActivity(ctx, r.PurgeExpired, activities.PurgeInput{
		PayloadRetention: in.PayloadRetention, LogRetention: in.LogRetention,
		BatchSize: in.BatchSize, MaxBatches: in.MaxBatches, Now: workflow.Now(ctx),
	}).Get(ctx, &out.Result)
	return out, err
}
