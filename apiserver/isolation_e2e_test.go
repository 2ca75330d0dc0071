//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/worker"
	"github.com/triggerflow/triggerflow/workflows"
)

// deliveriesOf lists every delivery of a webhook (up to 500) with its status.
func deliveriesOf(t *testing.T, s *teststack.Stack, code string) []map[string]any {
	return s.DeliveriesOf(t, code)
}

func countStatus(ds []map[string]any, status string) int {
	n := 0
	for _, d := range ds {
		if d["status"] == status {
			n++
		}
	}
	return n
}

// The noisy-neighbours chaos test: three webhooks on the same events — one
// receiver answers 200 with a NUL byte, one answers after its webhook's
// timeout, one is healthy. The healthy receiver gets every event exactly
// once; the NUL answers are SUCCESS with their bytes logged; the slow ones
// are logged as timeouts and retried by their policy, then fail.
func TestNoisyNeighboursEveryDeliveryKeepsItsOwnFate(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	healthy, nul, slow := testkit.NewReceiver(t), testkit.NewReceiver(t), testkit.NewReceiver(t)
	nul.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 200, Body: []byte{0}, Header: map[string]string{"X-Odd": "\xff\xfe"}}
	})
	slow.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 200, Delay: 3 * time.Second}
	})
	createWebhook(t, s, map[string]any{"name": "healthy", "url": healthy.URL, "event_types": []string{"task.created"}})
	createWebhook(t, s, map[string]any{"name": "nul", "url": nul.URL, "event_types": []string{"task.created"}})
	createWebhook(t, s, map[string]any{"name": "slow", "url": slow.URL, "event_types": []string{"task.created"}, "timeout": "1s",
		"retry": map[string]any{"initial_interval": "2s", "max_attempts": 2}})

	const events = 150
	publishConcurrently(t, s, "task", events, 32)

	healthy.WaitFor(t, events, 60*time.Second)
	testkit.Eventually(t, 90*time.Second, "every delivery settled", func() bool {
		return countStatus(deliveriesOf(t, s, "healthy"), "succeeded") == events &&
			countStatus(deliveriesOf(t, s, "nul"), "succeeded") == events &&
			countStatus(deliveriesOf(t, s, "slow"), "failed") == events
	})
	time.Sleep(2 * time.Second) // nothing more may arrive
	ids := map[string]int{}
	for _, r := range healthy.Requests() {
		ids[r.Header.Get("Webhook-Id")]++
	}
	if len(ids) != events || len(healthy.Requests()) != events {
		t.Fatalf("healthy receiver got %d requests for %d distinct deliveries; want each of %d exactly once",
			len(healthy.Requests()), len(ids), events)
	}
	for _, d := range deliveriesOf(t, s, "nul")[:5] {
		full := s.MustDo(200, "GET", "/v1/deliveries/"+d["id"].(string), nil).Map(t)
		atts := attemptsOf(full)
		if len(atts) != 1 || atts[0]["result"] != "SUCCESS" || atts[0]["response_body_encoding"] != "base64" || atts[0]["escaped"] != true {
			t.Fatalf("NUL delivery attempts: %v", atts)
		}
		if raw, _ := base64.StdEncoding.DecodeString(atts[0]["response_body"].(string)); string(raw) != "\x00" {
			t.Fatalf("NUL body logged as %q", raw)
		}
	}
	for _, d := range deliveriesOf(t, s, "slow")[:5] {
		atts := attemptsOf(s.MustDo(200, "GET", "/v1/deliveries/"+d["id"].(string), nil).Map(t))
		if len(atts) != 2 {
			t.Fatalf("slow delivery made %d attempts, want the policy's 2", len(atts))
		}
		for _, a := range atts {
			if a["result"] != "FAILED" || !strings.Contains(a["error"].(string), "timed out") || a["duration_ms"].(float64) < 900 {
				t.Fatalf("slow attempt %v: want a FAILED timeout with its duration", a)
			}
		}
	}
}

// publishConcurrently publishes n task.created events, ids prefix-0…,
// each by itself, up to parallel at a time.
func publishConcurrently(t *testing.T, s *teststack.Stack, prefix string, n, parallel int) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			publish(t, s, fmt.Sprintf("%s-%d", prefix, i), "task.created", map[string]any{"n": i})
		}()
	}
	wg.Wait()
}

// A webhook disabled while its deliveries wait for retries parks them in
// PostgreSQL — their workflows end, nothing is tried — and enabling it
// delivers the whole backlog; an ordered webhook's backlog in order.
func TestDisabledWebhookParksItsBacklogAndEnablingDeliversIt(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	heal := rc.Failing(503)
	retry := map[string]any{"initial_interval": "1s", "max_attempts": 1000}
	createWebhook(t, s, map[string]any{"name": "parked", "url": rc.URL + "/u", "event_types": []string{"task.*"}, "retry": retry})
	createWebhook(t, s, map[string]any{"name": "parked fifo", "url": rc.URL + "/o", "event_types": []string{"task.*"}, "retry": retry, "ordered": true})
	for i := range 5 {
		publish(t, s, fmt.Sprintf("park-%d", i), "task.created", map[string]any{"n": i})
	}
	testkit.Eventually(t, 30*time.Second, "the unordered deliveries retry in their own workflows", func() bool {
		var n int
		s.DB.Get(&n, `SELECT count(*) FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE w.code = 'parked' AND d.attempts >= 2`)
		return n == 5
	})
	s.MustDo(200, "POST", "/v1/webhooks/bulk-disable", map[string]any{"ids": []string{"parked", "parked_fifo"}})
	testkit.Eventually(t, 30*time.Second, "the unordered deliveries are parked", func() bool {
		var n int
		s.DB.Get(&n, `SELECT count(*) FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE w.code = 'parked' AND d.parked_at IS NOT NULL AND d.workflow_id = '' AND d.status = 'pending'`)
		return n == 5
	})
	// A delivery is parked by its workflow's last activity: the workflow
	// completes a moment after the row says so.
	for _, d := range deliveriesOf(t, s, "parked") {
		id := workflows.DeliveryWorkflowID(d["id"].(string))
		testkit.Eventually(t, 10*time.Second, "the parked delivery's workflow "+id+" ends", func() bool {
			desc, err := s.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
			return err == nil && desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
		})
	}
	time.Sleep(2 * time.Second)
	before := rc.Count()
	time.Sleep(4 * time.Second)
	if rc.Count() != before {
		t.Fatalf("%d requests while both webhooks were disabled", rc.Count()-before)
	}
	// The reconciler leaves parked deliveries alone: they wait for a reason.
	rec := worker.NewReconciler(s.Temporal, s.DB, testkit.Logger())
	rec.Quiet = time.Millisecond
	if rep, err := rec.Reconcile(context.Background()); err != nil || rep.HandedOver != 0 || rep.Resumed != 0 {
		t.Fatalf("reconciler touched parked deliveries: %+v %v", rep, err)
	}

	heal()
	s.MustDo(200, "POST", "/v1/webhooks/bulk-enable", map[string]any{"ids": []string{"parked", "parked_fifo"}})
	testkit.Eventually(t, 60*time.Second, "the whole backlog delivered", func() bool {
		return countStatus(deliveriesOf(t, s, "parked"), "succeeded") == 5 && countStatus(deliveriesOf(t, s, "parked_fifo"), "succeeded") == 5
	})
	var order []string
	seen := map[string]bool{}
	for _, r := range rc.Requests() {
		if r.Path == "/o" && !seen[string(r.Body)] {
			seen[string(r.Body)] = true
			order = append(order, string(r.Body))
		}
	}
	for i, body := range order {
		if !strings.Contains(body, fmt.Sprintf(`"id":"park-%d"`, i)) {
			t.Fatalf("ordered webhook's first receipts out of publish order at %d: %s", i, body)
		}
	}
}

// A manual retry of an ordered webhook's delivery goes back to the
// webhook's queue — no second workflow works on it — and toggling "ordered"
// while deliveries are pending leaves each with the one carrier it had:
// attempt numbers run 1, 2, 3… with no gaps or repeats.
func TestEachDeliveryHasOneCarrier(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	heal := rc.Failing(503)
	createWebhook(t, s, map[string]any{"name": "once fifo", "url": rc.URL + "/o", "event_types": []string{"task.created"},
		"ordered": true, "retry": map[string]any{"preset": "none"}})
	publish(t, s, "one-carrier-0", "task.created", nil)
	d := s.DeliveryOf(t, "one-carrier-0", "failed")
	heal()
	s.MustDo(202, "POST", "/v1/deliveries/"+d["id"].(string)+"/retry", nil)
	d = s.DeliveryOf(t, "one-carrier-0", "succeeded")
	if _, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflows.DeliveryWorkflowID(d["id"].(string)), ""); err == nil {
		t.Fatal("a manual retry of an ordered delivery started a workflow of its own beside the queue")
	}
	if atts := attemptsOf(d); len(atts) != 2 || !strings.HasPrefix(fmt.Sprint(atts[0]["workflow_id"]), "webhook-once_fifo-") {
		t.Fatalf("attempts %v; want the retry made by the queue", atts)
	}

	heal = rc.Failing(503)
	createWebhook(t, s, map[string]any{"name": "toggled", "url": rc.URL + "/t", "event_types": []string{"user.created"},
		"retry": map[string]any{"initial_interval": "1s", "max_attempts": 30}})
	for i := range 3 {
		publish(t, s, fmt.Sprintf("toggle-%d", i), "user.created", nil)
	}
	testkit.Eventually(t, 30*time.Second, "retries under way", func() bool {
		var n int
		s.DB.Get(&n, `SELECT count(*) FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.code = 'toggled' AND d.attempts >= 2`)
		return n == 3
	})
	s.MustDo(200, "PATCH", "/v1/webhooks/toggled", map[string]any{"ordered": true})
	publish(t, s, "toggle-after", "user.created", nil) // wakes the new queue
	time.Sleep(2 * time.Second)
	heal()
	testkit.Eventually(t, 60*time.Second, "all settled", func() bool {
		return countStatus(deliveriesOf(t, s, "toggled"), "succeeded") == 4
	})
	for _, d := range deliveriesOf(t, s, "toggled") {
		atts := attemptsOf(s.MustDo(200, "GET", "/v1/deliveries/"+d["id"].(string), nil).Map(t))
		byQueue := 0
		for i, a := range atts {
			if want := len(atts) - i; int(a["attempt"].(float64)) != want {
				t.Fatalf("delivery %s attempt numbers %v; want %d..1", d["event_id"], atts, len(atts))
			}
			if strings.HasPrefix(fmt.Sprint(a["workflow_id"]), "webhook-") {
				byQueue++
			}
		}
		// Deliveries made before the toggle stay with their own workflows;
		// the one after belongs to the queue.
		if (d["event_id"] == "toggle-after") != (byQueue == len(atts)) || (d["event_id"] != "toggle-after" && byQueue != 0) {
			t.Fatalf("delivery %s: %d of %d attempts by the queue", d["event_id"], byQueue, len(atts))
		}
	}
}

// Webhooks deleted while events are being published never fail a publish.
func TestPublishingWhileWebhooksAreDeletedNeverFails(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	for i := range 20 {
		createWebhook(t, s, map[string]any{"name": fmt.Sprintf("doomed %d", i), "url": rc.URL, "event_types": []string{"task.created"}})
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bad atomic.Int64
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := s.Do("POST", "/v1/events", map[string]any{"id": fmt.Sprintf("doom-%d-%d", c, i), "type": "task.created", "data": map[string]any{}})
				if r.Status != http.StatusAccepted {
					bad.Add(1)
					t.Errorf("publish answered %d: %s", r.Status, r.Body)
				}
			}
		}()
	}
	for i := range 20 {
		s.MustDo(204, "DELETE", fmt.Sprintf("/v1/webhooks/doomed_%d", i), nil)
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d publishes failed while webhooks were deleted", bad.Load())
	}
}

// A receiver at its limit (every request the worker may make to it in
// flight) gets its own backlog workflow: groups hand their deliveries for it
// over and end as soon as their other webhooks are served, instead of
// staying open and calling again behind it; the backlog workflow sends
// every one exactly once, never more at a time than the limit.
func TestAReceiverAtItsLimitGetsABacklogWorkflowNotWaitingGroups(t *testing.T) {
	const limit, events = 4, 40
	s := teststack.Start(t, teststack.Options{MaxPerWebhook: limit})
	healthy, slow := testkit.NewReceiver(t), testkit.NewReceiver(t)
	var inFlight, most atomic.Int32
	slow.Script(func(int, testkit.Received) testkit.Response {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(time.Second)
		inFlight.Add(-1)
		return testkit.Response{Status: 200}
	})
	createWebhook(t, s, map[string]any{"name": "healthy", "url": healthy.URL, "event_types": []string{"task.created"}})
	hook := createWebhook(t, s, map[string]any{"name": "slow", "url": slow.URL, "event_types": []string{"task.created"}, "timeout": "5s"})
	publishConcurrently(t, s, "limit", events, 16)
	healthy.WaitFor(t, events, 30*time.Second)

	// Every group ends while the slow receiver's backlog is still being sent.
	var groups []string
	if err := s.DB.Select(&groups, `SELECT DISTINCT COALESCE(NULLIF(b.dispatch_group, ''), d.batch_id)
		FROM deliveries d JOIN publish_batches b ON b.id = d.batch_id JOIN webhooks w ON w.id = d.webhook_id
		WHERE w.code = 'slow'`); err != nil || len(groups) == 0 {
		t.Fatalf("groups %v: %v", groups, err)
	}
	testkit.Eventually(t, 10*time.Second, "every group's workflow closed", func() bool {
		for _, g := range groups {
			d, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflows.BatchWorkflowID(g), "")
			if err != nil || d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return false
			}
		}
		return true
	})
	if done := countStatus(deliveriesOf(t, s, "slow"), "succeeded"); done >= events-limit {
		t.Fatalf("%d of %d slow deliveries were done before the groups closed: the groups waited for them", done, events)
	}

	testkit.Eventually(t, 60*time.Second, "the backlog delivered", func() bool {
		return countStatus(deliveriesOf(t, s, "slow"), "succeeded") == events
	})
	ids := map[string]int{}
	for _, r := range slow.Requests() {
		ids[r.Header.Get("Webhook-Id")]++
	}
	if len(ids) != events || len(slow.Requests()) != events || most.Load() > limit {
		t.Fatalf("slow receiver got %d requests for %d deliveries, at most %d at once; want each of %d once, at most %d at once",
			len(slow.Requests()), len(ids), most.Load(), events, limit)
	}
	backlog := workflows.BacklogWorkflowID("slow", hook["id"].(string))
	var carried int
	if err := s.DB.Get(&carried, `SELECT count(*) FROM delivery_attempts WHERE workflow_id = $1`, backlog); err != nil || carried == 0 {
		t.Fatalf("%d attempts made by %s (%v); want the backlog's", carried, backlog, err)
	}
	d, err := s.Temporal.DescribeWorkflowExecution(context.Background(), backlog, "")
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("backlog workflow: %v, %v; want it running, waiting for the next wake", d.GetWorkflowExecutionInfo().GetStatus(), err)
	}
}
