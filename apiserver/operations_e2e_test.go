//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/workflows"
)

// Operators find every run of a webhook or an event in Temporal UI by
// search attribute; the API answers carry the workflow ids.
func TestRunsCarrySearchAttributes(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.FailFirst(1, 500)
	createWebhook(t, s, map[string]any{"name": "findable", "url": rc.URL, "event_types": []string{"*"}, "retry": fastRetry})
	publish(t, s, "evt-sa", "lead.outcome_predictive", nil)
	d := s.DeliveryOf(t, "evt-sa", "succeeded")
	ctx := context.Background()
	for _, q := range []string{
		fmt.Sprintf("%s = 'evt-sa'", workflows.SAEventID.GetName()),
		fmt.Sprintf("%s = 'findable' AND %s = 'lead.outcome_predictive'", workflows.SAWebhook.GetName(), workflows.SAEventType.GetName()),
	} {
		var ids []string
		testkit.Eventually(t, 20*time.Second, "visibility finds "+q, func() bool {
			resp, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
			if err != nil {
				t.Fatal(err)
			}
			ids = ids[:0]
			for _, e := range resp.GetExecutions() {
				ids = append(ids, e.GetExecution().GetWorkflowId())
			}
			for _, id := range ids {
				if id == d["workflow_id"] {
					return true
				}
			}
			return false
		})
	}
}

func TestDeletingAWebhookCancelsItsDeliveries(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response { return testkit.Response{Status: 503} })
	createWebhook(t, s, map[string]any{"name": "doomed", "url": rc.URL, "event_types": []string{"*"},
		"retry": map[string]any{"initial_interval": "2s", "max_attempts": 50}})
	publish(t, s, "evt-doomed", "user.created", nil)
	d := s.DeliveryOf(t, "evt-doomed", "pending")
	testkit.Eventually(t, 20*time.Second, "retry workflow started", func() bool {
		d = s.MustDo(200, "GET", "/v1/deliveries/"+d["id"].(string), nil).Map(t)
		return d["workflow_id"] == workflows.DeliveryWorkflowID(d["id"].(string))
	})
	s.MustDo(204, "DELETE", "/v1/webhooks/doomed", nil)
	n := rc.Count()
	time.Sleep(5 * time.Second)
	if rc.Count() > n+1 {
		t.Fatalf("attempts continued after delete: %d -> %d", n, rc.Count())
	}
	ctx := context.Background()
	testkit.Eventually(t, 20*time.Second, "the delivery workflow is closed", func() bool {
		desc, err := s.Temporal.DescribeWorkflowExecution(ctx, d["workflow_id"].(string), "")
		return err == nil && desc.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
	s.MustDo(404, "GET", "/v1/deliveries/"+d["id"].(string), nil)
}
