//go:build !fuzzsmoke

package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/dispatch"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/worker"
	"github.com/triggerflow/triggerflow/workflows"
)

// The reconciler and the publisher when Temporal misbehaves, through the
// real stack: Temporal unreachable while events are published, Temporal's
// data lost, an operator's cancel or terminate, a webhook's backlog
// workflow gone.

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
	s.CreateWebhook(t, map[string]any{"name": "patient", "url": rc.URL, "event_types": []string{"task.created"}})
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
	s.CreateWebhook(t, map[string]any{"name": "lost", "url": rc.URL + "/u", "event_types": []string{"case.*"}, "retry": retry})
	s.CreateWebhook(t, map[string]any{"name": "lost fifo", "url": rc.URL + "/o", "event_types": []string{"case.*"}, "retry": retry, "ordered": true})
	s.MustDo(201, "POST", "/v1/flows", map[string]any{"name": "call-out", "steps": []map[string]any{{"name": "call", "action": "http.request",
		"params": map[string]any{"url": rc.URL + "/run"}, "retry": map[string]any{"initial_interval": "1s", "max_attempts": 1000}}}})
	s.MustDo(201, "POST", "/v1/triggers", map[string]any{"name": "On case", "type": "on_event", "flow": "call-out", "object": "case", "event": "created"})
	for i := range 3 {
		s.Publish(t, fmt.Sprintf("lost-%d", i), "case.created", map[string]any{"n": i})
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
	s.StartWorker(t, fresh)
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
	s.CreateWebhook(t, map[string]any{"name": "operated", "url": rc.URL, "event_types": []string{"task.created"},
		"retry": map[string]any{"initial_interval": "1s", "max_attempts": 1000}})
	s.Publish(t, "op-cancel", "task.created", nil)
	s.Publish(t, "op-terminate", "task.created", nil)
	ids := map[string]string{}
	testkit.Eventually(t, 30*time.Second, "both deliveries in their own workflows", func() bool {
		for _, d := range s.DeliveriesOf(t, "operated") {
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

// A backlog whose workflow Temporal lost (a fresh cluster, a reset
// namespace) is woken again by the reconciler, and its deliveries are sent.
func TestReconcilerStartsALostBacklogWorkflowAgain(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	rc := testkit.NewReceiver(t)
	hook := s.CreateWebhook(t, map[string]any{"name": "lost backlog", "url": rc.URL, "event_types": []string{"task.created"}})
	for i := range 3 {
		s.Publish(t, fmt.Sprintf("lost-backlog-%d", i), "task.created", map[string]any{"n": i})
	}
	// Handed to a backlog workflow that no longer exists.
	backlog := workflows.BacklogWorkflowID("lost_backlog", hook["id"].(string))
	if _, err := s.DB.Exec(`UPDATE deliveries SET workflow_id = $2 WHERE webhook_id = $1`, hook["id"], backlog); err != nil {
		t.Fatal(err)
	}
	s.StartWorker(t, s.Temporal)
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
