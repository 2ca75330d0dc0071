package workflows

import (
	"fmt"
	"time"
)

// Workflow ids are readable and deterministic: a repeated start for the same
// thing finds the existing run instead of making a second one.

// BatchWorkflowID is the id of the workflow delivering a publish batch.
func BatchWorkflowID(batchID string) string { return "delivery-batch-" + batchID }

// DeliveryWorkflowID is the id of the workflow retrying one delivery.
func DeliveryWorkflowID(deliveryID string) string { return "delivery-" + deliveryID }

// BacklogWorkflowID is the id of the workflow carrying an unordered
// webhook's backlog: the first tries groups could not send because the
// webhook had no request to spare.
func BacklogWorkflowID(code, webhookID string) string {
	return fmt.Sprintf("delivery-backlog-%s-%s", code, webhookID)
}

// WebhookQueueWorkflowID is the id of an ordered webhook's queue workflow.
func WebhookQueueWorkflowID(code, webhookID string) string {
	return fmt.Sprintf("webhook-%s-%s", code, webhookID)
}

// TriggerRunWorkflowID is the id of a trigger's run for one event.
func TriggerRunWorkflowID(triggerID, eventID string) string {
	return fmt.Sprintf("trigger-%s-%s", triggerID, eventID)
}

// QueueHookRunWorkflowID is the id of a queue hook's run for one event.
func QueueHookRunWorkflowID(hookID, eventID string) string {
	return fmt.Sprintf("trigger-%s-%s", hookID, eventID)
}

// RunBatchWorkflowID is the id of the workflow in which the runs of one
// trigger or queue hook (source) in a dispatched group of publish batches
// make their first try. Trigger and hook ids never read "batch", so it
// cannot meet a run's own id.
func RunBatchWorkflowID(source, group string) string {
	return fmt.Sprintf("trigger-batch-%s-%s", group, source)
}

// QueryStepOutputs asks a FlowRunWorkflow for what each of its steps
// returned so far, by step name.
const QueryStepOutputs = "step-outputs"

// CaseTimerWorkflowID is the id of a case's planned-resolution timer.
func CaseTimerWorkflowID(caseID string) string { return "case-timer-" + caseID }

// Signal names.
const (
	// SignalWake tells a waiting workflow to look at the database again: new
	// deliveries for an ordered webhook, or a webhook enabled again.
	SignalWake = "wake"
	// SignalCasePlan brings a case timer a change of the case's plan
	// (CasePlanSignal).
	SignalCasePlan = "case-plan"
)

// An At Time trigger is a Temporal Schedule: Temporal owns the clock (cron in
// the trigger's zone, DST included), the overlap policy, pause on disable and
// trigger-now, and every firing is a FlowRunWorkflow run operators see in
// Temporal UI. The database row is the definition; Schedules keeps the
// schedule in line with it.

// ScheduleCatchupWindow is how late a fire time missed during an outage of
// Temporal or the workers may still be taken. Temporal's default is a year,
// which would replay every missed tick of a frequent trigger; an hour keeps
// a daily report that was due during a short outage without flooding.
const ScheduleCatchupWindow = time.Hour

// TriggerScheduleID is the id of an At Time trigger's schedule. The
// workflows it starts get the same id with the fire time appended
// ("trigger-trg_…-2026-11-21T12:00:00Z").
func TriggerScheduleID(triggerID string) string { return "trigger-" + triggerID }
