//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/dispatch"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// The runs a publish plans make their first try inline, in one batch run
// workflow per trigger; only runs that need retries or a durable timer get
// a workflow of their own, which goes on from the step where the inline try
// stopped — earlier steps are not repeated.

// inlineTrigger creates an On Event trigger for case.created running a flow
// with steps, and returns the trigger's and the flow's ids.
func inlineTrigger(t *testing.T, s *teststack.Stack, name string, steps []any) (string, string) {
	t.Helper()
	flowID := createFlow(t, s, map[string]any{"name": name, "steps": steps})
	tr := postTrigger(t, s, map[string]any{"name": name, "type": "on_event", "flow": name,
		"object": "case", "event": "created", "timeout": "1m"})
	return tr["id"].(string), flowID
}

// finishedRun waits for an event's single run to finish and returns it.
func finishedRun(t *testing.T, s *teststack.Stack, eventID string) map[string]any {
	t.Helper()
	var run map[string]any
	testkit.Eventually(t, 60*time.Second, "the run of "+eventID+" finishes", func() bool {
		var ev struct {
			Runs []map[string]any `json:"runs"`
		}
		s.MustDo(200, "GET", "/v1/events/"+eventID, nil).JSON(t, &ev)
		if len(ev.Runs) != 1 {
			return false
		}
		run = ev.Runs[0]
		return run["status"] != "pending" && run["status"] != "running"
	})
	return run
}

func TestPublishedRunsMakeTheirFirstTryInlineInOneBatchWorkflow(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	trID, _ := inlineTrigger(t, s, "Inline two steps", []any{
		map[string]any{"name": "lookup", "action": "http.request", "params": map[string]any{"url": rc.URL + "/cases/{{ case.id }}"}},
		map[string]any{"name": "say", "action": "log", "params": map[string]any{"message": "case {{ case.id }} answered {{ steps.lookup.response.status }}"}},
	})
	events := []any{}
	for i := range 3 {
		events = append(events, map[string]any{"id": fmt.Sprintf("inl-%d", i), "type": "case.created",
			"data": map[string]any{"case": map[string]any{"id": i}}})
	}
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"events": events})

	var batchWorkflow, batchRun string
	for i := range 3 {
		id := fmt.Sprintf("inl-%d", i)
		run := finishedRun(t, s, id)
		wf, _ := run["workflow_id"].(string)
		if run["status"] != "succeeded" || !strings.HasPrefix(wf, "trigger-batch-") || !strings.HasSuffix(wf, "-"+trID) {
			t.Fatalf("run of %s = %v", id, run)
		}
		if batchWorkflow == "" {
			batchWorkflow, batchRun = wf, run["run_id"].(string)
		} else if wf != batchWorkflow {
			t.Fatalf("one publish, two batch workflows: %s and %s", batchWorkflow, wf)
		}
		// No workflow of its own was started for the run.
		if s.WorkflowExists(t, "trigger-"+trID+"-"+id) {
			t.Fatalf("run of %s has a workflow of its own", id)
		}
	}
	if n := len(rc.Requests()); n != 3 {
		t.Fatalf("receiver got %d requests, want 3", n)
	}
	typ, attrs := describeRun(t, s, batchWorkflow, batchRun)
	if typ != "RunBatchWorkflow" || attrs["TriggerFlowTrigger"] != trID || attrs["TriggerFlowEventType"] != "case.created" {
		t.Fatalf("workflow %s: type %s, search attributes %v", batchWorkflow, typ, attrs)
	}
	// Operators find it with the trigger's runs.
	testkit.Eventually(t, 30*time.Second, "visibility lists the batch workflow under the trigger", func() bool {
		resp, err := s.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("TriggerFlowTrigger = '%s'", trID)})
		if err != nil {
			return false
		}
		for _, e := range resp.GetExecutions() {
			if e.GetExecution().GetWorkflowId() == batchWorkflow {
				return true
			}
		}
		return false
	})
}

func TestInlineRunThatFailsGoesOnInItsOwnWorkflowWithoutRepeatingSteps(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	var taskCalls atomic.Int32
	rc.Script(func(_ int, r testkit.Received) testkit.Response {
		if r.Path == "/tasks" && taskCalls.Add(1) == 1 {
			return testkit.Response{Status: 503} // the first try fails, the retry succeeds
		}
		return testkit.Response{Status: 200, Body: []byte(`{"ok": true}`), Header: map[string]string{"Content-Type": "application/json"}}
	})
	trID, flowID := inlineTrigger(t, s, "Retry second step", []any{
		map[string]any{"name": "lookup", "action": "http.request", "params": map[string]any{"url": rc.URL + "/cases/{{ case.id }}"}},
		map[string]any{"name": "task", "action": "http.request",
			"retry":  map[string]any{"max_attempts": 3, "initial_interval": "1s"},
			"params": map[string]any{"url": rc.URL + "/tasks", "method": "POST", "body": map[string]any{"seen": "{{ steps.lookup.response.json.ok }}"}}},
	})
	publish(t, s, "inl-retry", "case.created", map[string]any{"case": map[string]any{"id": 7}})

	run := finishedRun(t, s, "inl-retry")
	if run["status"] != "succeeded" || run["workflow_id"] != "trigger-"+trID+"-inl-retry" {
		t.Fatalf("run = %v", run)
	}
	var lookups, tasks int
	for _, r := range rc.Requests() {
		switch r.Path {
		case "/cases/7":
			lookups++
		case "/tasks":
			tasks++
			if !strings.Contains(string(r.Body), `"seen":"true"`) && !strings.Contains(string(r.Body), `"seen":true`) {
				t.Errorf("the retried step lost the first step's output: %s", r.Body)
			}
		}
	}
	if lookups != 1 || tasks != 2 {
		t.Fatalf("lookups %d (want 1: not repeated), tasks %d (want 2: the inline try and one retry)", lookups, tasks)
	}
	typ, attrs := describeRun(t, s, run["workflow_id"].(string), run["run_id"].(string))
	if typ != "FlowRunWorkflow" || attrs["TriggerFlowTrigger"] != trID || attrs["TriggerFlowEventID"] != "inl-retry" {
		t.Fatalf("own workflow: type %s, search attributes %v", typ, attrs)
	}
	steps := waitForRun(t, s, flowID, run["id"].(string)).Steps
	if len(steps) != 2 || steps[0].Status != "succeeded" || steps[1].Status != "succeeded" {
		t.Fatalf("steps = %+v", steps)
	}
}

func TestInlineRunHandsADelayToItsOwnWorkflowAndStopsOnPermanentFailures(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(_ int, r testkit.Received) testkit.Response {
		if r.Path == "/gone" {
			return testkit.Response{Status: 404}
		}
		return testkit.Response{Status: 200}
	})
	delayed, delayedFlow := inlineTrigger(t, s, "Wait then call", []any{
		map[string]any{"name": "first", "action": "http.request", "params": map[string]any{"url": rc.URL + "/first"}},
		map[string]any{"name": "pause", "action": "delay", "params": map[string]any{"duration": "1s"}},
		map[string]any{"name": "second", "action": "http.request", "params": map[string]any{"url": rc.URL + "/second"}},
	})
	publish(t, s, "inl-delay", "case.created", map[string]any{})
	run := finishedRun(t, s, "inl-delay")
	if run["status"] != "succeeded" || run["workflow_id"] != "trigger-"+delayed+"-inl-delay" {
		t.Fatalf("delayed run = %v", run)
	}
	paths := map[string]int{}
	for _, r := range rc.Requests() {
		paths[r.Path]++
	}
	if paths["/first"] != 1 || paths["/second"] != 1 {
		t.Fatalf("requests by path %v: each step runs once", paths)
	}
	if steps := waitForRun(t, s, delayedFlow, run["id"].(string)).Steps; len(steps) != 3 || steps[1].Status != "succeeded" {
		t.Fatalf("delayed run's steps = %+v", steps)
	}

	// A 404 is permanent: the run fails inline, naming the step, and never
	// gets a workflow of its own.
	s.MustDo(200, "POST", "/v1/triggers/"+delayed+"/stop", nil)
	gone, _ := inlineTrigger(t, s, "Call gone", []any{
		map[string]any{"name": "call", "action": "http.request", "params": map[string]any{"url": rc.URL + "/gone"}},
	})
	publish(t, s, "inl-gone", "case.created", map[string]any{})
	failed := finishedRun(t, s, "inl-gone")
	if failed["status"] != "failed" || failed["failed_step"] != "call" || !strings.HasPrefix(failed["workflow_id"].(string), "trigger-batch-") {
		t.Fatalf("failed run = %v", failed)
	}
	if s.WorkflowExists(t, "trigger-"+gone+"-inl-gone") {
		t.Fatal("a permanently failed inline run got a workflow of its own")
	}
}

// Every try of a step has one identity: the inline first try and the retry
// in the run's own workflow send the same Idempotency-Key to the lead API.
func TestEveryTryOfAStepCarriesOneIdempotencyKey(t *testing.T) {
	rc := testkit.NewReceiver(t)
	var calls atomic.Int32
	rc.Script(func(int, testkit.Received) testkit.Response {
		if calls.Add(1) == 1 {
			return testkit.Response{Status: 503}
		}
		return testkit.Response{Status: 200, Body: []byte(`{}`), Header: map[string]string{"Content-Type": "application/json"}}
	})
	s := teststack.Start(t, teststack.Options{Actions: activities.ActionSettings{LeadAPIURL: rc.URL}})
	trID, _ := inlineTrigger(t, s, "Move lead", []any{
		map[string]any{"name": "move", "action": "lead.update.list", "retry": map[string]any{"max_attempts": 3, "initial_interval": "1s"},
			"params": map[string]any{"listId": "445", "leadId": "131"}},
	})
	publish(t, s, "inl-key", "case.created", map[string]any{})
	run := finishedRun(t, s, "inl-key")
	if run["status"] != "succeeded" || run["workflow_id"] != "trigger-"+trID+"-inl-key" {
		t.Fatalf("run = %v", run)
	}
	reqs := rc.Requests()
	want := "trigger-" + trID + "-inl-key/step-1"
	if len(reqs) != 2 || reqs[0].Header.Get("Idempotency-Key") != want || reqs[1].Header.Get("Idempotency-Key") != want {
		keys := []string{}
		for _, r := range reqs {
			keys = append(keys, r.Header.Get("Idempotency-Key"))
		}
		t.Fatalf("idempotency keys %v, want two tries with %s", keys, want)
	}
}

// A batch handed over before runs were tried inline (DeliverBatchWorkflow
// with HasRuns, still in flight during an upgrade) starts its runs as their
// own workflows, as it did.
func TestBatchFromBeforeInlineRunsStillStartsItsRuns(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	trID, _ := inlineTrigger(t, s, "Legacy batch", []any{
		map[string]any{"name": "call", "action": "http.request", "params": map[string]any{"url": rc.URL + "/legacy"}},
	})
	ctx := context.Background()
	ev := domain.Event{ID: "inl-legacy", Type: "case.created", OccurredAt: time.Now().UTC(), Data: []byte(`{}`)}
	stored, err := (&store.Events{DB: s.DB}).StoreBatch(ctx, []domain.Event{ev}, func(_ []domain.Event) store.Plan {
		return store.Plan{Runs: []store.PlannedRun{{ID: store.NewID(store.PrefixRun), TriggerID: trID, EventID: ev.ID,
			WorkflowID: workflows.TriggerRunWorkflowID(trID, ev.ID)}}}
	}([]domain.Event{ev}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dispatch.StartBatch(ctx, s.Temporal, workflows.DeliverBatchInput{BatchID: stored.BatchID, HasRuns: true}, dispatch.SearchAttributeValues{}); err != nil {
		t.Fatal(err)
	}
	run := finishedRun(t, s, ev.ID)
	if run["status"] != "succeeded" || run["workflow_id"] != workflows.TriggerRunWorkflowID(trID, ev.ID) {
		t.Fatalf("run = %v", run)
	}
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
}
