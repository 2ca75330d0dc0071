package activities_test

import (
	"context"
	"encoding/json"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// A group of records that the database refuses because of one of them is
// written record by record: the others are recorded, and only the refused
// one is given back (to be retried in its own workflow).
func TestRecorderWritesAroundARecordTheDatabaseRefuses(t *testing.T) {
	db := testkit.DB(t)
	ctx := context.Background()
	w := &domain.Webhook{Name: "r", Code: "r", URL: "https://example.com", EventTypes: []string{"case.created"}, Enabled: true, Secret: activities.NewSigningSecret()}
	w.Normalize()
	if err := (&store.Webhooks{DB: db}).Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	var evs []domain.Event
	for _, id := range []string{"e1", "e2", "e3", "e4"} {
		evs = append(evs, domain.Event{ID: id, Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)})
	}
	stored, err := (&store.Events{DB: db}).StoreBatch(ctx, evs, func(fresh []domain.Event) store.Plan {
		var pl store.Plan
		for _, e := range fresh {
			pl.Deliveries = append(pl.Deliveries, store.PlannedDelivery{ID: store.NewID(store.PrefixDelivery), WebhookID: w.ID, EventID: e.ID})
		}
		return pl
	}(evs))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var recorded, refused []string
	rec := activities.NewRecorder(ctx, &store.Deliveries{DB: db}, func(r store.Record) {
		mu.Lock()
		recorded = append(recorded, r.Outcome.DeliveryID)
		mu.Unlock()
	}, func(r store.Record, err error) {
		mu.Lock()
		refused = append(refused, r.Outcome.DeliveryID)
		mu.Unlock()
	})
	for i, d := range stored.Plan.Deliveries {
		a := store.NewAttempt(d.ID, "POST", "https://example.com", nil, "{}", 200, nil, "ok", false, time.Millisecond, "", time.Now(), true)
		status := domain.DeliverySucceeded
		if i == 2 {
			status = "exploded" // the status column's CHECK refuses it
		}
		rec.Add(store.Record{Attempt: &a, Outcome: store.Outcome{DeliveryID: d.ID, Status: status, LastCode: 200}})
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 3 || len(refused) != 1 || refused[0] != stored.Plan.Deliveries[2].ID {
		t.Fatalf("recorded %v, refused %v; want the three good ones recorded and the bad one refused", recorded, refused)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM deliveries WHERE status = 'succeeded'`); err != nil || n != 3 {
		t.Fatalf("%d deliveries succeeded (%v), want 3", n, err)
	}
}

// Retry-After is honoured up to an hour per wait and never past the end of
// the retry window; values too big for a Duration saturate instead of
// overflowing into the past.
func TestRetryAfterIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"120":                           2 * time.Minute,
		" 5 ":                           5 * time.Second,
		"-5":                            0,
		"abc":                           0,
		"99999999999999999999":          time.Duration(math.MaxInt64),
		"9223372036854775807":           time.Duration(math.MaxInt64),
		"Thu, 01 Jan 2026 00:10:00 GMT": 10 * time.Minute,
		"Wed, 31 Dec 2025 00:10:00 GMT": 0,
	} {
		if got := activities.ParseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}

	rc := testkit.NewReceiver(t)
	policy, err := activities.NewEgressPolicy([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	a := &activities.Webhooks{HTTP: activities.NewHTTPClient(policy)}
	try := func(retryAfter string, retry domain.RetryPolicy, windowStart time.Time) store.Record {
		rc.Script(func(int, testkit.Received) testkit.Response {
			return testkit.Response{Status: 503, RetryAfter: retryAfter}
		})
		w := &domain.Webhook{Code: "ra", URL: rc.URL, Method: "POST", Secret: activities.NewSigningSecret(), Timeout: time.Second, Retry: retry}
		d := &store.Delivery{ID: "msg_ra", EventID: "e", EventType: "case.created", EventData: []byte(`{}`), WindowStart: windowStart}
		return activities.AttemptOf(a, context.Background(), w, d, 1)
	}
	every := domain.RetryPolicy{Preset: domain.RetryEvery10m48h}
	start := time.Now()
	r := try("99999999999999999999", every, start)
	if r.Outcome.Status != domain.DeliveryPending || r.Outcome.NextAttemptAt == nil {
		t.Fatalf("outcome %+v", r.Outcome)
	}
	if wait := r.Outcome.NextAttemptAt.Sub(start); wait <= 0 || wait > domain.MaxRetryAfter+time.Second {
		t.Fatalf("a huge Retry-After waits %s; want at most an hour, never the past", wait)
	}
	// 30 minutes left in the 48-hour window: a 2-hour Retry-After is cut to
	// what is left.
	r = try("7200", every, time.Now().Add(-48*time.Hour+30*time.Minute))
	if wait := time.Until(*r.Outcome.NextAttemptAt); r.Outcome.Status != domain.DeliveryPending || wait > 30*time.Minute || wait < 28*time.Minute {
		t.Fatalf("Retry-After past the window: status %s, next try in %s; want within the 30 minutes left", r.Outcome.Status, wait)
	}
	// Nothing left of the window: the delivery gives up rather than wait.
	r = try("60", every, time.Now().Add(-48*time.Hour))
	if r.Outcome.Status != domain.DeliveryFailed {
		t.Fatalf("with the window over, status %s, want failed", r.Outcome.Status)
	}
}
