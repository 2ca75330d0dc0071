//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// listWorkflows runs a Temporal UI filter and returns the workflow ids found.
func listWorkflows(t *testing.T, c client.Client, query string) []string {
	t.Helper()
	resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000})
	if err != nil {
		t.Fatalf("list %q: %v", query, err)
	}
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids
}

// An operator finds the workflow that made any delivery's first try by the
// webhook's code and the event type, although first tries are grouped: the
// group workflows carry every webhook code, trigger and event type they
// hold as KeywordLists.
func TestOperatorsFindGroupedFirstTriesByWebhookAndEventType(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Tasks sink", "url": rc.URL, "event_types": []string{"task.*"}})
	createWebhook(t, s, map[string]any{"name": "Other sink", "url": rc.URL, "event_types": []string{"user.created"}})
	for i := range 60 {
		typ := "task.created"
		if i%3 == 0 {
			typ = "user.created"
		}
		go publish(t, s, fmt.Sprintf("ops-%d", i), typ, nil)
	}
	rc.WaitFor(t, 60, 30*time.Second)
	for _, d := range deliveriesOf(t, s, "tasks_sink") {
		wf := d["workflow_id"].(string)
		testkit.Eventually(t, 20*time.Second, "group of "+d["event_id"].(string)+" found by webhook", func() bool {
			for _, id := range listWorkflows(t, s.Temporal, `TriggerFlowWebhooks = "tasks_sink" AND TriggerFlowEventTypes = "task.created"`) {
				if id == wf {
					return true
				}
			}
			return false
		})
	}
	for _, id := range listWorkflows(t, s.Temporal, `TriggerFlowWebhooks = "tasks_sink"`) {
		found := false
		for _, d := range deliveriesOf(t, s, "tasks_sink") {
			found = found || d["workflow_id"] == id
		}
		if !found {
			t.Fatalf("filter TriggerFlowWebhooks = tasks_sink found %s, which carried none of its deliveries", id)
		}
	}
}

// With TRIGGERFLOW_DELIVERY_GROUPING=off each first try is its own workflow
// with exact attributes: TriggerFlowEventID finds the one delivery.
func TestUngroupedFirstTriesCarryExactAttributes(t *testing.T) {
	s := teststack.Start(t, teststack.Options{Separate: true})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Exact sink", "url": rc.URL, "event_types": []string{"task.created"}})
	for i := range 10 {
		go publish(t, s, fmt.Sprintf("exact-%d", i), "task.created", nil)
	}
	rc.WaitFor(t, 10, 30*time.Second)
	d := s.DeliveryOf(t, "exact-7", "succeeded")
	if d["workflow_id"] != "delivery-"+d["id"].(string) {
		t.Fatalf("first try made by %v, want the delivery's own workflow", d["workflow_id"])
	}
	testkit.Eventually(t, 20*time.Second, "the delivery found by event id", func() bool {
		ids := listWorkflows(t, s.Temporal, `TriggerFlowEventID = "exact-7" AND TriggerFlowWebhook = "exact_sink"`)
		return len(ids) == 1 && ids[0] == d["workflow_id"]
	})
	if n := rc.Count(); n != 10 {
		t.Fatalf("receiver got %d requests, want 10", n)
	}
}
