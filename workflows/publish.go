package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// Publisher makes published events durable and hands them to Temporal.
//
// Publishing is a group commit: concurrent publishes are coalesced into one
// batch, stored in one PostgreSQL transaction (events, deliveries, planned
// runs), and answered once it commits — the answer means durable. A
// dispatcher then hands committed batches to Temporal, coalescing the ones
// waiting into one group: one batch workflow for the group's unordered
// deliveries, one run workflow per trigger with runs, one wake per ordered
// webhook. The group is recorded before the hand-over, and should this
// process die before Temporal holds it, the dispatcher sweep of any worker
// hands the same group over under the same workflow ids.
//
// Temporal's cost is per workflow, not per event, so the groups, not the
// publishes, decide throughput: 64 single-event clients commit batches of
// up to 64 events, while the dispatcher starts one workflow for everything
// committed during the previous start.
type Publisher struct {
	Events   *store.Events
	Index    *store.Index
	Temporal client.Client
	Log      *slog.Logger
	// Window is how long the committer waits for more publishes to join a
	// batch once one is waiting (default 2ms).
	Window time.Duration
	// MaxBatch caps events per committed batch (default 1000).
	MaxBatch int
	// MaxGroup caps the work (deliveries and runs) the dispatcher puts in
	// one group (default 2000); a bigger batch is a group of its own.
	MaxGroup int
	// GroupWindow is how long the dispatcher, when its last group held more
	// than one batch (publishes are arriving faster than it hands over),
	// waits for more batches to join the next one (default 50ms). Under a
	// light load every batch goes over at once. Fewer, bigger groups cost
	// Temporal less: with 64 single-event clients (triggerflow bench
	// --scenarios plain,unordered, three runs each, alternating), 25 ms
	// delivered 0.084–0.096 of the plain client's rate and 50 ms 0.097–0.100,
	// with the same p99 latency (160–220 ms).
	GroupWindow time.Duration
	// Committers is how many batches may be committing at once (default 4).
	// Commits no longer wait for Temporal, so several committers keep
	// PostgreSQL busy while the dispatcher groups their batches: measured
	// with 64 single-event clients (triggerflow bench --scenarios unordered),
	// 1 committer delivered 1,720/s, 4 delivered 2,410/s, 8 delivered 2,070/s.
	Committers int

	once     sync.Once
	queue    chan *publishRequest
	dispatch chan dispatchItem
}

type publishRequest struct {
	ctx    context.Context
	events []domain.Event
	done   chan error
}

// dispatchItem is a committed batch waiting for the dispatcher.
type dispatchItem struct {
	batch  store.StoredBatch
	events []domain.Event
}

// work is how much the batch adds to a group.
func (d dispatchItem) work() int { return len(d.batch.Plan.Deliveries) + len(d.batch.Plan.Runs) }

func (p *Publisher) init() {
	p.once.Do(func() {
		if p.Window <= 0 {
			p.Window = 2 * time.Millisecond
		}
		if p.MaxBatch <= 0 {
			p.MaxBatch = 1000
		}
		if p.MaxGroup <= 0 {
			p.MaxGroup = 2000
		}
		if p.GroupWindow <= 0 {
			p.GroupWindow = 50 * time.Millisecond
		}
		if p.Committers <= 0 {
			p.Committers = 4
		}
		if p.Log == nil {
			p.Log = slog.Default()
		}
		p.queue = make(chan *publishRequest, 4096)
		// Bounded: when Temporal falls behind, committers wait here, and
		// publishers wait for their answer.
		p.dispatch = make(chan dispatchItem, 256)
	})
}

// Run commits and dispatches batches until ctx ends. Start it once, before
// Publish. Batches committed but not yet dispatched when it stops are left
// to the dispatcher sweep.
func (p *Publisher) Run(ctx context.Context) {
	p.init()
	var wg sync.WaitGroup
	for i := 0; i < p.Committers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.commitLoop(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.dispatchLoop(ctx)
	}()
	wg.Wait()
}

// Publish makes events durable; Temporal gets them right after. Events
// whose id was already accepted are accepted again without a second
// delivery or run.
func (p *Publisher) Publish(ctx context.Context, events []domain.Event) error {
	p.init()
	req := &publishRequest{ctx: ctx, events: events, done: make(chan error, 1)}
	select {
	case p.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The batch may still commit; the caller's retry is idempotent.
		return ctx.Err()
	}
}

func (p *Publisher) commitLoop(ctx context.Context) {
	for {
		var first *publishRequest
		select {
		case <-ctx.Done():
			return
		case first = <-p.queue:
		}
		batch := []*publishRequest{first}
		n := len(first.events)
		timer := time.NewTimer(p.Window)
	collect:
		for n < p.MaxBatch {
			select {
			case r := <-p.queue:
				batch = append(batch, r)
				n += len(r.events)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		item, err := p.commit(ctx, batch)
		for _, r := range batch {
			r.done <- err
		}
		if err == nil {
			select {
			case p.dispatch <- item:
			case <-ctx.Done():
				return // committed: the sweep hands it over
			}
		}
	}
}

// commit stores one batch made of several requests.
func (p *Publisher) commit(ctx context.Context, reqs []*publishRequest) (dispatchItem, error) {
	var events []domain.Event
	for _, r := range reqs {
		if r.ctx.Err() == nil {
			events = append(events, r.events...)
		}
	}
	if len(events) == 0 {
		return dispatchItem{}, context.Canceled
	}
	// Matching happens before the transaction (it may load definitions);
	// only new events get deliveries, decided inside it.
	matches, err := p.Index.Match(ctx, events)
	if err != nil {
		return dispatchItem{}, fmt.Errorf("match events: %w", err)
	}
	stored, err := p.Events.StoreBatch(ctx, events, func(fresh []domain.Event) store.Plan {
		return plan(fresh, matches)
	})
	if err != nil {
		return dispatchItem{}, err
	}
	return dispatchItem{batch: stored, events: stored.NewEvents}, nil
}

// dispatchLoop hands committed batches to Temporal, coalescing the batches
// waiting into one group.
func (p *Publisher) dispatchLoop(ctx context.Context) {
	busy := false // the last group held more than one batch
	for {
		var first dispatchItem
		select {
		case <-ctx.Done():
			return
		case first = <-p.dispatch:
		}
		items := []dispatchItem{first}
		work := first.work()
		var window <-chan time.Time
		if busy {
			window = time.After(p.GroupWindow)
		}
	collect:
		for work < p.MaxGroup {
			select {
			case it := <-p.dispatch:
				items = append(items, it)
				work += it.work()
				continue
			default:
			}
			if window == nil {
				break collect
			}
			select {
			case it := <-p.dispatch:
				items = append(items, it)
				work += it.work()
			case <-window:
				break collect
			}
		}
		busy = len(items) > 1
		p.dispatchGroup(ctx, items)
	}
}

// dispatchGroup hands one group over, retrying briefly; what still fails is
// left, recorded, to the dispatcher sweep.
func (p *Publisher) dispatchGroup(ctx context.Context, items []dispatchItem) {
	g := Group{ID: items[0].batch.BatchID}
	for _, it := range items {
		g.BatchIDs = append(g.BatchIDs, it.batch.BatchID)
		g.Events = append(g.Events, it.events...)
		g.Plan.Deliveries = append(g.Plan.Deliveries, it.batch.Plan.Deliveries...)
		g.Plan.Runs = append(g.Plan.Runs, it.batch.Plan.Runs...)
	}
	g.Targets = targetsOf(g.Plan)
	if len(g.BatchIDs) > 1 {
		if err := p.Events.AssignGroup(ctx, g.ID, g.BatchIDs); err != nil {
			p.Log.Warn("batches stored but not grouped; the dispatcher sweep will hand them over", "batches", g.BatchIDs, "error", err)
			return
		}
	}
	var err error
	for attempt := range 3 {
		if err = Dispatch(ctx, p.Temporal, p.Events, g); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(200<<attempt) * time.Millisecond)
	}
	if err != nil {
		p.Log.Warn("batches stored but not dispatched; the dispatcher sweep will finish them", "group", g.ID, "batches", len(g.BatchIDs), "error", err)
	}
}

// plan turns matches into delivery and run rows.
func plan(events []domain.Event, matches map[string]store.Matches) store.Plan {
	var pl store.Plan
	for _, ev := range events {
		m := matches[ev.ID]
		for _, w := range m.Webhooks {
			pl.Deliveries = append(pl.Deliveries, store.PlannedDelivery{
				ID: store.NewID(store.PrefixDelivery), WebhookID: w.ID, EventID: ev.ID,
				WebhookCode: w.Code, Ordered: w.Ordered,
			})
		}
		for _, r := range m.Runs {
			wf := TriggerRunWorkflowID(r.TriggerID, ev.ID)
			if r.QueueHookID != "" {
				wf = QueueHookRunWorkflowID(r.QueueHookID, ev.ID)
			}
			pl.Runs = append(pl.Runs, store.PlannedRun{
				ID: store.NewID(store.PrefixRun), TriggerID: r.TriggerID, QueueHookID: r.QueueHookID,
				QueueID: r.QueueID, EventID: ev.ID, FlowID: r.FlowID, WorkflowID: wf,
			})
		}
	}
	return pl
}

// targetsOf derives a group's dispatch targets from its plan, sparing the
// database round trips the sweeper needs.
func targetsOf(pl store.Plan) store.BatchTargets {
	var t store.BatchTargets
	seen := map[string]bool{}
	for _, d := range pl.Deliveries {
		if !d.Ordered {
			t.HasUnordered = true
			continue
		}
		if !seen[d.WebhookID] {
			seen[d.WebhookID] = true
			t.OrderedWebhooks = append(t.OrderedWebhooks, store.WebhookRef{ID: d.WebhookID, Code: d.WebhookCode})
		}
	}
	groups := map[store.RunGroup]bool{}
	for _, r := range pl.Runs {
		g := store.RunGroup{TriggerID: r.TriggerID}
		if r.QueueHookID != "" {
			g = store.RunGroup{QueueHookID: r.QueueHookID, QueueID: r.QueueID}
		}
		if !groups[g] {
			groups[g] = true
			t.RunGroups = append(t.RunGroups, g)
		}
	}
	return t
}

// Group is committed batches handed to Temporal together, named by its
// first batch.
type Group struct {
	ID       string
	BatchIDs []string
	Targets  store.BatchTargets
	// Events and Plan, when known (not in a sweep), give the workflows
	// their search attributes.
	Events []domain.Event
	Plan   store.Plan
}

// Dispatch hands a group to Temporal — the batch workflow for its unordered
// deliveries, a run workflow per trigger or queue hook with runs, a wake
// signal to each ordered webhook's queue — and records its batches
// dispatched. It is idempotent (workflow ids are deterministic), so the
// sweeper may repeat it.
func Dispatch(ctx context.Context, c client.Client, events *store.Events, g Group) error {
	var errs []error
	if g.Targets.HasUnordered {
		in := DeliverBatchInput{BatchID: g.ID, HasUnordered: true}
		if len(g.BatchIDs) > 1 {
			in.BatchIDs = g.BatchIDs
		}
		if _, err := StartBatch(ctx, c, in, sharedAttributes(g.Events)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, rg := range g.Targets.RunGroups {
		in := RunBatchInput{BatchIDs: g.BatchIDs, TriggerID: rg.TriggerID, QueueHookID: rg.QueueHookID, QueueID: rg.QueueID}
		if err := StartRunBatch(ctx, c, g.ID, in, sharedAttributes(g.runEvents(rg))); err != nil {
			errs = append(errs, err)
		}
	}
	for _, w := range g.Targets.OrderedWebhooks {
		if _, err := WakeWebhookQueue(ctx, c, w.ID, w.Code); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return events.MarkDispatched(ctx, g.BatchIDs...)
}

// runEvents are the events of a run group's runs (nil when not known).
func (g Group) runEvents(rg store.RunGroup) []domain.Event {
	if len(g.Events) == 0 {
		return nil
	}
	ids := map[string]bool{}
	for _, r := range g.Plan.Runs {
		if r.TriggerID == rg.TriggerID && r.QueueHookID == rg.QueueHookID {
			ids[r.EventID] = true
		}
	}
	var out []domain.Event
	for _, e := range g.Events {
		if ids[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// sharedAttributes are the event attributes a workflow for events can carry:
// the id when there is one event, the type when all share it.
func sharedAttributes(events []domain.Event) SearchAttributeValues {
	var sa SearchAttributeValues
	if len(events) == 0 {
		return sa
	}
	if len(events) == 1 {
		sa.EventID = events[0].ID
	}
	sa.EventType = events[0].Type
	for _, e := range events[1:] {
		if e.Type != sa.EventType {
			sa.EventType = ""
			break
		}
	}
	return sa
}

// SweepUndispatched dispatches batches whose publisher stored them but died
// (or lost Temporal) before handing them over, as the groups they were
// assigned to. Safe to run in many processes.
func SweepUndispatched(ctx context.Context, c client.Client, events *store.Events, olderThan time.Duration, log *slog.Logger) (int, error) {
	ids, err := events.StaleBatches(ctx, time.Now().Add(-olderThan), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	done := map[string]bool{}
	for _, id := range ids {
		if done[id] {
			continue
		}
		var g Group
		g.ID, g.BatchIDs, err = events.GroupOf(ctx, id)
		if err == nil {
			g.Targets, err = events.BatchTargets(ctx, g.BatchIDs)
		}
		if err == nil {
			err = Dispatch(ctx, c, events, g)
		}
		if err != nil {
			log.Warn("sweep: batch still not dispatched", "batch", id, "error", err)
			continue
		}
		for _, b := range g.BatchIDs {
			done[b] = true
		}
		n += len(g.BatchIDs)
	}
	return n, nil
}
