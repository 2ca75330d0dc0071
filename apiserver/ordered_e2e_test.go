//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/workflows"
)

// TestOrderedDeliveryKeepsOrderThroughFailuresAndContinueAsNew publishes
// thousands of events to an ordered webhook whose receiver fails now and
// then, with a queue workflow tuned to continue as new every few rounds, and
// checks the receiver saw every event once, in publish order (a retried
// event repeats, but nothing after it is sent before it succeeds).
func TestOrderedDeliveryKeepsOrderThroughFailuresAndContinueAsNew(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(n int, r testkit.Received) testkit.Response {
		// The first two tries fail, then every 97th request answers 503.
		if n <= 2 || n%97 == 0 {
			return testkit.Response{Status: 503}
		}
		return testkit.Response{Status: 200}
	})
	wh := createWebhook(t, s, map[string]any{"name": "fifo", "url": rc.URL, "event_types": []string{"task.*"}, "ordered": true,
		"retry": map[string]any{"initial_interval": "1s", "max_attempts": 20}})
	id, code := wh["id"].(string), wh["code"].(string)

	// Start the queue small so it continues as new many times.
	ctx := context.Background()
	_, err := s.Temporal.SignalWithStartWorkflow(ctx, workflows.WebhookQueueWorkflowID(code, id), workflows.SignalWake, nil,
		client.StartWorkflowOptions{ID: workflows.WebhookQueueWorkflowID(code, id), TaskQueue: workflows.TaskQueue},
		workflows.WebhookQueueWorkflow, workflows.WebhookQueueInput{WebhookID: id, WebhookCode: code, BatchSize: 25, RoundsPerRun: 8})
	if err != nil {
		t.Fatal(err)
	}
	const total = 2000
	for start := 0; start < total; start += 250 {
		var evs []map[string]any
		for i := start; i < start+250; i++ {
			evs = append(evs, map[string]any{"id": fmt.Sprintf("fifo-%05d", i), "type": "task.created", "data": map[string]any{"seq": i}})
		}
		s.MustDo(202, "POST", "/v1/events", map[string]any{"events": evs})
	}
	testkit.Eventually(t, 3*time.Minute, "all ordered deliveries succeed", func() bool {
		var list struct{ Total int }
		s.MustDo(200, "GET", "/v1/webhooks/fifo/deliveries?status=succeeded&per_page=1", nil).JSON(t, &list)
		return list.Total == total
	})
	// Successful receipts, in order, each exactly once.
	next := 0
	for n, r := range rc.Requests() {
		n++
		if n <= 2 || n%97 == 0 {
			continue // answered 503: will be sent again
		}
		var body struct {
			Data struct {
				Seq int `json:"seq"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Data.Seq != next {
			t.Fatalf("request %d delivered seq %d, want %d", n, body.Data.Seq, next)
		}
		next++
	}
	if next != total {
		t.Fatalf("%d events received successfully, want %d", next, total)
	}
	// The queue continued as new: more than one run under its id.
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.WebhookQueueWorkflowID(code, id), "")
	if err != nil {
		t.Fatal(err)
	}
	if desc.GetWorkflowExecutionInfo().GetFirstRunId() == desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() {
		t.Fatalf("queue never continued as new")
	}
}
