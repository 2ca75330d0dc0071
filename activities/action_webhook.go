package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// The webhook action (ipSCAPE's trigger action) keeps ipSCAPE's promises by
// being a delivery: its step renders the request, stores it on a delivery
// of the webhook its run's trigger (queue hook, flow) owns, and hands the
// delivery to its own DeliveryWorkflow. The step ends once the delivery is
// stored and carried, so the run's timeout never cuts the 48 hours of
// retries; signing, the retry policy, Retry-After bounds, the attempt log,
// the reconciler and manual retry are the delivery engine's.

// RunEventType is the type of the event a webhook action's delivery stands
// on when its run has no stored event (a scheduled run, a flow run by hand):
// every delivery belongs to an event.
const RunEventType = "flow.run"

// WebhookActions makes webhook actions' deliveries; the worker fills it in.
type WebhookActions struct {
	Runs       *store.Runs
	Webhooks   *store.Webhooks // with the secret cipher
	Deliveries *store.Deliveries
	Events     *store.Events
	Temporal   client.Client
	Starter    DeliveryStarter
}

// WebhookActionResult is a webhook action's output: the delivery that
// carries its request.
type WebhookActionResult struct {
	DeliveryID string `json:"delivery_id"`
	// WorkflowID is the delivery's own workflow, which makes its tries.
	WorkflowID string `json:"workflow_id"`
	// Status is the delivery's status when the step ended: pending, unless a
	// retried step found it already finished.
	Status string `json:"status"`
}

// webhookActionOutputs are what later steps read of a webhook step.
var webhookActionOutputs = []domain.OutputField{
	{Path: "delivery_id", Type: domain.ParamString, Description: "the delivery carrying the request (GET /v1/deliveries/{id}; also the webhook-id header)"},
	{Path: "workflow_id", Type: domain.ParamString, Description: "the delivery's workflow, which makes its tries"},
	{Path: "status", Type: domain.ParamString, Description: "the delivery's status when the step ended (pending: its tries go on by themselves)"},
}

// Deliver stores req as the delivery of the step si and hands it to its own
// workflow. The delivery's id derives from the run and step, so a retried
// step finds the delivery it made instead of making a second one.
func (w *WebhookActions) Deliver(ctx context.Context, si StepInfo, req store.StepRequest) (WebhookActionResult, error) {
	run, err := w.Runs.FindByWorkflow(ctx, si.WorkflowID)
	if errors.Is(err, domain.ErrNotFound) {
		return WebhookActionResult{}, permanentActionError("the run of workflow %s is not recorded; a webhook action runs only in a run", si.WorkflowID)
	}
	if err != nil {
		return WebhookActionResult{}, err
	}
	owner, err := store.OwnerOfRun(run)
	if err != nil {
		return WebhookActionResult{}, permanentActionError("%v", err)
	}
	hook, _, err := w.Webhooks.EnsureOwned(ctx, owner, NewSigningSecret())
	if err != nil {
		return WebhookActionResult{}, err
	}
	ev, err := w.eventOf(ctx, run, si)
	if err != nil {
		return WebhookActionResult{}, err
	}
	id := store.StepDeliveryID(si.WorkflowID, si.StepID)
	carrier := w.Starter.DeliveryWorkflowID(id)
	d, err := w.Deliveries.CreateForStep(ctx, store.StepDelivery{
		ID: id, WebhookID: hook.ID, Event: ev, Request: req, RunWorkflowID: si.WorkflowID, StepID: si.StepID, Carrier: carrier,
	})
	if err != nil {
		return WebhookActionResult{}, err
	}
	out := WebhookActionResult{DeliveryID: d.ID, WorkflowID: carrier, Status: d.Status}
	if d.Status != domain.DeliveryPending || d.WorkflowID != carrier {
		// Finished, or carried by another workflow since (parked, resumed):
		// nothing to hand over.
		return out, nil
	}
	if _, _, err := w.Starter.StartDeliveryRetry(ctx, w.Temporal, RetryItem{
		DeliveryID: d.ID, WebhookID: d.WebhookID, WebhookCode: d.WebhookCode, EventID: d.EventID, EventType: d.EventType,
		TriggerID: owner.TriggerID,
	}); err != nil {
		// The step is retried and finds the delivery; should it not be,
		// the reconciler hands the delivery to its workflow.
		return out, fmt.Errorf("hand delivery %s to its workflow: %w", d.ID, err)
	}
	return out, nil
}

// eventOf is the event a run's webhook action delivery belongs to: the
// run's stored event, or a stand-in stored with the delivery.
func (w *WebhookActions) eventOf(ctx context.Context, run *store.Run, si StepInfo) (domain.Event, error) {
	if run.EventID != nil {
		ev, err := w.Events.Get(ctx, *run.EventID)
		if err == nil {
			return ev.Event, nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return domain.Event{}, err
		}
	}
	data, _ := json.Marshal(map[string]any{"run": map[string]any{"id": run.ID, "workflow_id": si.WorkflowID}})
	return domain.Event{ID: "run-" + si.WorkflowID, Type: RunEventType, OccurredAt: run.StartedAt.UTC(), Data: data}, nil
}

// webhookActionRequest is the request a webhook action's rendered params
// describe, checked: a bad URL, method, timeout or retry fails the step at
// once.
func webhookActionRequest(in WebhookActionInput) (store.StepRequest, error) {
	method := strings.ToUpper(strings.TrimSpace(in.Method))
	if method == "" {
		method = http.MethodPost
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return store.StepRequest{}, permanentActionError("method %q is not one a webhook action sends; use POST, PUT or PATCH", in.Method)
	}
	timeout := domain.DefaultWebhookTimeout
	if s := strings.TrimSpace(in.Timeout); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < domain.MinWebhookTimeout || d > domain.MaxWebhookTimeout {
			return store.StepRequest{}, permanentActionError("timeout %q must be a duration between %s and %s", s, domain.MinWebhookTimeout, domain.MaxWebhookTimeout)
		}
		timeout = d
	}
	policy := domain.ActionRetryPolicy(strings.ToLower(strings.TrimSpace(in.Retry)))
	if errs := policy.Validate(); len(errs) > 0 {
		return store.StepRequest{}, permanentActionError("retry %q is not a preset; use %s, %s or %s", in.Retry,
			domain.RetryEvery10m48h, domain.Retry30sX3, domain.RetryNone)
	}
	u, err := checkOutboundURL(strings.TrimSpace(in.URL))
	if err != nil {
		return store.StepRequest{}, permanentActionError("%v", err)
	}
	body, contentType := requestBody(in.Payload)
	headers := map[string]string{}
	for _, k := range sortedNames(in.Headers) {
		if reservedRequestHeader(k) {
			continue
		}
		headers[http.CanonicalHeaderKey(k)] = strings.NewReplacer("\r", "", "\n", "").Replace(in.Headers[k])
	}
	if _, ok := headers["Content-Type"]; !ok && body != nil {
		headers["Content-Type"] = contentType
	}
	if _, ok := headers["User-Agent"]; !ok {
		headers["User-Agent"] = "TriggerFlow-Webhooks/1"
	}
	return store.NewStepRequest(method, u.String(), headers, body, timeout, policy), nil
}
