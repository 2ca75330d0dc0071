package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/triggerflow/triggerflow/matching"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/tracing"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// Publisher makes published events durable and hands them to Temporal.
//
// Publishing is a group commit: concurrent publishes are coalesced into one
// batch, stored in one PostgreSQL transaction (events, deliveries, planned
// runs), and answered once it commits — the answer means durable. Batches
// are stored into the dispatch group forming at the time, named before its
// first batch commits, so its unordered deliveries are stored carried by
// the group's workflow (which reads them without claiming each). A
// dispatcher hands each group to Temporal once no commit into it is in
// flight: one batch workflow for the group's unordered deliveries, one run
// workflow per trigger with runs, one wake per ordered webhook. Should this
// process die before Temporal holds a group, the dispatcher sweep of any
// worker hands the same group over under the same workflow ids.
//
// Temporal's cost is per workflow, not per event, so the groups, not the
// publishes, decide throughput: 64 single-event clients commit batches of
// up to 64 events, while the dispatcher starts one workflow for everything
// committed during the previous start.
type Publisher struct {
	Events   *store.Events
	Index    *matching.Index
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
	// lets the next group take batches after its first (default 50ms). Under a
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
	// MaxUndispatched bounds the batches committed but not yet handed to
	// Temporal (TRIGGERFLOW_MAX_UNDISPATCHED_BATCHES, default 10,000): past
	// it, Publish refuses with a BacklogError (503 with Retry-After) rather
	// than let a Temporal outage grow the backlog without end. 0 means the
	// default; a negative value turns the bound off.
	MaxUndispatched int
	// Separate hands each first try over as its own workflow (see
	// Group.Separate; TRIGGERFLOW_DELIVERY_GROUPING=off).
	Separate bool
	// DispatchTimeout bounds one hand-over of a group to Temporal
	// (default 5s): an unreachable Temporal costs the dispatcher this long,
	// then the group waits for the sweep.
	DispatchTimeout time.Duration

	once    sync.Once
	queue   chan *publishRequest
	forming *forming
	// undispatched is the last count of batches waiting for Temporal,
	// refreshed every second while Run runs.
	undispatched atomic.Int64
	// breaker keeps the dispatcher from waiting on a Temporal that is down.
	breaker dispatchBreaker
}

// BacklogError is Publish's refusal while too many committed batches wait
// for Temporal; it matches domain.ErrUnavailable.
type BacklogError struct {
	Waiting    int
	RetryAfter time.Duration
}

func (e *BacklogError) Error() string {
	return fmt.Sprintf("%d published batches are waiting for Temporal (the bound is reached); publish again in %s",
		e.Waiting, e.RetryAfter)
}

// Is makes a BacklogError match domain.ErrUnavailable.
func (e *BacklogError) Is(target error) bool { return target == domain.ErrUnavailable }

// dispatchBreaker opens after a failed hand-over: for a cool-down the
// dispatcher leaves groups to the sweep instead of waiting on Temporal
// again, then tries one group to see whether Temporal is back.
type dispatchBreaker struct {
	mu        sync.Mutex
	openUntil time.Time
	cooldown  time.Duration
}

func (b *dispatchBreaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !now.Before(b.openUntil)
}

func (b *dispatchBreaker) record(now time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.cooldown, b.openUntil = 0, time.Time{}
		return
	}
	b.cooldown = min(max(2*b.cooldown, time.Second), 30*time.Second)
	b.openUntil = now.Add(b.cooldown)
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
	// spans are the publish requests' spans (when traced): the group's
	// hand-over continues their traces.
	spans []trace.SpanContext
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
		if p.MaxUndispatched == 0 {
			p.MaxUndispatched = 10000
		}
		if p.DispatchTimeout <= 0 {
			p.DispatchTimeout = 5 * time.Second
		}
		if p.Log == nil {
			p.Log = slog.Default()
		}
		p.queue = make(chan *publishRequest, 4096)
		// Bounded: when Temporal falls behind, the groups waiting past
		// maxWaitingGroups are left to the sweep, and publishing goes on.
		p.forming = newForming(p.MaxGroup, maxWaitingGroups, func(g *formingGroup) {
			p.Log.Debug("dispatcher busy; the sweep will hand the group over", "group", g.id)
		})
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
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.dispatchLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		p.watchBacklog(ctx)
	}()
	wg.Wait()
}

// watchBacklog keeps the count of undispatched batches fresh for Publish's
// bound: one cheap count a second (a partial index holds exactly them).
func (p *Publisher) watchBacklog(ctx context.Context) {
	if p.MaxUndispatched < 0 {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if n, err := p.Events.CountUndispatched(ctx); err == nil {
			p.undispatched.Store(int64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Publish makes events durable; Temporal gets them right after. Events
// whose id was already accepted are accepted again without a second
// delivery or run.
func (p *Publisher) Publish(ctx context.Context, events []domain.Event) error {
	p.init()
	if n := p.undispatched.Load(); p.MaxUndispatched > 0 && n >= int64(p.MaxUndispatched) {
		return &BacklogError{Waiting: int(n), RetryAfter: 5 * time.Second}
	}
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
		// The batch joins the forming group as it is stored; the group is
		// handed over once no commit into it is in flight.
		g := p.forming.join()
		item, err := p.commit(ctx, batch, g)
		p.forming.leave(g, item, err == nil)
		for _, r := range batch {
			r.done <- err
		}
	}
}

// commit stores one batch made of several requests into group g.
func (p *Publisher) commit(ctx context.Context, reqs []*publishRequest, g *formingGroup) (dispatchItem, error) {
	var events []domain.Event
	var spans []trace.SpanContext
	for _, r := range reqs {
		if r.ctx.Err() == nil {
			events = append(events, r.events...)
			if sc := trace.SpanContextFromContext(r.ctx); sc.IsValid() {
				spans = append(spans, sc)
			}
		}
	}
	if len(events) == 0 {
		return dispatchItem{}, context.Canceled
	}
	// Matching and planning happen before the transaction (matching may
	// load definitions); the store keeps the rows of the events new to it.
	matches, err := p.Index.Match(ctx, events)
	if err != nil {
		return dispatchItem{}, fmt.Errorf("match events: %w", err)
	}
	in := store.Joining{Group: g.id, Carrier: workflows.BatchWorkflowID(g.id)}
	if p.Separate {
		in.Carrier = "" // each first try claims its delivery for a workflow of its own
	}
	stored, err := p.Events.StoreBatchIn(ctx, events, plan(events, matches), in)
	if err != nil {
		return dispatchItem{}, err
	}
	return dispatchItem{batch: stored, events: stored.NewEvents, spans: spans}, nil
}

// maxWaitingGroups bounds the full groups waiting for the dispatcher.
const maxWaitingGroups = 16

// dispatchLoop hands the forming groups to Temporal, one after the other.
// While publishes arrive faster than groups go over (the last group held
// more than one batch), it lets a group fill for GroupWindow.
func (p *Publisher) dispatchLoop(ctx context.Context) {
	busy := false
	for {
		g := p.forming.next(ctx, busy, p.GroupWindow)
		if g == nil {
			return
		}
		// The commits still in flight into it end within moments; one that
		// does not leaves the group to the sweep, which hands it over whole.
		select {
		case <-g.settled:
		case <-time.After(p.DispatchTimeout):
			p.Log.Warn("a commit into the group is still running; the dispatcher sweep will hand the group over", "group", g.id)
			continue
		case <-ctx.Done():
			return
		}
		busy = len(g.items) > 1
		if len(g.items) > 0 {
			p.dispatchGroup(ctx, g.id, g.items)
		}
	}
}

// dispatchGroup hands one group over, retrying briefly; what still fails is
// left, recorded, to the dispatcher sweep. While Temporal is failing, the
// breaker leaves groups to the sweep at once.
func (p *Publisher) dispatchGroup(ctx context.Context, id string, items []dispatchItem) {
	g := Group{ID: id}
	for _, it := range items {
		g.BatchIDs = append(g.BatchIDs, it.batch.BatchID)
		g.Events = append(g.Events, it.events...)
		g.Plan.Deliveries = append(g.Plan.Deliveries, it.batch.Plan.Deliveries...)
		g.Plan.Runs = append(g.Plan.Runs, it.batch.Plan.Runs...)
	}
	g.Targets = targetsOf(g.Plan, g.Events)
	g.Separate = p.Separate
	if !p.breaker.allow(time.Now()) {
		return // committed, grouped and claimed: the sweep hands it over
	}
	ctx, span := startDispatchSpan(ctx, g, items)
	defer span.End()
	var err error
	for attempt := range 3 {
		dctx, cancel := context.WithTimeout(ctx, p.dispatchTimeout(g))
		err = Dispatch(dctx, p.Temporal, p.Events, g)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		if attempt < 2 {
			time.Sleep(time.Duration(200<<attempt) * time.Millisecond)
		}
	}
	p.breaker.record(time.Now(), err == nil)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		p.Log.Warn("batches stored but not dispatched; the dispatcher sweep will finish them", "group", g.ID, "batches", len(g.BatchIDs), "error", err)
	}
}

// dispatchTimeout bounds one hand-over of g: DispatchTimeout, and, when
// each first try is its own workflow (Separate), time for every start.
func (p *Publisher) dispatchTimeout(g Group) time.Duration {
	if !g.Separate {
		return p.DispatchTimeout
	}
	starts := len(g.Plan.Deliveries) + len(g.Plan.Runs)
	return p.DispatchTimeout + time.Duration(starts)*50*time.Millisecond/separateConcurrency
}

// maxSpanLinks bounds the publish requests a group's hand-over span links.
const maxSpanLinks = 128

// startDispatchSpan starts the span of a group's hand-over (a no-op unless
// tracing is configured): a child of the first traced publish request in
// the group, linked to the others, so a publish's trace goes on into the
// workflows (Temporal's tracing interceptor carries it) and to each HTTP
// attempt.
func startDispatchSpan(ctx context.Context, g Group, items []dispatchItem) (context.Context, trace.Span) {
	var links []trace.Link
	for _, it := range items {
		for _, sc := range it.spans {
			if len(links) < maxSpanLinks {
				links = append(links, trace.Link{SpanContext: sc})
			}
		}
	}
	if len(links) > 0 {
		ctx = trace.ContextWithRemoteSpanContext(ctx, links[0].SpanContext)
	}
	return tracing.Tracer("publish").Start(ctx, "dispatch group", trace.WithLinks(links...),
		trace.WithAttributes(attribute.String("triggerflow.group", g.ID), attribute.Int("triggerflow.batches", len(g.BatchIDs)),
			attribute.Int("triggerflow.deliveries", len(g.Plan.Deliveries)), attribute.Int("triggerflow.runs", len(g.Plan.Runs))))
}

// plan turns matches into delivery and run rows.
func plan(events []domain.Event, matches map[string]matching.Matches) store.Plan {
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
			wf := workflows.TriggerRunWorkflowID(r.TriggerID, ev.ID)
			if r.QueueHookID != "" {
				wf = workflows.QueueHookRunWorkflowID(r.QueueHookID, ev.ID)
			}
			pl.Runs = append(pl.Runs, store.PlannedRun{
				ID: store.NewID(store.PrefixRun), TriggerID: r.TriggerID, QueueHookID: r.QueueHookID,
				QueueID: r.QueueID, EventID: ev.ID, FlowID: r.FlowID, WorkflowID: wf,
			})
		}
	}
	return pl
}
