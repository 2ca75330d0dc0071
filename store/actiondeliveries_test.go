package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// actionTrigger stores an ipSCAPE-style trigger with one webhook action.
func actionTrigger(t *testing.T, db *sqlx.DB) *domain.Trigger {
	t.Helper()
	tr := &domain.Trigger{Name: "Wrap", Type: domain.TriggerOnEvent, Object: "agent", Event: "wrap", Enabled: true,
		Actions: []domain.TriggerAction{{Action: "webhook", Parameters: map[string]any{"url": "https://example.com/wrap"}}}}
	tr.Normalize()
	if err := (&store.Triggers{DB: db}).Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// The webhook that sends a trigger's webhook actions is made once however
// many ask at once, and it is no subscription: it matches no event, and the
// API's view (Subscriptions) neither finds, lists, switches nor deletes it,
// while the delivery engine's does. Deleting the trigger deletes it.
func TestOwnedWebhooksAreNotSubscriptions(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	engine := &store.Webhooks{DB: db}
	api := &store.Webhooks{DB: db, Subscriptions: true}
	sub := testkit.Webhook("wrap_sink", []string{"agent.wrap"}, nil)
	if err := api.Create(ctx, sub); err != nil {
		t.Fatal(err)
	}
	tr := actionTrigger(t, db)
	owner := store.WebhookOwner{TriggerID: tr.ID}

	var wg sync.WaitGroup
	results := make([]*domain.Webhook, 8)
	created := make([]bool, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, c, err := engine.EnsureOwned(ctx, owner, "whsec_"+string(rune('a'+i)))
			if err != nil {
				t.Error(err)
				return
			}
			results[i], created[i] = w, c
		}()
	}
	wg.Wait()
	n := 0
	for i, w := range results {
		if w == nil || w.ID != results[0].ID || w.Code != "trigger."+tr.ID || w.Retry != domain.ActionRetryPolicy("") {
			t.Fatalf("call %d: %+v", i, w)
		}
		if created[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d calls say they made the webhook, want 1", n)
	}
	owned := results[0]

	for _, ref := range []string{owned.ID, owned.Code} {
		if _, err := api.Get(ctx, ref); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("the API finds the owned webhook by %s: %v", ref, err)
		}
		if _, err := engine.Get(ctx, ref); err != nil {
			t.Fatalf("the engine does not find it by %s: %v", ref, err)
		}
	}
	list, err := api.List(ctx, store.WebhookFilter{}, domain.Page{Number: 1, PerPage: 50})
	if err != nil || list.Total != 1 || list.Items[0].ID != sub.ID {
		t.Fatalf("the API lists %+v (%v), want only the subscription", list, err)
	}
	if ids, err := api.SetEnabled(ctx, []string{owned.ID, owned.Code}, false); err != nil || len(ids) != 0 {
		t.Fatalf("the API switched %v (%v)", ids, err)
	}
	if ids, err := api.DeleteMany(ctx, []string{owned.ID}); err != nil || len(ids) != 0 {
		t.Fatalf("the API deleted %v (%v)", ids, err)
	}
	if err := api.Delete(ctx, owned.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the API deleted the owned webhook: %v", err)
	}
	enabled, err := engine.Enabled(ctx)
	if err != nil || len(enabled) != 1 || enabled[0].ID != sub.ID {
		t.Fatalf("matching sees %d webhooks (%v), want the subscription only", len(enabled), err)
	}

	if err := (&store.Triggers{DB: db}).Delete(ctx, tr.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Owned(ctx, owner); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the trigger's webhook outlived it: %v", err)
	}
}

// A webhook action's delivery is made once per run and step: the step
// tried again finds the delivery it made (with the request it rendered
// first), another step makes its own on the same event, and a run with no
// stored event gets a stand-in. Subscriptions keep one delivery per
// (webhook, event). Erasing the event empties the stored request.
func TestStepDeliveryIsMadeOncePerStep(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	tr := actionTrigger(t, db)
	hook, _, err := (&store.Webhooks{DB: db}).EnsureOwned(ctx, store.WebhookOwner{TriggerID: tr.ID}, "whsec_x")
	if err != nil {
		t.Fatal(err)
	}
	deliveries := &store.Deliveries{DB: db}
	ev := domain.Event{ID: "run-trigger-" + tr.ID + "-manual", Type: "flow.run", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{"run":{}}`)}
	req := store.NewStepRequest("POST", "https://example.com/wrap", map[string]string{"Authorization": "Bearer t"},
		[]byte(`{"a":1}`), 5*time.Second, domain.ActionRetryPolicy(""))
	wf := "trigger-" + tr.ID + "-manual"
	step := func(stepID string, r store.StepRequest) *store.Delivery {
		t.Helper()
		id := store.StepDeliveryID(wf, stepID)
		d, err := deliveries.CreateForStep(ctx, store.StepDelivery{ID: id, WebhookID: hook.ID, Event: ev, Request: r,
			RunWorkflowID: wf, StepID: stepID, Carrier: "delivery-" + id})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := step("step-1", req)
	again := req
	again.Body = `{"a":2}`
	retried := step("step-1", again)
	if first.ID != retried.ID || retried.StepRequest() == nil || retried.StepRequest().Body != `{"a":1}` ||
		retried.StepRequest().Timeout() != 5*time.Second || !retried.StepRequest().Retry.RetryAll ||
		retried.RunWorkflowID != wf || retried.StepID != "step-1" || retried.WorkflowID != "delivery-"+first.ID ||
		retried.EventType != "flow.run" || retried.Status != domain.DeliveryPending {
		t.Fatalf("retried step: %+v %+v", retried, retried.StepRequest())
	}
	second := step("step-2", req)
	if second.ID == first.ID || second.EventID != first.EventID {
		t.Fatalf("second step: %+v", second)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM deliveries WHERE webhook_id = $1`, hook.ID); err != nil || n != 2 {
		t.Fatalf("%d deliveries (%v), want 2", n, err)
	}
	if err := db.Get(&n, `SELECT count(*) FROM events WHERE id = $1`, ev.ID); err != nil || n != 1 {
		t.Fatalf("%d stand-in events (%v)", n, err)
	}
	listed, err := deliveries.List(ctx, store.DeliveryFilter{RunWorkflowID: wf}, domain.Page{Number: 1, PerPage: 50})
	if err != nil || listed.Total != 2 {
		t.Fatalf("the run's deliveries: %+v (%v)", listed, err)
	}

	sub := testkit.Webhook("sub", []string{"flow.run"}, nil)
	if err := (&store.Webhooks{DB: db}).Create(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := deliveries.Insert(ctx, store.NewID(store.PrefixDelivery), sub.ID, ev.ID); err != nil {
		t.Fatal(err)
	}
	if err := deliveries.Insert(ctx, store.NewID(store.PrefixDelivery), sub.ID, ev.ID); err == nil {
		t.Fatal("a subscription got two deliveries of one event")
	}

	db.MustExec(`UPDATE deliveries SET status = 'succeeded' WHERE event_id = $1`, ev.ID)
	if _, err := (&store.Retention{DB: db}).Erase(ctx, ev.ID); err != nil {
		t.Fatal(err)
	}
	erased, err := deliveries.Get(ctx, first.ID)
	if err != nil || erased.StepRequest().Body != "" || len(erased.StepRequest().Headers) != 0 || erased.StepRequest().URL == "" {
		t.Fatalf("after erasure: %+v (%v)", erased.StepRequest(), err)
	}
}

// Each try of a step is numbered after the step's earlier ones, and any
// bytes a receiver answered are kept.
func TestStepAttemptsAreNumberedPerStep(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	log := &store.StepAttempts{DB: db}
	try := func(step string, body string) int {
		t.Helper()
		a := store.NewAttempt("", "GET", "https://example.com", map[string]string{"Accept": "*/*"}, "", 503,
			map[string]string{"Content-Type": "text/plain"}, body, false, 12*time.Millisecond, "HTTP 503", time.Now(), false)
		n, err := log.Record(ctx, "trigger-t-e", step, a)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if a, b, c := try("step-1", "busy"), try("step-1", "still\x00busy"), try("step-2", "ok"); a != 1 || b != 2 || c != 1 {
		t.Fatalf("numbers %d %d %d", a, b, c)
	}
	got, err := log.OfRuns(ctx, []string{"trigger-t-e"})
	if err != nil || len(got) != 3 {
		t.Fatalf("%d tries (%v)", len(got), err)
	}
	if got[0].StepID != "step-1" || got[0].Attempt.Attempt != 2 || got[0].ResponseBodyEncoding != store.BodyBase64 ||
		got[0].Status() != 503 || got[1].Attempt.Attempt != 1 || got[2].StepID != "step-2" {
		t.Fatalf("tries %+v", got)
	}
}

// Tries written together in one statement are numbered like tries written
// one by one: after the step's earlier tries, and in order among themselves;
// NUL bytes, invalid UTF-8 and a missing status are kept as Record keeps them.
func TestStepTriesWrittenTogetherAreNumberedInOrder(t *testing.T) {
	ctx := context.Background()
	db := testkit.DB(t)
	log := &store.StepAttempts{DB: db}
	attempt := func(status int, body string) store.Attempt {
		return store.NewAttempt("", "POST", "https://example.com/x", map[string]string{"X-Bad": "a\x00b"}, "req\xff",
			status, map[string]string{"Content-Type": "text/plain"}, body, status == 0, 7*time.Millisecond, "", time.Now(), status == 200)
	}
	if _, err := log.Record(ctx, "run-a", "step-1", attempt(503, "busy")); err != nil {
		t.Fatal(err)
	}
	err := log.RecordMany(ctx, []store.StepTry{
		{RunWorkflowID: "run-a", StepID: "step-1", Attempt: attempt(200, "ok\x00")},
		{RunWorkflowID: "run-b", StepID: "step-1", Attempt: attempt(0, "")},
		{RunWorkflowID: "run-a", StepID: "step-1", Attempt: attempt(200, "again")},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := log.OfRuns(ctx, []string{"run-a", "run-b"})
	if err != nil || len(got) != 4 {
		t.Fatalf("%d tries (%v)", len(got), err)
	}
	a3, a2, a1, b1 := got[0], got[1], got[2], got[3]
	if a3.Attempt.Attempt != 3 || a3.ResponseBody != "again" || a2.Attempt.Attempt != 2 ||
		a2.ResponseBodyEncoding != store.BodyBase64 || a1.Attempt.Attempt != 1 || a1.Status() != 503 {
		t.Fatalf("run-a tries %+v", got[:3])
	}
	if b1.Attempt.Attempt != 1 || b1.ResponseStatus != nil || !b1.Escaped || b1.RequestHeaders.V["X-Bad"] != `a\x00b` ||
		b1.RequestBodyEncoding != store.BodyBase64 || b1.Result != store.AttemptFailed {
		t.Fatalf("run-b try %+v", b1)
	}
}
