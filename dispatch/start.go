package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sort"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/workflows"
)

// Starter starts TriggerFlow's workflows with their ids, options and search
// attributes; activities use it through activities.DeliveryStarter.
type Starter struct{}

var _ activities.DeliveryStarter = Starter{}

// StartDeliveryRetry starts (or finds, if already running) the workflow that
// retries one delivery.
func (Starter) StartDeliveryRetry(ctx context.Context, c client.Client, item activities.RetryItem) (string, string, error) {
	run, err := StartDelivery(ctx, c, workflows.DeliveryInput{
		DeliveryID: item.DeliveryID, WebhookID: item.WebhookID, WebhookCode: item.WebhookCode,
		EventID: item.EventID, EventType: item.EventType, TriggerID: item.TriggerID, FirstDelay: item.FirstDelay,
	})
	if err != nil {
		return "", "", err
	}
	return run.GetID(), run.GetRunID(), nil
}

// DeliveryWorkflowID is the id of a delivery's own workflow.
func (Starter) DeliveryWorkflowID(deliveryID string) string {
	return workflows.DeliveryWorkflowID(deliveryID)
}

// StartDelivery starts the workflow of one delivery, or finds it when it is
// already running; a closed one is started again.
func StartDelivery(ctx context.Context, c client.Client, in workflows.DeliveryInput) (client.WorkflowRun, error) {
	id := workflows.DeliveryWorkflowID(in.DeliveryID)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    deliverySearchAttributes(in.WebhookCode, in.EventID, in.EventType, in.TriggerID),
	}, workflows.DeliveryWorkflow, in)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", id, err)
	}
	return run, nil
}

// EndFinishedDeliveryWorkflow ends the workflow of a delivery that has
// finished (failed or canceled) if it has not closed yet, before the
// delivery is reopened for a manual retry: that run recorded the delivery
// finished and may still be closing, and under the same workflow id it would
// record over the retry, or be found again instead of a new run.
func EndFinishedDeliveryWorkflow(ctx context.Context, c client.Client, deliveryID string) error {
	err := c.TerminateWorkflow(ctx, workflows.DeliveryWorkflowID(deliveryID), "", "the delivery is retried by hand")
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("end the previous workflow of delivery %s: %w", deliveryID, err)
	}
	return nil
}

// WakeWebhookQueue signals an ordered webhook's queue workflow, starting it
// when it is not running (signal-with-start).
func WakeWebhookQueue(ctx context.Context, c client.Client, webhookID, code string) (client.WorkflowRun, error) {
	run, err := wakeWebhookWorkflow(ctx, c, workflows.WebhookQueueWorkflowID(code, webhookID), code,
		workflows.WebhookQueueWorkflow, workflows.WebhookQueueInput{WebhookID: webhookID, WebhookCode: code})
	if err != nil {
		return nil, fmt.Errorf("wake queue of webhook %s: %w", code, err)
	}
	return run, nil
}

// WakeBacklog signals an unordered webhook's backlog workflow to look at
// its backlog, starting it when it is not running (signal-with-start).
func (Starter) WakeBacklog(ctx context.Context, c client.Client, webhookID, code string) error {
	_, err := wakeWebhookWorkflow(ctx, c, workflows.BacklogWorkflowID(code, webhookID), code,
		workflows.WebhookBacklogWorkflow, workflows.WebhookBacklogInput{WebhookID: webhookID, WebhookCode: code})
	if err != nil {
		return fmt.Errorf("wake backlog of webhook %s: %w", code, err)
	}
	return nil
}

// wakeWebhookWorkflow sends the wake signal to a webhook's long-lived
// workflow id, starting wf(in) under it when none runs.
func wakeWebhookWorkflow(ctx context.Context, c client.Client, id, code string, wf, in any) (client.WorkflowRun, error) {
	return c.SignalWithStartWorkflow(ctx, id, workflows.SignalWake, nil, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: deliverySearchAttributes(code, "", "", ""),
	}, wf, in)
}

// BacklogWorkflowID is the id of a webhook's backlog workflow.
func (Starter) BacklogWorkflowID(webhookID, code string) string {
	return workflows.BacklogWorkflowID(code, webhookID)
}

// startOnce are the options of a workflow whose id is started once: never
// reused, and a start while it runs finds that run. Eager start: when a
// worker shares this client (the dev stack, or a start from the worker's own
// activity), the first workflow task runs here at once instead of a round
// trip through the matching service; elsewhere the option is a no-op.
func startOnce(id string, sa temporal.SearchAttributes) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                workflows.TaskQueue,
		EnableEagerStart:         true,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    sa,
	}
}

// StartBatch starts the workflow delivering a publish batch; a repeated start
// of the same batch finds the existing run.
func StartBatch(ctx context.Context, c client.Client, in workflows.DeliverBatchInput, sa SearchAttributeValues) (client.WorkflowRun, error) {
	id := workflows.BatchWorkflowID(in.BatchID)
	run, err := c.ExecuteWorkflow(ctx, startOnce(id, sa.attributes()), workflows.DeliverBatchWorkflow, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		// Closed already (the id is never reused): the batch was handed
		// over before, which is all dispatching needs.
		return c.GetWorkflow(ctx, id, started.RunId), nil
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", id, err)
	}
	return run, nil
}

// SearchAttributeValues are the attributes a batch run can carry: the
// single-valued ones are set only when every event (or delivery) in the
// batch shares them; the lists name everything the group carries.
type SearchAttributeValues struct {
	EventID   string
	EventType string
	Webhook   string
	Trigger   string
	Queue     string
	// Webhooks, Triggers and EventTypes are the group's webhook codes,
	// trigger (or queue hook) ids and event types, at most
	// maxListedAttributes of each.
	Webhooks   []string
	Triggers   []string
	EventTypes []string
}

// maxListedAttributes bounds each KeywordList a group carries (Temporal
// limits a search attribute's size): a group with more distinct values
// lists the first ones.
const maxListedAttributes = 100

func (v SearchAttributeValues) attributes() temporal.SearchAttributes {
	var updates []temporal.SearchAttributeUpdate
	if v.EventID != "" {
		updates = append(updates, workflows.SAEventID.ValueSet(v.EventID))
	}
	if v.EventType != "" {
		updates = append(updates, workflows.SAEventType.ValueSet(v.EventType))
	}
	if v.Webhook != "" {
		updates = append(updates, workflows.SAWebhook.ValueSet(v.Webhook))
	}
	if v.Trigger != "" {
		updates = append(updates, workflows.SATrigger.ValueSet(v.Trigger))
	}
	if v.Queue != "" {
		updates = append(updates, workflows.SAQueue.ValueSet(v.Queue))
	}
	for _, l := range []struct {
		key    temporal.SearchAttributeKeyKeywordList
		values []string
	}{{workflows.SAWebhooks, v.Webhooks}, {workflows.SATriggers, v.Triggers}, {workflows.SAEventTypes, v.EventTypes}} {
		if vals := distinctCapped(l.values, maxListedAttributes); len(vals) > 0 {
			updates = append(updates, l.key.ValueSet(vals))
		}
	}
	return temporal.NewSearchAttributes(updates...)
}

// distinctCapped returns the distinct non-empty values, sorted, at most n.
func distinctCapped(values []string, n int) []string {
	seen := make(map[string]bool, len(values))
	var out []string
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// deliverySearchAttributes are the attributes of a delivery's workflow;
// triggerID is set for a trigger's webhook action.
func deliverySearchAttributes(webhookCode, eventID, eventType, triggerID string) temporal.SearchAttributes {
	return SearchAttributeValues{Webhook: webhookCode, Trigger: triggerID, EventID: eventID, EventType: eventType}.attributes()
}
