//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/triggerflow/triggerflow/dispatch"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// EnvRecordHistories makes TestRecordWorkflowHistories run. It records one
// real history of each workflow type on the real stack and writes them to
// workflows/testdata/histories, where workflows.TestReplayHistories replays
// them on every test run. Regenerate them (only when a change to a workflow
// is meant to be incompatible, behind workflow.GetVersion) with:
//
//	TRIGGERFLOW_RECORD_HISTORIES=1 go test ./apiserver/ -run TestRecordWorkflowHistories -count=1
//
// A comma list of file names instead of 1 (TRIGGERFLOW_RECORD_HISTORIES=
// WebhookBacklogWorkflow) writes only those: a new workflow type's first
// recording, keeping the others' older ones.
const EnvRecordHistories = "TRIGGERFLOW_RECORD_HISTORIES"

var historiesDir = filepath.Join("..", "workflows", "testdata", "histories")

func TestRecordWorkflowHistories(t *testing.T) {
	if os.Getenv(EnvRecordHistories) == "" {
		t.Skipf("records workflow histories only with %s=1 (or a list of names)", EnvRecordHistories)
	}
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(_ int, r testkit.Received) testkit.Response {
		if strings.HasPrefix(r.Path, "/flaky") {
			n := 0
			for _, got := range rc.Requests() {
				if strings.HasPrefix(got.Path, "/flaky") {
					n++
				}
			}
			if n <= 2 {
				return testkit.Response{Status: 503}
			}
		}
		return testkit.Response{Status: 200, Body: []byte(`{"ok": true}`), Header: map[string]string{"Content-Type": "application/json"}}
	})
	ctx := context.Background()

	// DeliverBatchWorkflow: a first try that succeeds; and a trigger run
	// (a delay step, then an HTTP call) tried inline by RunBatchWorkflow and
	// handed at its delay to its own FlowRunWorkflow.
	createWebhook(t, s, map[string]any{"name": "replay batch", "url": rc.URL + "/ok", "event_types": []string{"case.created"}})
	createFlow(t, s, map[string]any{"name": "replay flow", "steps": []any{
		map[string]any{"name": "wait", "action": "delay", "params": map[string]any{"duration": "1s"}},
		map[string]any{"name": "call", "action": "http.request", "params": map[string]any{
			"url": rc.URL + "/flow/{{ case.id }}", "method": "POST", "body": map[string]any{"case": "{{ case.id }}", "waited": "{{ steps.wait.duration }}"}}},
	}})
	trigger := s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{
		"name": "replay trigger", "type": "on_event", "flow": "replay flow", "object": "case", "event": "created",
	}).Map(t)
	publish(t, s, "evt-replay-batch", "case.created", map[string]any{"case": map[string]any{"id": 1}})
	batch := s.DeliveryOf(t, "evt-replay-batch", "succeeded")
	var run map[string]any
	testkit.Eventually(t, time.Minute, "the trigger run succeeds", func() bool {
		var list struct{ Items []map[string]any }
		s.MustDo(http.StatusOK, "GET", "/v1/triggers/"+trigger["id"].(string)+"/runs", nil).JSON(t, &list)
		if len(list.Items) == 1 && list.Items[0]["status"] == "succeeded" {
			run = list.Items[0]
			return true
		}
		return false
	})

	// DeliveryWorkflow: the first try fails, two retries follow.
	createWebhook(t, s, map[string]any{"name": "replay retry", "url": rc.URL + "/flaky", "event_types": []string{"task.created"}, "retry": fastRetry})
	publish(t, s, "evt-replay-retry", "task.created", map[string]any{"task": map[string]any{"id": 2}})
	retried := s.DeliveryOf(t, "evt-replay-retry", "succeeded")
	if !strings.HasPrefix(retried["workflow_id"].(string), "delivery-") || len(attemptsOf(retried)) != 3 {
		t.Fatalf("retried delivery = %v", retried)
	}

	// WebhookQueueWorkflow: started here with one delivery per round and
	// two rounds per run, so the recorded run ends in continue-as-new.
	ordered := createWebhook(t, s, map[string]any{"name": "replay ordered", "url": rc.URL + "/ordered", "event_types": []string{"ticket.created"}, "ordered": true})
	queueID := workflows.WebhookQueueWorkflowID(ordered["code"].(string), ordered["id"].(string))
	first, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queueID, TaskQueue: workflows.TaskQueue},
		workflows.WebhookQueueWorkflow, workflows.WebhookQueueInput{
			WebhookID: ordered["id"].(string), WebhookCode: ordered["code"].(string), BatchSize: 1, RoundsPerRun: 2,
		})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt-replay-o1", "evt-replay-o2", "evt-replay-o3"} {
		publish(t, s, id, "ticket.created", map[string]any{"order": id})
	}
	for _, id := range []string{"evt-replay-o1", "evt-replay-o2", "evt-replay-o3"} {
		s.DeliveryOf(t, id, "succeeded")
	}
	testkit.Eventually(t, time.Minute, "the queue's first run continues as new", func() bool {
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, queueID, first.GetRunID())
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
	})

	// RunBatchWorkflow: the trigger run's inline try, which hands the run
	// to its own workflow at the delay step.
	var group string
	if err := s.DB.Get(&group, `SELECT COALESCE(NULLIF(b.dispatch_group, ''), b.id) FROM events e
		JOIN publish_batches b ON b.id = e.batch_id WHERE e.id = 'evt-replay-batch'`); err != nil {
		t.Fatal(err)
	}
	runBatch := workflows.RunBatchWorkflowID(trigger["id"].(string), group)

	// CaseTimerWorkflow: armed by a created case, raised when due, then
	// armed again by an update (the recording ends while it waits).
	plannedAt := time.Now().UTC().Add(time.Second).Truncate(time.Millisecond)
	publish(t, s, "evt-replay-case", "case.created", map[string]any{"case": map[string]any{"id": 9, "planned_resolution_at": plannedAt.Format(time.RFC3339Nano)}})
	testkit.Eventually(t, time.Minute, "the case's planned resolution is raised", func() bool {
		return s.Do("GET", "/v1/events/"+domain.PlannedResolutionEventID("9", plannedAt), nil).Status == http.StatusOK
	})
	publish(t, s, "evt-replay-case-moved", "case.updated", map[string]any{"case": map[string]any{"id": 9,
		"planned_resolution_at": time.Now().UTC().Add(time.Hour).Format(time.RFC3339Nano)}})
	caseTimer := workflows.CaseTimerWorkflowID("9")
	testkit.Eventually(t, time.Minute, "the case timer applies the update", func() bool {
		h := fetchHistory(t, s.Temporal, caseTimer, "")
		signals := 0
		for _, ev := range h.Events {
			if ev.GetWorkflowExecutionSignaledEventAttributes() != nil {
				signals++
			}
		}
		return signals == 2 && h.Events[len(h.Events)-1].GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED
	})

	// WebhookBacklogWorkflow: woken with one delivery in its backlog (stored
	// and handed over here as a group whose lane found the webhook's
	// requests all in use does), which it sends; the recording ends while
	// it looks again.
	backlogHook := createWebhook(t, s, map[string]any{"name": "replay backlog", "url": rc.URL + "/backlog", "event_types": []string{"task.updated"}})
	backlogID := workflows.BacklogWorkflowID(backlogHook["code"].(string), backlogHook["id"].(string))
	if _, err := (&store.Events{DB: s.DB}).StoreBatch(ctx, []domain.Event{{ID: "evt-replay-backlog", Type: "task.updated",
		OccurredAt: time.Now().UTC(), Data: []byte(`{"task": {"id": 3}}`)}}, store.Plan{Deliveries: []store.PlannedDelivery{{
		ID: store.NewID(store.PrefixDelivery), WebhookID: backlogHook["id"].(string), EventID: "evt-replay-backlog", WebhookCode: backlogHook["code"].(string),
	}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Exec(`UPDATE deliveries SET workflow_id = $1 WHERE event_id = 'evt-replay-backlog'`, backlogID); err != nil {
		t.Fatal(err)
	}
	if err := (dispatch.Starter{}).WakeBacklog(ctx, s.Temporal, backlogHook["id"].(string), backlogHook["code"].(string)); err != nil {
		t.Fatal(err)
	}
	s.DeliveryOf(t, "evt-replay-backlog", "succeeded")
	testkit.Eventually(t, time.Minute, "the backlog workflow looks again", func() bool {
		h := fetchHistory(t, s.Temporal, backlogID, "")
		return h.Events[len(h.Events)-1].GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED
	})

	// DeliverBatchWorkflow-markers: a group handed over without a Version,
	// as dispatchers did before it existed, so its changes are decided by
	// workflow.GetVersion (markers in its history): stored here and started
	// as they started it.
	markersHook := createWebhook(t, s, map[string]any{"name": "replay markers", "url": rc.URL + "/markers", "event_types": []string{"task.deleted"}})
	stored, err := (&store.Events{DB: s.DB}).StoreBatch(ctx, []domain.Event{{ID: "evt-replay-markers", Type: "task.deleted",
		OccurredAt: time.Now().UTC(), Data: []byte(`{"task": {"id": 4}}`)}}, store.Plan{Deliveries: []store.PlannedDelivery{{
		ID: store.NewID(store.PrefixDelivery), WebhookID: markersHook["id"].(string), EventID: "evt-replay-markers", WebhookCode: markersHook["code"].(string),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	markersBatch := workflows.BatchWorkflowID(stored.BatchID)
	if _, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: markersBatch, TaskQueue: workflows.TaskQueue},
		workflows.DeliverBatchWorkflow, workflows.DeliverBatchInput{BatchID: stored.BatchID, HasUnordered: true}); err != nil {
		t.Fatal(err)
	}
	s.DeliveryOf(t, "evt-replay-markers", "succeeded")
	testkit.Eventually(t, time.Minute, "the unversioned group completes", func() bool {
		h := fetchHistory(t, s.Temporal, markersBatch, "")
		return h.Events[len(h.Events)-1].GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
	})

	if err := os.MkdirAll(historiesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// File name → workflow type and execution. FlowRunWorkflow.json (a run
	// started whole, as At Time and fire-now runs still are) and
	// DeliverBatchWorkflow-before-rounds.json (a group from before the
	// changes DeliverBatchInput.Version now stands for, which started its
	// runs itself) are kept from earlier recordings.
	for name, exec := range map[string][3]string{
		"DeliverBatchWorkflow":         {"DeliverBatchWorkflow", batch["workflow_id"].(string), batch["run_id"].(string)},
		"DeliverBatchWorkflow-markers": {"DeliverBatchWorkflow", markersBatch, ""},
		"DeliveryWorkflow":             {"DeliveryWorkflow", retried["workflow_id"].(string), retried["run_id"].(string)},
		"WebhookQueueWorkflow":         {"WebhookQueueWorkflow", queueID, first.GetRunID()},
		"FlowRunWorkflow-resumed":      {workflows.FlowRunWorkflowName, run["workflow_id"].(string), run["run_id"].(string)},
		"RunBatchWorkflow":             {"RunBatchWorkflow", runBatch, ""},
		"CaseTimerWorkflow":            {"CaseTimerWorkflow", caseTimer, ""},
		"WebhookBacklogWorkflow":       {"WebhookBacklogWorkflow", backlogID, ""},
	} {
		if only := os.Getenv(EnvRecordHistories); only != "1" && !slices.Contains(strings.Split(only, ","), name) {
			continue
		}
		h := fetchHistory(t, s.Temporal, exec[1], exec[2])
		if got := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName(); got != exec[0] {
			t.Fatalf("%s/%s is a %s, want %s", exec[1], exec[2], got, exec[0])
		}
		raw, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(historiesDir, name+".json")
		if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s (%d events) to %s", name, len(h.Events), path)
	}
}

// TestAGroupRecordsNoVersionMarkers: a group handed over now runs the
// current DeliverBatchWorkflow code without asking workflow.GetVersion,
// whose every first call records a marker and upserts the
// TemporalChangeVersion search attribute (a visibility write per group on
// the delivery path). Groups handed over without a Version still decide
// with GetVersion (workflows.TestReplayHistories replays one).
func TestAGroupRecordsNoVersionMarkers(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "unversioned", "url": rc.URL + "/ok", "event_types": []string{"task.created"}})
	publish(t, s, "evt-unversioned", "task.created", map[string]any{"task": map[string]any{"id": 1}})
	d := s.DeliveryOf(t, "evt-unversioned", "succeeded")
	wfID := d["workflow_id"].(string)
	if !strings.HasPrefix(wfID, "delivery-batch-") {
		t.Fatalf("carried by %q, want a group workflow", wfID)
	}
	var h *historypb.History
	testkit.Eventually(t, time.Minute, "the group workflow completes", func() bool {
		h = fetchHistory(t, s.Temporal, wfID, "")
		return h.Events[len(h.Events)-1].GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
	})
	activities := 0
	for _, ev := range h.Events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_MARKER_RECORDED, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			t.Errorf("event %d is a %s: the group asked workflow.GetVersion", ev.GetEventId(), ev.GetEventType())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			activities++
		}
	}
	if activities != 1 {
		t.Errorf("%d activities completed, want the one DeliverBatch call", activities)
	}
	desc, err := s.Temporal.DescribeWorkflowExecution(context.Background(), wfID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"]; ok {
		t.Error("the group carries TemporalChangeVersion")
	}
}

// fetchHistory reads a closed (or, for long-lived workflows, the current)
// history of one run.
func fetchHistory(t *testing.T, c client.Client, workflowID, runID string) *historypb.History {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, ev)
	}
	if len(h.Events) == 0 {
		t.Fatalf("history of %s/%s is empty", workflowID, runID)
	}
	return h
}
