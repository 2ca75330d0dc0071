package activities_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// actionRig is a database with an ipSCAPE-style trigger, a run of it for
// a stored event, and the webhook action's dependencies (Temporal replaced
// by a recording starter).
type actionRig struct {
	db      *sqlx.DB
	trigger *domain.Trigger
	runWF   string
	starter *recordingStarter
	deps    *activities.Actions
	engine  *activities.Webhooks
}

func newActionRig(t *testing.T) *actionRig {
	t.Helper()
	ctx := context.Background()
	db := testkit.DB(t)
	tr := &domain.Trigger{Name: "Predictive outcome", Type: domain.TriggerOnEvent, Object: "lead", Event: "outcome_predictive",
		Enabled: true, Actions: []domain.TriggerAction{{Action: "webhook", Parameters: map[string]any{"url": "https://example.com"}}}}
	tr.Normalize()
	if err := (&store.Triggers{DB: db}).Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	ev := domain.Event{ID: "evt-lead-1", Type: "lead.outcome_predictive", OccurredAt: time.Now().UTC(),
		Data: json.RawMessage(`{"campaignId": 53, "lead": {"id": 131413, "totalAttempts": 3}}`)}
	if err := (&store.Events{DB: db}).Insert(ctx, ev); err != nil {
		t.Fatal(err)
	}
	rig := &actionRig{db: db, trigger: tr, runWF: "trigger-" + tr.ID + "-" + ev.ID, starter: &recordingStarter{}}
	runs := &store.Runs{DB: db}
	ns := func(s string) *string { return &s }
	if _, err := runs.Record(ctx, &store.Run{TriggerID: ns(tr.ID), EventID: ns(ev.ID), WorkflowID: rig.runWF,
		Status: domain.RunRunning}); err != nil {
		t.Fatal(err)
	}
	rig.deps = &activities.Actions{
		HTTP: loopbackClient(t),
		WebhookActions: &activities.WebhookActions{Runs: runs, Webhooks: &store.Webhooks{DB: db},
			Deliveries: &store.Deliveries{DB: db}, Events: &store.Events{DB: db}, Starter: rig.starter},
		StepAttempts: &store.StepAttempts{DB: db},
	}
	rig.engine = &activities.Webhooks{Deliveries: &store.Deliveries{DB: db}, Webhooks: &store.Webhooks{DB: db},
		HTTP: loopbackClient(t), Starter: rig.starter}
	return rig
}

// step is the context an action of step n of the rig's run sees.
func (r *actionRig) step(n int) context.Context {
	return activities.WithStepInfo(context.Background(), activities.StepInfo{WorkflowID: r.runWF, StepID: activities.StepActivityID(n)})
}

// try makes one try of a delivery as its workflow would.
func (r *actionRig) try(t *testing.T, deliveryID string) store.Record {
	t.Helper()
	d, err := r.engine.Deliveries.Get(context.Background(), deliveryID)
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.engine.Webhooks.Get(context.Background(), d.WebhookID)
	if err != nil {
		t.Fatal(err)
	}
	return activities.AttemptOf(r.engine, context.Background(), w, d, d.Attempts+1)
}

// A webhook action is a delivery of its trigger, made once however often
// its step is tried (inline, then in the run's workflow), and handed to the
// delivery's own workflow; a try sends the request the step rendered,
// signed with the trigger's secret, and any non-2xx answer — a 404 too — is
// retried ten minutes later, as ipSCAPE promises.
func TestWebhookActionIsOneSignedDeliveryRetriedOnAnyNon2xx(t *testing.T) {
	rig := newActionRig(t)
	rc := testkit.NewReceiver(t)
	rc.FailFirst(1, http.StatusNotFound)
	in := activities.WebhookActionInput{
		URL: rc.URL + "/leads?campaign=53", Headers: map[string]string{"X-Lead": "131413", "Authorization": "Bearer s3cret"},
		Payload: json.RawMessage(`"{\"lead\":131413}"`),
	}
	first, err := rig.deps.Webhook(rig.step(0), in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := rig.deps.Webhook(rig.step(0), in)
	if err != nil {
		t.Fatal(err)
	}
	if first.DeliveryID != again.DeliveryID || first.Status != domain.DeliveryPending || first.WorkflowID != "delivery-"+first.DeliveryID {
		t.Fatalf("results %+v %+v", first, again)
	}
	var n int
	if err := rig.db.Get(&n, `SELECT count(*) FROM deliveries`); err != nil || n != 1 {
		t.Fatalf("%d deliveries (%v), want 1", n, err)
	}
	handed := rig.starter.handedOver()
	if len(handed) != 2 || handed[0].DeliveryID != first.DeliveryID || handed[0].TriggerID != rig.trigger.ID ||
		handed[0].WebhookCode != "trigger."+rig.trigger.ID || handed[0].EventID != "evt-lead-1" || handed[0].FirstDelay != 0 {
		t.Fatalf("hand-overs %+v", handed)
	}

	rec := rig.try(t, first.DeliveryID)
	now := time.Now()
	if rec.Outcome.Status != domain.DeliveryPending || rec.Outcome.NextAttemptAt == nil ||
		rec.Outcome.NextAttemptAt.Before(now.Add(9*time.Minute)) || rec.Outcome.NextAttemptAt.After(now.Add(11*time.Minute)) {
		t.Fatalf("a 404 led to %+v, want a retry in 10 minutes", rec.Outcome)
	}
	got := rc.Requests()[0]
	if got.Method != "POST" || got.Path != "/leads" || got.Query != "campaign=53" || string(got.Body) != `{"lead":131413}` ||
		got.Header.Get("Content-Type") != "application/json" || got.Header.Get("X-Lead") != "131413" ||
		got.Header.Get("Authorization") != "Bearer s3cret" || got.Header.Get("Webhook-Id") != first.DeliveryID {
		t.Fatalf("request %s %s?%s %s %v", got.Method, got.Path, got.Query, got.Body, got.Header)
	}
	hook, err := (&store.Webhooks{DB: rig.db}).Owned(context.Background(), store.WebhookOwner{TriggerID: rig.trigger.ID})
	if err != nil {
		t.Fatal(err)
	}
	v, err := standardwebhooks.NewWebhook(hook.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("the signature does not verify with the trigger's secret: %v", err)
	}
	if rec.Attempt.RequestHeaders.V["Authorization"] != domain.Masked || rec.Attempt.Status() != 404 {
		t.Fatalf("attempt %+v", rec.Attempt)
	}
}

// The action's retry preset decides how long it is retried; a request that
// cannot be sent (a refused destination) ends at once, whatever the policy.
func TestWebhookActionRetryPresetsAndRefusedDestinations(t *testing.T) {
	rig := newActionRig(t)
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response { return testkit.Response{Status: 500} })
	cases := []struct {
		name, url, retry string
		status           string
		next             time.Duration
	}{
		{"ipSCAPE's preset", rc.URL, "", domain.DeliveryPending, 10 * time.Minute},
		{"Cotalker's preset", rc.URL, "30s_x3", domain.DeliveryPending, 30 * time.Second},
		{"no retries", rc.URL, "none", domain.DeliveryFailed, 0},
		{"a private address", "http://10.0.0.1/hook", "", domain.DeliveryFailed, 0},
	}
	for i, c := range cases {
		res, err := rig.deps.Webhook(rig.step(i), activities.WebhookActionInput{URL: c.url, Retry: c.retry, Payload: json.RawMessage(`{"x":1}`)})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		rec := rig.try(t, res.DeliveryID)
		if rec.Outcome.Status != c.status {
			t.Fatalf("%s: %+v", c.name, rec.Outcome)
		}
		if c.next > 0 {
			if d := time.Until(*rec.Outcome.NextAttemptAt); d < c.next-time.Minute/2 || d > c.next+time.Second {
				t.Fatalf("%s: next try in %s, want %s", c.name, d, c.next)
			}
		}
	}
}

// Params that cannot make a request fail the step at once.
func TestWebhookActionRefusesBadParams(t *testing.T) {
	rig := newActionRig(t)
	for _, in := range []activities.WebhookActionInput{
		{URL: "ftp://example.com"},
		{URL: "https://example.com", Method: "GET"},
		{URL: "https://example.com", Retry: "weekly"},
		{URL: "https://example.com", Timeout: "2m"},
	} {
		_, err := rig.deps.Webhook(rig.step(0), in)
		if ae := appError(t, err); !ae.NonRetryable() {
			t.Fatalf("%+v: retryable %v", in, err)
		}
	}
	// A run the database does not know (not a run's step) cannot deliver.
	ctx := activities.WithStepInfo(context.Background(), activities.StepInfo{WorkflowID: "trigger-nobody", StepID: "step-1"})
	if _, err := rig.deps.Webhook(ctx, activities.WebhookActionInput{URL: "https://example.com"}); !appError(t, err).NonRetryable() {
		t.Fatalf("unknown run: %v", err)
	}
}

// Every try of an http.request step is logged with what it sent (credential
// headers masked) and what came back, numbered per step.
func TestHTTPRequestLogsEveryTry(t *testing.T) {
	rig := newActionRig(t)
	rc := testkit.NewReceiver(t)
	rc.Script(func(n int, _ testkit.Received) testkit.Response {
		if n == 1 {
			return testkit.Response{Status: 503, Body: []byte("busy")}
		}
		return testkit.Response{Status: 200, Body: []byte(strings.Repeat("x", 12*1024))}
	})
	in := activities.HTTPRequestInput{URL: rc.URL + "/cases", Method: "POST", Headers: map[string]string{"X-Api-Key": "k"},
		Body: json.RawMessage(`{"id":77}`)}
	if _, err := rig.deps.HTTPRequest(rig.step(1), in); err == nil {
		t.Fatal("a 503 succeeded")
	}
	if _, err := rig.deps.HTTPRequest(rig.step(1), in); err != nil {
		t.Fatal(err)
	}
	tries, err := rig.deps.StepAttempts.OfRuns(context.Background(), []string{rig.runWF})
	if err != nil || len(tries) != 2 {
		t.Fatalf("%d tries (%v)", len(tries), err)
	}
	last, first := tries[0], tries[1]
	if last.StepID != "step-2" || last.Attempt.Attempt != 2 || last.Result != store.AttemptSucceeded || !last.ResponseTruncated ||
		len(last.ResponseBody) != activities.MaxResponseBody {
		t.Fatalf("second try %+v", last)
	}
	if first.Attempt.Attempt != 1 || first.Result != store.AttemptFailed || first.Status() != 503 || first.ResponseBody != "busy" ||
		first.RequestBody != `{"id":77}` || first.RequestURL != rc.URL+"/cases" || first.RequestHeaders.V["X-Api-Key"] != domain.Masked ||
		!strings.Contains(first.Error, "503") {
		t.Fatalf("first try %+v", first)
	}
}
