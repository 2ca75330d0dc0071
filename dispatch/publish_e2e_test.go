//go:build !fuzzsmoke

package dispatch_test

import (
	"context"
	"net/http"
	"sync"
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

// gatedClient is the real Temporal client with a hand on workflow starts:
// the next start can be held until released, and starts can be made to fail
// as if Temporal were down. It records the batch workflows started.
type gatedClient struct {
	client.Client
	mu      sync.Mutex
	gate    chan struct{}
	down    atomic.Bool
	batches []workflows.DeliverBatchInput
}

// holdNext makes the next start wait until the returned func is called.
func (c *gatedClient) holdNext() (release func()) {
	gate := make(chan struct{})
	c.mu.Lock()
	c.gate = gate
	c.mu.Unlock()
	return func() { close(gate) }
}

func (c *gatedClient) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	c.mu.Lock()
	gate := c.gate
	c.gate = nil
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if c.down.Load() {
		return nil, serviceerror.NewUnavailable("test: Temporal is down")
	}
	if in, ok := args[0].(workflows.DeliverBatchInput); ok {
		c.mu.Lock()
		c.batches = append(c.batches, in)
		c.mu.Unlock()
	}
	return c.Client.ExecuteWorkflow(ctx, opts, wf, args...)
}

// started is the batch workflows started so far.
func (c *gatedClient) started() []workflows.DeliverBatchInput {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]workflows.DeliverBatchInput(nil), c.batches...)
}

// dispatchRig is a publisher of its own over a test stack, whose Temporal
// starts the test controls, and a webhook to a receiver.
type dispatchRig struct {
	s         *teststack.Stack
	rc        *testkit.Receiver
	tc        *gatedClient
	pub       *dispatch.Publisher
	events    *store.Events
	webhookID string
}

func newDispatchRig(t *testing.T) *dispatchRig {
	t.Helper()
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	hook := s.MustDo(http.StatusCreated, "POST", "/v1/webhooks", map[string]any{
		"name": "Grouped", "url": rc.URL + "/hook", "event_types": []string{"case.created"},
	}).Map(t)
	r := &dispatchRig{s: s, rc: rc, tc: &gatedClient{Client: s.Temporal}, events: &store.Events{DB: s.DB}, webhookID: hook["id"].(string)}
	r.pub = &dispatch.Publisher{Events: r.events, Index: s.Index, Temporal: r.tc, Log: testkit.Logger()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.pub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// publish makes one event durable through the rig's publisher and returns
// the batch it was stored in.
func (r *dispatchRig) publish(t *testing.T, id string) string {
	t.Helper()
	if err := r.pub.Publish(context.Background(), []domain.Event{{ID: id, Type: "case.created", OccurredAt: time.Now().UTC(), Data: []byte(`{}`)}}); err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	var batch string
	if err := r.s.DB.Get(&batch, `SELECT batch_id FROM events WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return batch
}

// deliveryWorkflow is the workflow id the API names for an event's delivery.
func (r *dispatchRig) deliveryWorkflow(t *testing.T, eventID string) string {
	return r.s.DeliveryOf(t, eventID, "succeeded")["workflow_id"].(string)
}

// Publishing answers once the batch is committed; batches committed while a
// hand-over is under way are handed over together, as one group in one
// batch workflow.
func TestCommittedBatchesWaitingForTheDispatcherGoOverAsOneGroup(t *testing.T) {
	r := newDispatchRig(t)
	release := r.tc.holdNext()
	first := r.publish(t, "grp-0") // answered while its hand-over is held
	var grouped []string
	for _, id := range []string{"grp-1", "grp-2", "grp-3"} {
		grouped = append(grouped, r.publish(t, id))
	}
	release()
	r.rc.WaitFor(t, 4, 30*time.Second)

	starts := r.tc.started()
	if len(starts) != 2 || starts[0].BatchID != first || len(starts[0].BatchIDs) != 0 ||
		starts[1].BatchID != grouped[0] || len(starts[1].BatchIDs) != 3 {
		t.Fatalf("batch workflows started: %+v; want one for %s, then one group of %v", starts, first, grouped)
	}
	for i, id := range []string{"grp-1", "grp-2", "grp-3"} {
		var group string
		r.s.DB.Get(&group, `SELECT dispatch_group FROM publish_batches WHERE id = $1`, grouped[i])
		if group != grouped[0] {
			t.Fatalf("batch %s has dispatch group %q, want %s", grouped[i], group, grouped[0])
		}
		if wf := r.deliveryWorkflow(t, id); wf != workflows.BatchWorkflowID(grouped[0]) {
			t.Fatalf("delivery of %s names workflow %s, want the group's", id, wf)
		}
	}
	if n := len(r.rc.Requests()); n != 4 {
		t.Fatalf("receiver got %d requests, want 4", n)
	}
}

// Batches committed while Temporal is down are answered (they are durable)
// and handed over by the dispatcher sweep later — a group as the group it
// was assigned to, under the same workflow id.
func TestSweepHandsOverBatchesTheDispatcherCouldNot(t *testing.T) {
	r := newDispatchRig(t)
	release := r.tc.holdNext()
	r.publish(t, "swp-0")
	var grouped []string
	for _, id := range []string{"swp-1", "swp-2"} {
		grouped = append(grouped, r.publish(t, id))
	}
	r.tc.down.Store(true)
	release()
	testkit.Eventually(t, 30*time.Second, "the dispatcher assigns the group and gives up", func() bool {
		var n int
		r.s.DB.Get(&n, `SELECT count(*) FROM publish_batches WHERE dispatch_group = $1 AND dispatched_at IS NULL`, grouped[0])
		return n == 2
	})
	time.Sleep(2 * time.Second) // its three tries are over
	if n := len(r.rc.Requests()); n != 0 {
		t.Fatalf("receiver got %d requests while Temporal was down", n)
	}

	r.tc.down.Store(false)
	r.s.ExpireDispatchLeases(t)
	n, _, err := dispatch.SweepUndispatched(context.Background(), r.s.Temporal, r.events, 0, false, testkit.Logger())
	if err != nil || n != 3 {
		t.Fatalf("sweep handed over %d batches (%v), want 3", n, err)
	}
	r.rc.WaitFor(t, 3, 30*time.Second)
	for _, id := range []string{"swp-1", "swp-2"} {
		if wf := r.deliveryWorkflow(t, id); wf != workflows.BatchWorkflowID(grouped[0]) {
			t.Fatalf("delivery of %s names workflow %s, want the group's", id, wf)
		}
	}
	if r.s.WorkflowExists(t, workflows.BatchWorkflowID(grouped[1])) {
		t.Fatal("the sweep started a second workflow for a grouped batch")
	}
	r.s.ExpireDispatchLeases(t)
	if n, _, _ := dispatch.SweepUndispatched(context.Background(), r.s.Temporal, r.events, 0, false, testkit.Logger()); n != 0 {
		t.Fatalf("a second sweep handed over %d batches", n)
	}
	time.Sleep(time.Second)
	if n := len(r.rc.Requests()); n != 3 {
		t.Fatalf("receiver got %d requests, want 3 (each event once)", n)
	}
}

// A batch whose publisher started its workflow but could not record it
// dispatched (PostgreSQL went away between the two) is swept with other
// loose batches: they are regrouped under a fresh name, never the name the
// first one's workflow already has, so every event is delivered — once.
func TestSweepNeverRegroupsUnderANameAlreadyStarted(t *testing.T) {
	r := newDispatchRig(t)
	r.tc.down.Store(true)
	first := r.publish(t, "rg-0")
	r.publish(t, "rg-1")
	r.publish(t, "rg-2")
	time.Sleep(2 * time.Second) // the dispatcher gave up on all three
	// The publisher of rg-0 had in fact started its workflow.
	if _, err := dispatch.StartBatch(context.Background(), r.s.Temporal,
		workflows.DeliverBatchInput{BatchID: first, HasUnordered: true}, dispatch.SearchAttributeValues{}); err != nil {
		t.Fatal(err)
	}
	r.rc.WaitFor(t, 1, 30*time.Second)
	r.tc.down.Store(false)
	r.s.ExpireDispatchLeases(t)
	if n, _, err := dispatch.SweepUndispatched(context.Background(), r.s.Temporal, r.events, 0, false, testkit.Logger()); err != nil || n != 3 {
		t.Fatalf("sweep handed over %d batches (%v), want 3", n, err)
	}
	r.rc.WaitFor(t, 3, 30*time.Second)
	time.Sleep(time.Second)
	ids := map[string]int{}
	for _, req := range r.rc.Requests() {
		ids[req.Header.Get("Webhook-Id")]++
	}
	if len(ids) != 3 || r.rc.Count() != 3 {
		t.Fatalf("receiver got %d requests for %d deliveries; want each of 3 once", r.rc.Count(), len(ids))
	}
}
