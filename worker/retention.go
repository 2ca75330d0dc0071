package worker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jmoiron/sqlx"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// registerRetention registers the purge workflow and its activity.
func registerRetention(w sdkworker.Worker, db *sqlx.DB) {
	w.RegisterWorkflow(workflows.PurgeWorkflow)
	w.RegisterActivity(&activities.Retention{Store: &store.Retention{DB: db}})
}

// EnsureRetentionSchedule makes the Temporal Schedule that purges expired
// data every RetentionInterval match the settings: created when missing,
// its action updated when the settings changed, deleted when nothing
// expires. Every worker runs it at start; the outcome is the same.
func EnsureRetentionSchedule(ctx context.Context, c client.Client, in workflows.PurgeWorkflowInput, log *slog.Logger) error {
	h := c.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID)
	_, err := h.Describe(ctx)
	var notFound *serviceerror.NotFound
	exists := err == nil
	if err != nil && !errors.As(err, &notFound) {
		return err
	}
	if in.PayloadRetention <= 0 && in.LogRetention <= 0 {
		if exists {
			log.Info("retention is off: deleting the purge schedule")
			return h.Delete(ctx)
		}
		return nil
	}
	action := &client.ScheduleWorkflowAction{
		ID: workflows.RetentionScheduleID, Workflow: workflows.PurgeWorkflow, Args: []any{in},
		TaskQueue: workflows.TaskQueue,
	}
	if !exists {
		_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:      workflows.RetentionScheduleID,
			Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: workflows.RetentionInterval}}},
			Action:  action,
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			Note:    "TriggerFlow retention: deletes expired events, deliveries, attempts and notifications",
		})
		var already *serviceerror.AlreadyExists
		if errors.As(err, &already) || errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			return nil // another worker made it meanwhile
		}
		if err == nil {
			log.Info("retention schedule created", "payloads", in.PayloadRetention, "logs", in.LogRetention)
		}
		return err
	}
	// The described action's arguments are encoded payloads; setting the
	// action again on every start is cheap and keeps it current.
	return h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		u.Description.Schedule.Action = action
		return &client.ScheduleUpdate{Schedule: &u.Description.Schedule}, nil
	}})
}
