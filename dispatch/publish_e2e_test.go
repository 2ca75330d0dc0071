//go:build !fuzzsmoke

package dispatch_test

import (
	"context"
	"fmt"
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

// groupOf is the dispatch group a batch was stored in.
func (r *dispatchRig) groupOf(t *testing.T, batch string) string {
	t.Helper()
	var group string
	if err := r.s.DB.Get(&group, `SELECT dispatch_group FROM publish_batches WHERE id = $1`, batch); err != nil {
		t.Fatal(err)
	}
	return group
}

// sweepDeliversEachOnce sweeps every undispatched batch, expecting n, and
// waits for the receiver to get each of the n deliveries exactly once.
func (r *dispatchRig) sweepDeliversEachOnce(t *testing.T, n int) {
	t.Helper()
	if got, _, err := dispatch.SweepUndispatched(context.Background(), r.s.Temporal, r.events, 0, false, testkit.Logger()); err != nil || got != n {
		t.Fatalf("sweep handed over %d batches (%v), want %d", got, err, n)
	}
	r.rc.WaitFor(t, n, 30*time.Second)
	time.Sleep(time.Second)
	ids := map[string]int{}
	for _, req := range r.rc.Requests() {
		ids[req.Header.Get("Webhook-Id")]++
	}
	if len(ids) != n || r.rc.Count() != n {
		t.Fatalf("receiver got %d requests for %d deliveries; want each of %d once", r.rc.Count(), len(ids), n)
	}
}

// deliveryWorkflow is the workflow id the API names for an event's delivery.
func (r *dispatchRig) deliveryWorkflow(t *testing.T, eventID string) string {
	return r.s.DeliveryOf(t, eventID, "succeeded")["workflow_id"].(string)
}

// Publishing answers once the batch is committed; batches committed while a
// hand-over is under way are handed over together, as one group in one
// batch workflow, named before the first of them was stored.
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
	if len(starts) != 2 || fmt.Sprint(starts[0].BatchIDs) != fmt.Sprint([]string{first}) ||
		fmt.Sprint(starts[1].BatchIDs) != fmt.Sprint(grouped) || starts[0].BatchID == starts[1].BatchID {
		t.Fatalf("batch workflows started: %+v; want one for %s, then one group of %v", starts, first, grouped)
	}
	if g := r.groupOf(t, first); g != starts[0].BatchID {
		t.Fatalf("batch %s has dispatch group %q, want %s", first, g, starts[0].BatchID)
	}
	for i, id := range []string{"grp-1", "grp-2", "grp-3"} {
		if g := r.groupOf(t, grouped[i]); g != starts[1].BatchID {
			t.Fatalf("batch %s has dispatch group %q, want %s", grouped[i], g, starts[1].BatchID)
		}
		if wf := r.deliveryWorkflow(t, id); wf != workflows.BatchWorkflowID(starts[1].BatchID) {
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
	group := r.groupOf(t, grouped[0])
	if g := r.groupOf(t, grouped[1]); g != group {
		t.Fatalf("batches committed during one hand-over are in groups %s and %s", group, g)
	}
	r.tc.down.Store(true)
	release()
	testkit.Eventually(t, 30*time.Second, "the dispatcher gives up", func() bool {
		var n int
		r.s.DB.Get(&n, `SELECT count(*) FROM publish_batches WHERE dispatch_group = $1 AND dispatched_at IS NULL`, group)
		return n == 2 && len(r.tc.started()) == 0
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
		if wf := r.deliveryWorkflow(t, id); wf != workflows.BatchWorkflowID(group) {
			t.Fatalf("delivery of %s names workflow %s, want the group's", id, wf)
		}
	}
	for _, b := range grouped {
		if r.s.WorkflowExists(t, workflows.BatchWorkflowID(b)) {
			t.Fatal("the sweep started a second workflow for a grouped batch")
		}
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

// A group whose publisher started its workflow but could not record it
// dispatched (PostgreSQL went away between the two) is swept under its own
// name: the sweep finds that workflow, so every event is delivered — once.
func TestSweepHandsAGroupOverUnderItsOwnName(t *testing.T) {
	r := newDispatchRig(t)
	r.tc.down.Store(true)
	first := r.publish(t, "rg-0")
	r.publish(t, "rg-1")
	r.publish(t, "rg-2")
	time.Sleep(2 * time.Second) // the dispatcher gave up on all three
	// The publisher of rg-0 had in fact started its group's workflow.
	group := r.groupOf(t, first)
	if _, err := dispatch.StartBatch(context.Background(), r.s.Temporal, workflows.DeliverBatchInput{BatchID: group,
		BatchIDs: []string{first}, HasUnordered: true, Version: workflows.DeliverBatchVersion}, dispatch.SearchAttributeValues{}); err != nil {
		t.Fatal(err)
	}
	r.rc.WaitFor(t, 1, 30*time.Second)
	r.tc.down.Store(false)
	r.s.ExpireDispatchLeases(t)
	r.sweepDeliversEachOnce(t, 3)
}

// Batches stored each as a group of its own (as casetimer events are, and
// as publishers before named groups did), one of which its publisher had
// handed over under its own name before it failed, are regrouped by the
// sweep under a fresh name, never the name already started: every event is
// delivered — once.
func TestSweepNeverRegroupsUnderANameAlreadyStarted(t *testing.T) {
	r := newDispatchRig(t)
	var batches []string
	for _, id := range []string{"rg-0", "rg-1", "rg-2"} {
		ev := domain.Event{ID: id, Type: "case.created", OccurredAt: time.Now().UTC(), Data: []byte(`{}`)}
		stored, err := r.events.StoreBatch(context.Background(), []domain.Event{ev}, store.Plan{Deliveries: []store.PlannedDelivery{{
			ID: store.NewID(store.PrefixDelivery), WebhookID: r.webhookID, EventID: id}}})
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, stored.BatchID)
	}
	// The publisher of rg-0 had started its workflow.
	if _, err := dispatch.StartBatch(context.Background(), r.s.Temporal,
		workflows.DeliverBatchInput{BatchID: batches[0], HasUnordered: true}, dispatch.SearchAttributeValues{}); err != nil {
		t.Fatal(err)
	}
	r.rc.WaitFor(t, 1, 30*time.Second)
	r.s.ExpireDispatchLeases(t)
	r.sweepDeliversEachOnce(t, 3)
	if g := r.groupOf(t, batches[1]); g == batches[0] || g == batches[1] {
		t.Fatalf("the sweep regrouped under %s", g)
	}
}

// Under concurrent publishes, each delivery is stored carried by its
// group's workflow, which reads it without a claim: from insert to
// success, no delivery's carrier is ever written, and each is delivered
// once.
func TestDeliveriesAreStoredCarriedByTheirGroupsWorkflow(t *testing.T) {
	r := newDispatchRig(t)
	if _, err := r.s.DB.Exec(`CREATE TABLE carrier_writes (delivery_id text, old text, new text);
		CREATE FUNCTION log_carrier_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			INSERT INTO carrier_writes VALUES (NEW.id, OLD.workflow_id, NEW.workflow_id); RETURN NEW; END $$;
		CREATE TRIGGER carrier_writes AFTER UPDATE OF workflow_id ON deliveries
			FOR EACH ROW WHEN (OLD.workflow_id IS DISTINCT FROM NEW.workflow_id) EXECUTE FUNCTION log_carrier_write();`); err != nil {
		t.Fatal(err)
	}
	const n = 60
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.publish(t, fmt.Sprintf("carried-%d", i))
		}()
	}
	wg.Wait()
	r.rc.WaitFor(t, n, 30*time.Second)
	var rows []struct {
		ID      string `db:"id"`
		Carrier string `db:"workflow_id"`
		Group   string `db:"dispatch_group"`
	}
	testkit.Eventually(t, 30*time.Second, "every delivery is recorded succeeded", func() bool {
		rows = nil
		if err := r.s.DB.Select(&rows, `SELECT d.id, d.workflow_id, b.dispatch_group FROM deliveries d
			JOIN publish_batches b ON b.id = d.batch_id WHERE d.status = 'succeeded'`); err != nil {
			t.Fatal(err)
		}
		return len(rows) == n
	})
	for _, d := range rows {
		if d.Carrier != workflows.BatchWorkflowID(d.Group) {
			t.Fatalf("delivery %s carried by %s, want its group %s's workflow", d.ID, d.Carrier, d.Group)
		}
	}
	var writes []string
	if err := r.s.DB.Select(&writes, `SELECT delivery_id || ': ' || old || ' -> ' || new FROM carrier_writes`); err != nil {
		t.Fatal(err)
	}
	if len(writes) != 0 {
		t.Fatalf("%d carrier writes on the delivery path, e.g. %s", len(writes), writes[0])
	}
	time.Sleep(500 * time.Millisecond)
	if c := r.rc.Count(); c != n {
		t.Fatalf("receiver got %d requests, want %d", c, n)
	}
}
