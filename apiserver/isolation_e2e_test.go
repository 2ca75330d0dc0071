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

	"github.com/triggerflow/triggerflow/dispatch"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/worker"
	"github.com/triggerflow/triggerflow/workflows"
)

// deliveriesOf lists every delivery of a webhook (up to 500) with its status.
func deliveriesOf(t *testing.T, s *teststack.Stack, code string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range s.MustDo(200, "GET", "/v1/webhooks/"+code+"/deliveries?per_page=500", nil).Map(t)["items"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
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

// hangingClient is the real Temporal client, except that while hang is set
// every workflow start waits until its context ends, as against a Temporal
// that accepts connections and never answers.
type hangingClient struct {
	client.Client
	hang   atomic.Bool
	starts atomic.Int64
}

func (c *hangingClient) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if c.hang.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if _, ok := args[0].(workflows.DeliverBatchInput); ok {
		c.starts.Add(1)
	}
	return c.Client.ExecuteWorkflow(ctx, opts, wf, args...)
}

// With Temporal unreachable (hanging), publishing keeps answering 202 once
// PostgreSQL commits, and 503 with Retry-After once the documented bound on
// undispatched batches is reached — it never hangs. When Temporal is back,
// sweeps in two processes share the backlog and drain it in few workflows:
// every accepted event is delivered exactly once.
func TestPublishingNeverHangsWhileTemporalIsUnreachable(t *testing.T) {
	hc := &hangingClient{Client: testkit.Temporal(t)}
	s := teststack.Start(t, teststack.Options{PublishTemporal: hc, MaxUndispatched: 5})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "patient", "url": rc.URL, "event_types": []string{"task.created"}})
	hc.hang.Store(true)

	var accepted, refused atomic.Int64
	var slowest atomic.Int64
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				start := time.Now()
				r := s.Do("POST", "/v1/events", map[string]any{"id": fmt.Sprintf("hang-%d-%d", c, i), "type": "task.created", "data": map[string]any{}})
				if d := time.Since(start); int64(d) > slowest.Load() {
					slowest.Store(int64(d))
				}
				switch {
				case r.Status == http.StatusAccepted:
					accepted.Add(1)
				case r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") != "":
					refused.Add(1)
				default:
					t.Errorf("publish answered %d %s", r.Status, r.Body)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if d := time.Duration(slowest.Load()); d > 2*time.Second {
		t.Fatalf("a publish took %s while Temporal hung", d)
	}
	if accepted.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("accepted %d, refused %d; want some accepted, then 503 past the bound", accepted.Load(), refused.Load())
	}
	if rc.Count() != 0 {
		t.Fatal("deliveries went out while Temporal hung")
	}

	hc.hang.Store(false)
	s.ExpireDispatchLeases(t)
	events := &store.Events{DB: s.DB}
	var handed atomic.Int64
	var sweeps sync.WaitGroup
	for range 2 {
		sweeps.Add(1)
		go func() {
			defer sweeps.Done()
			for {
				n, more, err := dispatch.SweepUndispatched(context.Background(), hc, events, 0, false, testkit.Logger())
				if err != nil {
					t.Error(err)
					return
				}
				handed.Add(int64(n))
				if !more && n == 0 {
					return
				}
			}
		}()
	}
	sweeps.Wait()
	rc.WaitFor(t, int(accepted.Load()), 60*time.Second)
	time.Sleep(time.Second)
	ids := map[string]int{}
	for _, r := range rc.Requests() {
		ids[r.Header.Get("Webhook-Id")]++
	}
	if len(ids) != int(accepted.Load()) || rc.Count() != int(accepted.Load()) {
		t.Fatalf("%d requests for %d deliveries of %d accepted events; want each exactly once", rc.Count(), len(ids), accepted.Load())
	}
	if n := hc.starts.Load(); n > accepted.Load()/5 {
		t.Fatalf("the backlog drained in %d group workflows; the sweep should regroup it into a few", n)
	}
	if n, _ := events.CountUndispatched(context.Background()); n != 0 {
		t.Fatalf("%d batches still undispatched", n)
	}
}

// When Temporal's data is lost (a fresh cluster, a namespace reset), the
// reconciler hands over again what PostgreSQL records as pending: deliveries
// waiting for retries, an ordered webhook's queue, and a run; everything is
// delivered once the receiver answers.
func TestReconcilerHandsWorkOverAfterTemporalLostItsData(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	heal := rc.Failing(503)
	retry := map[string]any{"initial_interval": "1s", "max_attempts": 1000}
	createWebhook(t, s, map[string]any{"name": "lost", "url": rc.URL + "/u", "event_types": []string{"case.*"}, "retry": retry})
	createWebhook(t, s, map[string]any{"name": "lost fifo", "url": rc.URL + "/o", "event_types": []string{"case.*"}, "retry": retry, "ordered": true})
	s.MustDo(201, "POST", "/v1/flows", map[string]any{"name": "call-out", "steps": []map[string]any{{"name": "call", "action": "http.request",
		"params": map[string]any{"url": rc.URL + "/run"}, "retry": map[string]any{"initial_interval": "1s", "max_attempts": 1000}}}})
	s.MustDo(201, "POST", "/v1/triggers", map[string]any{"name": "On case", "type": "on_event", "flow": "call-out", "object": "case", "event": "created"})
	for i := range 3 {
		publish(t, s, fmt.Sprintf("lost-%d", i), "case.created", map[string]any{"n": i})
	}
	testkit.Eventually(t, 30*time.Second, "deliveries and the run retrying", func() bool {
		paths := map[string]int{}
		for _, r := range rc.Requests() {
			paths[r.Path]++
		}
		return paths["/u"] >= 6 && paths["/o"] >= 2 && paths["/run"] >= 6
	})

	// Temporal loses everything: a fresh server, with a new worker on it.
	s.Worker.Stop()
	fresh := testkit.FreshTemporal(t)
	policy, err := activities.NewEgressPolicy([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(worker.Options{DB: s.DB, Temporal: fresh, Logger: testkit.Logger(), HTTP: activities.NewHTTPClient(policy),
		Cipher: mustCipher(t)})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	heal()
	time.Sleep(1500 * time.Millisecond) // past every planned next try
	rec := worker.NewReconciler(fresh, s.DB, testkit.Logger())
	rec.Quiet = time.Millisecond
	rep, err := rec.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.HandedOver != 3 || rep.Queues != 1 || rep.RunsStarted != 3 {
		t.Fatalf("reconciler pass %+v; want 3 deliveries handed over, 1 queue and 3 runs started again", rep)
	}
	testkit.Eventually(t, 60*time.Second, "everything done on the fresh cluster", func() bool {
		var pending int
		s.DB.Get(&pending, `SELECT (SELECT count(*) FROM deliveries WHERE status <> 'succeeded') +
			(SELECT count(*) FROM trigger_runs WHERE status <> 'succeeded')`)
		return pending == 0
	})
}

// An operator who cancels a delivery's workflow in Temporal UI ends the
// delivery as canceled, with the reason in the log; one who terminates it
// (no code of ours runs) gets the same from the reconciler. Either can be
// retried by hand.
func TestOperatorCancelOrTerminateInTemporalEndsTheDelivery(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	heal := rc.Failing(503)
	createWebhook(t, s, map[string]any{"name": "operated", "url": rc.URL, "event_types": []string{"task.created"},
		"retry": map[string]any{"initial_interval": "1s", "max_attempts": 1000}})
	publish(t, s, "op-cancel", "task.created", nil)
	publish(t, s, "op-terminate", "task.created", nil)
	ids := map[string]string{}
	testkit.Eventually(t, 30*time.Second, "both deliveries in their own workflows", func() bool {
		for _, d := range deliveriesOf(t, s, "operated") {
			if strings.HasPrefix(d["workflow_id"].(string), "delivery-msg_") {
				ids[d["event_id"].(string)] = d["id"].(string)
			}
		}
		return len(ids) == 2
	})
	ctx := context.Background()
	if err := s.Temporal.CancelWorkflow(ctx, workflows.DeliveryWorkflowID(ids["op-cancel"]), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Temporal.TerminateWorkflow(ctx, workflows.DeliveryWorkflowID(ids["op-terminate"]), "", "operator"); err != nil {
		t.Fatal(err)
	}
	d := s.DeliveryOf(t, "op-cancel", "canceled")
	if !strings.Contains(d["last_error"].(string), "canceled") {
		t.Fatalf("canceled delivery's last error %q", d["last_error"])
	}
	rec := worker.NewReconciler(s.Temporal, s.DB, testkit.Logger())
	rec.Quiet = time.Millisecond
	time.Sleep(1500 * time.Millisecond) // past its planned next try
	if rep, err := rec.Reconcile(ctx); err != nil || rep.Canceled != 1 {
		t.Fatalf("reconciler pass %+v (%v); want the terminated one canceled", rep, err)
	}
	s.DeliveryOf(t, "op-terminate", "canceled")

	heal()
	for _, ev := range []string{"op-cancel", "op-terminate"} {
		s.MustDo(202, "POST", "/v1/deliveries/"+ids[ev]+"/retry", nil)
		s.DeliveryOf(t, ev, "succeeded")
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

// mustCipher is the test stacks' secret box, for workers a test starts itself.
func mustCipher(t *testing.T) *secretbox.Box {
	t.Helper()
	box, err := secretbox.New(teststack.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return box
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

// A backlog whose workflow Temporal lost (a fresh cluster, a reset
// namespace) is woken again by the reconciler, and its deliveries are sent.
func TestReconcilerStartsALostBacklogWorkflowAgain(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	rc := testkit.NewReceiver(t)
	hook := createWebhook(t, s, map[string]any{"name": "lost backlog", "url": rc.URL, "event_types": []string{"task.created"}})
	for i := range 3 {
		publish(t, s, fmt.Sprintf("lost-backlog-%d", i), "task.created", map[string]any{"n": i})
	}
	// Handed to a backlog workflow that no longer exists.
	backlog := workflows.BacklogWorkflowID("lost_backlog", hook["id"].(string))
	if _, err := s.DB.Exec(`UPDATE deliveries SET workflow_id = $2 WHERE webhook_id = $1`, hook["id"], backlog); err != nil {
		t.Fatal(err)
	}
	policy, err := activities.NewEgressPolicy([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(worker.Options{DB: s.DB, Temporal: s.Temporal, Logger: testkit.Logger(), HTTP: activities.NewHTTPClient(policy),
		Cipher: mustCipher(t)})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	rec := worker.NewReconciler(s.Temporal, s.DB, testkit.Logger())
	rec.Quiet = time.Millisecond
	time.Sleep(10 * time.Millisecond)
	rep, err := rec.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Backlogs != 1 || rep.HandedOver != 0 {
		t.Fatalf("reconciler pass %+v; want the backlog workflow started again, nothing handed over one by one", rep)
	}
	testkit.Eventually(t, 30*time.Second, "the backlog delivered", func() bool {
		var n int
		s.DB.Get(&n, `SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE d.webhook_id = $1 AND d.status = 'succeeded' AND a.workflow_id = $2`, hook["id"], backlog)
		return n == 3
	})
	if rc.Count() != 3 {
		t.Fatalf("receiver got %d requests, want 3", rc.Count())
	}
}
