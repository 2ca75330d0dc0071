//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/worker"
	"github.com/triggerflow/triggerflow/workflows"
)

// publishDelivered publishes n events of type case.created with ids
// prefix-<i> and waits until the receiver has them all.
func publishDelivered(t *testing.T, s *teststack.Stack, rc interface {
	Count() int
}, prefix string, n int) {
	t.Helper()
	before := rc.Count()
	for i := 0; i < n; i++ {
		s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{
			"id": fmt.Sprintf("%s-%d", prefix, i), "type": "case.created",
			"data": map[string]any{"case": map[string]any{"id": i, "owner": "ann@example.com"}},
		})
	}
	waitFor(t, func() bool { return rc.Count() >= before+n })
	waitFor(t, func() bool {
		var pending int
		_ = s.DB.Get(&pending, `SELECT count(*) FROM deliveries WHERE status = 'pending'`)
		return pending == 0
	})
}

// age moves events (and what they led to) days into the past.
func age(t *testing.T, s *teststack.Stack, prefix string, days int) {
	t.Helper()
	ago := fmt.Sprintf("%d days", days)
	for _, q := range []string{
		`UPDATE events SET received_at = now() - $2::interval WHERE id LIKE $1 || '-%'`,
		`UPDATE delivery_attempts a SET executed_at = now() - $2::interval FROM deliveries d WHERE a.delivery_id = d.id AND d.event_id LIKE $1 || '-%'`,
	} {
		if _, err := s.DB.Exec(q, prefix, ago); err != nil {
			t.Fatal(err)
		}
	}
}

func count(t *testing.T, s *teststack.Stack, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.Get(&n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetentionScheduleDeletesExpiredDataOnly: the schedule the worker makes
// runs the purge workflow, which deletes events older than the retention with
// their deliveries and attempts, and leaves newer events, and old events that
// still have a pending delivery, alone.
func TestRetentionScheduleDeletesExpiredDataOnly(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkitReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Retained", "url": rc.URL + "/hook", "event_types": []string{"case.created"}})
	publishDelivered(t, s, rc, "old", 30)
	publishDelivered(t, s, rc, "new", 5)
	age(t, s, "old", 40)
	// An old event whose delivery is still pending is not purged.
	if _, err := s.DB.Exec(`UPDATE deliveries SET status = 'pending' WHERE event_id = 'old-0'`); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	in := workflows.PurgeWorkflowInput{PayloadRetention: 30 * 24 * time.Hour, LogRetention: 30 * 24 * time.Hour, BatchSize: 7, MaxBatches: 100}
	if err := worker.EnsureRetentionSchedule(ctx, s.Temporal, in, testkit.Logger()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Temporal.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID).Delete(ctx) })
	// Started at worker start again: nothing breaks, the action is updated.
	if err := worker.EnsureRetentionSchedule(ctx, s.Temporal, in, testkit.Logger()); err != nil {
		t.Fatal(err)
	}
	h := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID)
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return count(t, s, `SELECT count(*) FROM events WHERE id LIKE 'old-%'`) == 1 })
	if n := count(t, s, `SELECT count(*) FROM deliveries WHERE event_id LIKE 'old-%'`); n != 1 {
		t.Fatalf("%d deliveries of old events left, want the pending one", n)
	}
	if n := count(t, s, `SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id LIKE 'old-%'`); n != 1 {
		t.Fatalf("%d attempts of old events left, want the pending delivery's one", n)
	}
	if n := count(t, s, `SELECT count(*) FROM events WHERE id LIKE 'new-%'`); n != 5 {
		t.Fatalf("%d new events left, want 5", n)
	}
	if n := count(t, s, `SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id LIKE 'new-%'`); n != 5 {
		t.Fatalf("%d attempts of new events left, want 5", n)
	}

	// Retention off: the schedule goes.
	if err := worker.EnsureRetentionSchedule(ctx, s.Temporal, workflows.PurgeWorkflowInput{}, testkit.Logger()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Describe(ctx); err == nil {
		t.Fatal("the retention schedule is still there with retention off")
	}
}

// TestPublishingProceedsWhileAPurgeRuns holds a purge batch's transaction
// open (its deletes done, its locks held) and publishes meanwhile: every
// publish answers 202 promptly and is delivered.
func TestPublishingProceedsWhileAPurgeRuns(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkitReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Busy", "url": rc.URL + "/hook", "event_types": []string{"case.created"}})
	publishDelivered(t, s, rc, "stale", 40)
	age(t, s, "stale", 40)

	tx, err := s.DB.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	c, err := store.PurgeEventsBatch(context.Background(), tx, time.Now().Add(-30*24*time.Hour), 1000)
	if err != nil || c.Events != 40 || c.Deliveries != 40 || c.Attempts != 40 {
		t.Fatalf("purge batch = %+v, %v", c, err)
	}
	before := rc.Count()
	for i := 0; i < 20; i++ {
		start := time.Now()
		s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": fmt.Sprintf("during-%d", i), "type": "case.created", "data": map[string]any{}})
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("publish %d took %s while a purge held its locks", i, d)
		}
	}
	waitFor(t, func() bool { return rc.Count() >= before+20 })
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM events WHERE id LIKE 'stale-%'`); n != 0 {
		t.Fatalf("%d stale events left", n)
	}
}

// TestEraseEventRemovesItsPersonalData: DELETE /v1/events/{id} empties the
// event's data and its attempts' bodies and headers, says what it erased,
// refuses while a delivery is pending, and needs an admin key.
func TestEraseEventRemovesItsPersonalData(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkitReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Personal", "url": rc.URL + "/hook", "event_types": []string{"case.created"},
		"headers": map[string]string{"X-Owner": "{{ case.owner }}"}})
	publishDelivered(t, s, rc, "gdpr", 2)

	out := s.MustDo(http.StatusOK, "DELETE", "/v1/events/gdpr-0", nil).Map(t)
	if out["event_id"] != "gdpr-0" || out["deliveries"].(float64) != 1 || out["attempts"].(float64) != 1 || out["erased_at"] == "" {
		t.Fatalf("erasure = %v", out)
	}
	ev := s.MustDo(http.StatusOK, "GET", "/v1/events/gdpr-0", nil).Map(t)
	if data := ev["data"].(map[string]any); len(data) != 0 {
		t.Fatalf("event data after erasure = %v", data)
	}
	if n := count(t, s, `SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE d.event_id = 'gdpr-0' AND (a.request_body LIKE '%ann@example.com%' OR a.request_headers::text LIKE '%ann@example.com%')`); n != 0 {
		t.Fatalf("%d attempts still hold the personal data", n)
	}
	if n := count(t, s, `SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE d.event_id = 'gdpr-1' AND a.request_body LIKE '%ann@example.com%'`); n != 1 {
		t.Fatalf("the other event's attempt was touched (%d)", n)
	}

	if _, err := s.DB.Exec(`UPDATE deliveries SET status = 'pending' WHERE event_id = 'gdpr-1'`); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("DELETE", "/v1/events/gdpr-1", nil); r.Status != http.StatusConflict {
		t.Fatalf("erase with a pending delivery: %d %s", r.Status, r.Body)
	}
	s.MustDo(http.StatusNotFound, "DELETE", "/v1/events/no-such-event", nil)
}
