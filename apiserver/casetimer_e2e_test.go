//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/dispatch"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// caseEvent publishes a case event that occurred at occurred.
func caseEvent(t *testing.T, s *teststack.Stack, id, typ string, occurred time.Time, c map[string]any) {
	t.Helper()
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{
		"id": id, "type": typ, "occurred_at": occurred.UTC().Format(time.RFC3339Nano), "data": map[string]any{"case": c}})
}

// Webitel's "Planned resolution time" through the real stack: a case
// created with a plan 3 s ahead raises case.planned_resolution_time at that
// moment, which a webhook receives and a trigger runs on; an update moves
// a case's timer (only the new time is raised); a delete cancels one. Each
// case's timer is its own workflow, found in Temporal by the case's id.
func TestPlannedResolutionTimeFiresAtThePlannedTime(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Due cases", "url": rc.URL + "/due/{{ case.id }}",
		"event_types": []string{"case.planned_resolution_time"}})
	createFlow(t, s, map[string]any{"name": "Tell when due", "steps": []any{
		map[string]any{"name": "tell", "action": "notify", "params": map[string]any{"text": "Case {{ case.number }} is due", "user_ids": "7"}},
	}})
	s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{
		"name": "Due", "type": "on_event", "object": "case", "event": "planned_resolution_time", "flow": "Tell when due"})

	now := time.Now().UTC()
	due := now.Add(3 * time.Second).Truncate(time.Millisecond)
	moved := now.Add(6 * time.Second).Truncate(time.Millisecond)
	plan := func(id int, at time.Time) map[string]any {
		return map[string]any{"id": id, "number": fmt.Sprintf("C-%d", id), "status": "open",
			"planned_resolution_at": at.Format(time.RFC3339Nano)}
	}
	caseEvent(t, s, "case-42-created", "case.created", now.Add(-2*time.Second), plan(42, due))
	caseEvent(t, s, "case-43-created", "case.created", now.Add(-2*time.Second), plan(43, due))
	caseEvent(t, s, "case-44-created", "case.created", now.Add(-2*time.Second), plan(44, due))
	caseEvent(t, s, "case-43-updated", "case.updated", now.Add(-time.Second), plan(43, moved))
	caseEvent(t, s, "case-44-deleted", "case.deleted", now.Add(-time.Second), map[string]any{"id": 44})

	testkit.Eventually(t, 20*time.Second, "the timers have fired", func() bool { return rc.Count() >= 2 })
	time.Sleep(time.Until(moved.Add(2 * time.Second)))
	byPath := map[string][]testkit.Received{}
	for _, r := range rc.Requests() {
		byPath[r.Path] = append(byPath[r.Path], r)
	}
	if len(byPath) != 2 || len(byPath["/due/42"]) != 1 || len(byPath["/due/43"]) != 1 {
		t.Fatalf("received %v, want one request for case 42 and one for case 43", byPath)
	}
	for path, at := range map[string]time.Time{"/due/42": due, "/due/43": moved} {
		got := byPath[path][0]
		if got.At.Before(at) || got.At.After(at.Add(3*time.Second)) {
			t.Errorf("%s arrived at %s, planned for %s", path, got.At.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
		}
		var ev struct {
			ID         string    `json:"id"`
			Type       string    `json:"type"`
			OccurredAt time.Time `json:"occurred_at"`
			Data       struct {
				Case map[string]any `json:"case"`
			} `json:"data"`
		}
		if err := json.Unmarshal(got.Body, &ev); err != nil || ev.Type != "case.planned_resolution_time" || !ev.OccurredAt.Equal(at) ||
			ev.Data.Case["status"] != "open" {
			t.Errorf("%s: %s (%v)", path, got.Body, err)
		}
	}
	var notes struct{ Items []map[string]any }
	testkit.Eventually(t, 30*time.Second, "the trigger ran for both cases", func() bool {
		s.MustDo(http.StatusOK, "GET", "/v1/notifications?user_id=7", nil).JSON(t, &notes)
		return len(notes.Items) == 2
	})
	_, attrs := describeRun(t, s, workflows.CaseTimerWorkflowID("43"), "")
	if attrs["TriggerFlowCase"] != "43" || attrs["TriggerFlowEventType"] != "case.planned_resolution_time" {
		t.Fatalf("case 43's timer carries %v", attrs)
	}
}

// signalGate is the real Temporal client whose signals fail while down, as
// if the publisher's process lost Temporal (or died) between the commit and
// the signal.
type signalGate struct {
	client.Client
	down atomic.Bool
}

func (c *signalGate) SignalWithStartWorkflow(ctx context.Context, id, signal string, arg any, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if c.down.Load() {
		return nil, serviceerror.NewUnavailable("test: Temporal is down")
	}
	return c.Client.SignalWithStartWorkflow(ctx, id, signal, arg, opts, wf, args...)
}

// A case event whose timer signal failed after its publish committed is
// not lost: the batch stays undispatched, the sweep — which does not carry
// the events — reads the case events back and signals the timer, which
// raises once when due; dispatching the group again raises nothing more.
func TestCaseTimerSignalSurvivesADispatchThatFailed(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Due", "url": rc.URL + "/due", "event_types": []string{"case.planned_resolution_time"}})
	gate := &signalGate{Client: s.Temporal}
	gate.down.Store(true)
	events := &store.Events{DB: s.DB}
	pub := &dispatch.Publisher{Events: events, Index: s.Index, Temporal: gate, Log: testkit.Logger()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); pub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	due := time.Now().UTC().Add(5 * time.Second).Truncate(time.Millisecond)
	if err := pub.Publish(context.Background(), []domain.Event{{ID: "case-77-created", Type: "case.created", OccurredAt: time.Now().UTC(),
		Data: json.RawMessage(fmt.Sprintf(`{"case": {"id": 77, "planned_resolution_at": %q}}`, due.Format(time.RFC3339Nano)))}}); err != nil {
		t.Fatal(err)
	}
	var batch string
	if err := s.DB.Get(&batch, `SELECT batch_id FROM events WHERE id = 'case-77-created'`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the dispatcher's three tries are over
	var dispatched bool
	if err := s.DB.Get(&dispatched, `SELECT dispatched_at IS NOT NULL FROM publish_batches WHERE id = $1`, batch); err != nil || dispatched {
		t.Fatalf("the batch counts as dispatched (%v) although its signal failed", err)
	}
	gate.down.Store(false)
	s.ExpireDispatchLeases(t)
	if n, _, err := dispatch.SweepUndispatched(context.Background(), s.Temporal, events, 0, false, testkit.Logger()); err != nil || n != 1 {
		t.Fatalf("the sweep handed over %d batches (%v), want 1", n, err)
	}
	got := rc.WaitFor(t, 1, 20*time.Second)[0]
	if got.At.Before(due) {
		t.Fatalf("raised at %s, before its time %s", got.At, due)
	}
	if err := dispatch.Dispatch(context.Background(), s.Temporal, events, dispatch.Group{ID: batch, BatchIDs: []string{batch}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if n := rc.Count(); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}
}
