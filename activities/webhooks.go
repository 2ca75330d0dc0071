package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// Application error types workflows branch on.
const (
	// ErrTypePaused: the webhook is disabled; the delivery waits for enable.
	ErrTypePaused = "WebhookPaused"
	// ErrTypeGone: the delivery or its webhook no longer exists.
	ErrTypeGone = "DeliveryGone"
	// ErrTypePermanent: the receiver's answer (or the request) cannot succeed on retry.
	ErrTypePermanent = "PermanentFailure"
	// ErrTypeAttemptFailed: a retryable failure (5xx, 408, 429, timeout, connection).
	ErrTypeAttemptFailed = "AttemptFailed"
)

// DeliveryStarter starts the workflow that retries one delivery; the
// workflows package provides it (the consumer owns the interface).
type DeliveryStarter interface {
	StartDeliveryRetry(ctx context.Context, c client.Client, item RetryItem) (workflowID, runID string, err error)
	// DeliveryWorkflowID is the id of a delivery's own workflow.
	DeliveryWorkflowID(deliveryID string) string
	// WakeBacklog signals a webhook's backlog workflow to look at its
	// backlog, starting it when it is not running.
	WakeBacklog(ctx context.Context, c client.Client, webhookID, code string) error
	// BacklogWorkflowID is the id of a webhook's backlog workflow.
	BacklogWorkflowID(webhookID, code string) string
}

// Webhooks holds the webhook delivery activities and their dependencies.
type Webhooks struct {
	Deliveries *store.Deliveries
	Webhooks   *store.Webhooks
	HTTP       *http.Client
	Temporal   client.Client
	Starter    DeliveryStarter
	// Concurrency bounds the parallel requests to one webhook within a
	// group (default 16). Each webhook has its own lane: a slow receiver
	// fills only its own.
	Concurrency int
	// Budget is how long one DeliverBatch or DeliverOrdered call starts new
	// requests (default 60s); deliveries not started by then are left for
	// the next call, so a call lasts at most Budget plus the longest webhook
	// timeout, whatever the group's size.
	Budget time.Duration
	// MaxPerWebhook bounds the requests in flight to one webhook from this
	// process, across all groups (default 64): a slow receiver holds at
	// most that many connections (and activity slots), and its lanes in
	// other groups hand their deliveries to its backlog workflow rather
	// than wait (DeliverBatch).
	MaxPerWebhook int
	// Observer, when set, is told of every attempt and every delivery that
	// ends (metrics; internal/deliverymetrics implements it).
	Observer DeliveryObserver
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time

	slots sync.Map // webhook id → chan struct{} (MaxPerWebhook tokens)
	woke  sync.Map // webhook id → wake: its backlog workflow's last wake from this process
	// lastTook: webhook id → *atomic.Int64, how long the webhook's last
	// try from this process took (see answersSlowly).
	lastTook sync.Map
}

// wake is when this process last woke a webhook's backlog workflow.
type wake struct {
	at   time.Time
	code string // the webhook's code (the workflow's id names it)
}

// DeliveryObserver is told what the delivery path does, by webhook code.
type DeliveryObserver interface {
	// Attempted: one HTTP try ended with result (AttemptSuccess, …) after took.
	Attempted(webhook, result string, took time.Duration)
	// FirstAttempt: a delivery's first try, sincePublish after its event
	// was accepted.
	FirstAttempt(webhook string, sincePublish time.Duration)
	// Delivered: a delivery ended (succeeded, failed, canceled).
	Delivered(webhook, result string)
}

// Results an attempt is observed with.
const (
	AttemptSuccess = "success"       // an answer in the success range
	AttemptFailure = "failure"       // another answer
	AttemptError   = "error"         // no answer: a timeout, a refused or broken connection
	AttemptDenied  = "egress_denied" // the destination is not allowed
)

// observe reports an attempt and, when it settled the delivery, its end.
func (a *Webhooks) observe(w *domain.Webhook, d *store.Delivery, n int, res sendResult, out store.Outcome, now time.Time) {
	if a.Observer == nil {
		return
	}
	result := AttemptFailure
	switch {
	case res.Success():
		result = AttemptSuccess
	case res.Status == 0 && res.EgressDenied:
		result = AttemptDenied
	case res.Status == 0:
		result = AttemptError
	}
	a.Observer.Attempted(w.Code, result, res.Duration)
	if n == 1 && !d.CreatedAt.IsZero() {
		a.Observer.FirstAttempt(w.Code, now.Sub(d.CreatedAt))
	}
	if out.Status != domain.DeliveryPending {
		a.Observer.Delivered(w.Code, out.Status)
	}
}

// slotsOf is the webhook's process-wide request tokens.
func (a *Webhooks) slotsOf(webhookID string) chan struct{} {
	if ch, ok := a.slots.Load(webhookID); ok {
		return ch.(chan struct{})
	}
	ch, _ := a.slots.LoadOrStore(webhookID, make(chan struct{}, a.maxPerWebhook()))
	return ch.(chan struct{})
}

func (a *Webhooks) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// RetryItem is a delivery handed to its own workflow after its first try.
type RetryItem struct {
	DeliveryID  string
	WebhookID   string
	WebhookCode string
	EventID     string
	EventType   string
	// TriggerID names the trigger whose webhook action made the delivery
	// ('' for a subscription's), for its workflow's TriggerFlowTrigger.
	TriggerID string `json:",omitempty"`
	// FirstDelay is how long to wait before the next try (the policy's
	// interval or the receiver's Retry-After); 0 when paused.
	FirstDelay time.Duration
	// Carrier is the workflow that carried the delivery until now ('' for
	// none): the hand-over happens only if it still does.
	Carrier string `json:",omitempty"`
}

// DeliverBatchInput names the publish batches delivered together: BatchIDs,
// or BatchID alone (batches handed over before grouping existed).
type DeliverBatchInput struct {
	BatchID  string
	BatchIDs []string `json:",omitempty"`
}

// batches lists the input's batch ids.
func (in DeliverBatchInput) batches() []string {
	if len(in.BatchIDs) > 0 {
		return in.BatchIDs
	}
	return []string{in.BatchID}
}

// DeliverBatchResult counts what the batch's first tries did.
type DeliverBatchResult struct {
	Succeeded int
	Failed    int
	// HandedOff deliveries continue in their own delivery- workflows
	// (retries, or deliveries whose try could not be recorded).
	HandedOff int
	// Parked deliveries wait, with no workflow, for their disabled webhook.
	Parked int
	// Left deliveries were not started within the call's budget; the
	// workflow calls again for them.
	Left int
	// Backlogged deliveries were handed to their webhook's backlog
	// workflow: the webhook had no request to spare (DeliverBatch).
	Backlogged int `json:",omitempty"`
	// Sent counts the requests this call made.
	Sent int `json:",omitempty"`
}

// DeliverBatchProgress is the heartbeat detail of DeliverBatch.
type DeliverBatchProgress struct {
	Total    int
	Sent     int
	Recorded int
}

// DeliverBatch makes the first try of every delivery a group of publish
// batches has for unordered webhooks. Each delivery's fate is its own:
//   - the group's deliveries are claimed for this workflow first, so no
//     other workflow can carry them — except those of a webhook whose
//     backlog workflow is at work and whose requests are all in use, which
//     the same statement hands to that backlog (see below);
//   - each webhook has its own lane of concurrent requests, so a slow
//     receiver delays only its own deliveries;
//   - each attempt is recorded as soon as it completes (in small groups),
//     whatever bytes the receiver answered, and a delivery to retry is handed
//     to its own workflow right after;
//   - a lane whose webhook has no request to spare (a receiver at its limit:
//     every token held by other groups' requests) hands its deliveries to
//     the webhook's backlog workflow, which sends them as requests free up,
//     so the group does not wait (nor call again and again) behind it;
//   - requests start only within the call's budget; the rest are left for
//     the next call (Result.Left), so a call never outlives its budget plus
//     one webhook timeout.
//
// A retried call (crash, timeout) sends only what was never recorded.
func (a *Webhooks) DeliverBatch(ctx context.Context, in DeliverBatchInput) (DeliverBatchResult, error) {
	carrier := activity.GetInfo(ctx).WorkflowExecution.ID
	busy := a.busyBacklogs()
	pending, handed, err := a.Deliveries.ClaimInBatches(ctx, in.batches(), carrier, a.backlogCarriers(busy))
	if err != nil {
		return DeliverBatchResult{}, err
	}
	hooks, err := a.loadWebhooks(ctx, pending)
	if err != nil {
		return DeliverBatchResult{}, err
	}
	s := a.newSending(ctx, carrier, len(pending))
	s.res.Backlogged = handed
	lanes, err := s.sort(pending, hooks)
	if err != nil {
		_, cerr := s.close()
		return DeliverBatchResult{}, errors.Join(err, cerr)
	}
	var errs []error
	for _, l := range s.run(lanes, a.concurrency(), tokenWait, true) {
		if !l.starved {
			s.res.Left += len(l.queue)
			continue
		}
		n, err := a.toBacklog(ctx, l.webhook, l.queue, carrier)
		s.res.Backlogged += n
		s.res.Left += len(l.queue) - n
		errs = append(errs, err)
	}
	if handed > 0 {
		// The claim's hand-overs are seen by the backlogs' recent wakes;
		// waking them again keeps them looking for the next groups'.
		for id, w := range busy {
			errs = append(errs, a.wakeBacklog(ctx, id, w.code))
		}
	}
	res, err := s.close()
	return res, errors.Join(append(errs, err)...)
}

// DrainBacklogInput names the webhook whose backlog to send.
type DrainBacklogInput struct {
	WebhookID string
	// Max bounds the deliveries one call takes (default 1,000).
	Max int `json:",omitempty"`
}

// DrainBacklogResult counts what one DrainBacklog call did.
type DrainBacklogResult struct {
	DeliverBatchResult
	// Taken is how many backlog deliveries the call found: 0 means the
	// backlog is empty.
	Taken int
	// Gone: the webhook no longer exists (its deliveries went with it).
	Gone bool `json:",omitempty"`
}

// backlogBatch is how many deliveries one DrainBacklog call takes at most.
const backlogBatch = 1000

// DrainBacklog sends the first tries of the deliveries groups handed to a
// webhook's backlog (see DeliverBatch), oldest first, as the webhook's
// requests free up: all of this process's MaxPerWebhook requests for the
// webhook may serve it, and it waits for them within its budget. Attempts
// are recorded, retries handed to their own workflows and a disabled
// webhook's deliveries parked, as in DeliverBatch.
func (a *Webhooks) DrainBacklog(ctx context.Context, in DrainBacklogInput) (DrainBacklogResult, error) {
	carrier := activity.GetInfo(ctx).WorkflowExecution.ID
	w, err := a.Webhooks.Get(ctx, in.WebhookID)
	if errors.Is(err, domain.ErrNotFound) {
		return DrainBacklogResult{Gone: true}, nil
	}
	if err != nil {
		return DrainBacklogResult{}, err
	}
	limit := in.Max
	if limit <= 0 {
		limit = backlogBatch
	}
	pending, err := a.Deliveries.CarriedBy(ctx, w.ID, carrier, limit)
	if err != nil {
		return DrainBacklogResult{}, err
	}
	s := a.newSending(ctx, carrier, len(pending))
	lanes, err := s.sort(pending, map[string]*domain.Webhook{w.ID: w})
	if err != nil {
		_, cerr := s.close()
		return DrainBacklogResult{}, errors.Join(err, cerr)
	}
	for _, l := range s.run(lanes, a.maxPerWebhook(), a.budget(), false) {
		s.res.Left += len(l.queue)
	}
	res, err := s.close()
	return DrainBacklogResult{DeliverBatchResult: res, Taken: len(pending)}, err
}

// wakeEvery is how often at most this process wakes one webhook's backlog
// workflow: a receiver at its limit starves many groups' lanes each second,
// and one wake covers them all (the backlog workflow keeps looking for
// backlogActive after a wake).
const wakeEvery = time.Second

// toBacklog hands a starved lane's deliveries from workflow from to the
// webhook's backlog workflow, which it wakes first: a wake always comes
// after a hand-over is possible, and the backlog workflow keeps looking for
// a while after each wake, so nothing handed over waits unseen. It returns
// how many were handed over.
func (a *Webhooks) toBacklog(ctx context.Context, w *domain.Webhook, ds []*store.Delivery, from string) (int, error) {
	if err := a.wakeBacklog(ctx, w.ID, w.Code); err != nil {
		return 0, err
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return a.Deliveries.HandOverAll(ctx, ids, from, a.Starter.BacklogWorkflowID(w.ID, w.Code))
}

// wakeBacklog wakes a webhook's backlog workflow, unless this process did
// within wakeEvery.
func (a *Webhooks) wakeBacklog(ctx context.Context, webhookID, code string) error {
	now := a.now()
	if last, ok := a.woke.Load(webhookID); ok && now.Sub(last.(wake).at) < wakeEvery {
		return nil
	}
	if err := a.Starter.WakeBacklog(ctx, a.Temporal, webhookID, code); err != nil {
		return fmt.Errorf("wake the backlog of webhook %s: %w", code, err)
	}
	a.woke.Store(webhookID, wake{at: now, code: code})
	return nil
}

// busyBacklogs names, by webhook id, the backlog workflows a group's claim
// hands deliveries to (see ClaimInBatches): those of the webhooks whose
// backlog this process woke within claimForBacklog and whose requests are
// all in use now — a lane of theirs would only join the backlog (see
// acquire), after its deliveries were claimed for the group. No wake is
// needed first, which would hold the group's other deliveries up: a wake
// that recent keeps the backlog workflow looking for at least two more of
// its polls, and the group wakes it again once its requests are sent.
func (a *Webhooks) busyBacklogs() map[string]wake {
	var out map[string]wake
	a.woke.Range(func(k, v any) bool {
		id, last := k.(string), v.(wake)
		if age := a.now().Sub(last.at); age >= backlogRecent {
			a.woke.CompareAndDelete(k, v) // forget a quiet webhook (and a deleted one)
			return true
		} else if age >= claimForBacklog {
			return true
		}
		if slots := a.slotsOf(id); len(slots) < cap(slots) {
			return true
		}
		if out == nil {
			out = map[string]wake{}
		}
		out[id] = last
		return true
	})
	return out
}

// claimForBacklog is how recent a wake of a webhook's backlog must be for a
// group's claim to hand it the webhook's deliveries: the backlog workflow
// keeps looking for 30 s after a wake, every 5 s (workflows.backlogActive,
// backlogPoll), so two polls at least are left.
const claimForBacklog = 20 * time.Second

// backlogCarriers are the backlog workflows of busy (see busyBacklogs).
func (a *Webhooks) backlogCarriers(busy map[string]wake) map[string]string {
	out := make(map[string]string, len(busy))
	for id, w := range busy {
		out[id] = a.Starter.BacklogWorkflowID(id, w.code)
	}
	return out
}

// sending is one call's sending: a lane of requests per webhook, the
// recorder writing attempts as they complete, the hand-over of deliveries to
// retry, and the progress the call heartbeats.
type sending struct {
	a        *Webhooks
	ctx      context.Context
	carrier  string
	deadline time.Time
	scopes   *eventScopes // an event's webhooks share its decoded data
	rec      *recorder
	handOff  *handOff
	stopBeat func()

	mu       sync.Mutex
	res      DeliverBatchResult
	progress DeliverBatchProgress
}

func (a *Webhooks) newSending(ctx context.Context, carrier string, total int) *sending {
	s := &sending{a: a, ctx: ctx, carrier: carrier, deadline: a.now().Add(a.budget()), scopes: &eventScopes{},
		handOff: newHandOff(ctx, a, carrier), progress: DeliverBatchProgress{Total: total}}
	s.rec = newRecorder(ctx, a.Deliveries, func(r store.Record) {
		switch r.Outcome.Status {
		case domain.DeliverySucceeded:
			s.count(func() { s.res.Succeeded++ })
		case domain.DeliveryFailed:
			s.count(func() { s.res.Failed++ })
		case domain.DeliveryPending:
			s.handOff.add(retryItemFor(r, a.now()))
		}
	}, func(r store.Record, err error) {
		// Its try could not be recorded: its own workflow tries again.
		s.handOff.add(retryItemFor(store.Record{Outcome: store.Outcome{DeliveryID: r.Outcome.DeliveryID}}, a.now()))
	})
	s.stopBeat = heartbeatProgress(ctx, func() any {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.progress
		p.Recorded = s.rec.recorded()
		return p
	})
	return s
}

func (s *sending) count(f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
}

// lane is one webhook's deliveries in a call.
type lane struct {
	webhook *domain.Webhook
	queue   []*store.Delivery
}

// sort puts each delivery where it goes: one tried before (by an earlier
// call, and recorded) to its own workflow, a disabled webhook's parked, a
// deleted webhook's nowhere, the rest into their webhook's lane, in order.
func (s *sending) sort(pending []*store.Delivery, hooks map[string]*domain.Webhook) ([]*lane, error) {
	var lanes []*lane
	byHook := map[string]*lane{}
	for _, d := range pending {
		w := hooks[d.WebhookID]
		switch {
		case w == nil:
			continue // deleted meanwhile; its deliveries went with it
		case d.Attempts > 0:
			item := retryItemFor(store.Record{Outcome: store.Outcome{DeliveryID: d.ID}}, s.a.now())
			if d.NextAttemptAt != nil {
				item.FirstDelay = max(0, d.NextAttemptAt.Sub(s.a.now()))
			}
			s.handOff.add(item)
			continue
		case !w.Enabled:
			parked, err := s.a.Deliveries.Park(s.ctx, d.ID)
			if err != nil {
				return nil, err
			}
			if parked {
				s.res.Parked++
				continue
			}
			// Enabled again meanwhile: deliver it.
		}
		l := byHook[w.ID]
		if l == nil {
			l = &lane{webhook: w}
			byHook[w.ID] = l
			lanes = append(lanes, l)
		}
		l.queue = append(l.queue, d)
	}
	return lanes, nil
}

// leftLane is what a lane did not start: its deliveries, and whether it
// stopped because its webhook had no request to spare (starved) rather than
// because the budget ended.
type leftLane struct {
	lane
	starved bool
}

// run sends the lanes, each with up to workers requests at once and each
// request holding one of its webhook's process-wide tokens, and returns
// what each lane left. A worker waits up to patience for a token; a lane
// whose workers find none in time leaves the rest (starved), and so does,
// with joinBacklog, one whose webhook has no token free while its backlog
// workflow is at work (see acquire). Requests start only before the
// deadline, except each worker's first, so every call makes progress and
// lasts at most its budget plus the longest webhook timeout.
func (s *sending) run(lanes []*lane, workers int, patience time.Duration, joinBacklog bool) []leftLane {
	var wg sync.WaitGroup
	type state struct {
		mu      sync.Mutex
		next    int
		starved bool
	}
	states := make([]*state, len(lanes))
	for i, l := range lanes {
		st := &state{}
		states[i] = st
		take := func(first bool) *store.Delivery {
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.next >= len(l.queue) || (!first && !s.a.now().Before(s.deadline)) {
				return nil
			}
			st.next++
			return l.queue[st.next-1]
		}
		slots := s.a.slotsOf(l.webhook.ID)
		for range min(workers, len(l.queue)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for first := true; s.ctx.Err() == nil; first = false {
					if !first && joinBacklog && s.a.answersSlowly(l.webhook.ID) {
						// A slowly answering webhook's lane sends one round;
						// its backlog workflow sends the rest, so the group
						// does not stay open for as long as they all take.
						st.mu.Lock()
						st.starved = true
						st.mu.Unlock()
						return
					}
					if ok, starved := s.acquire(slots, l.webhook.ID, patience, joinBacklog); !ok {
						if starved {
							st.mu.Lock()
							st.starved = true
							st.mu.Unlock()
						}
						return
					}
					d := take(first)
					if d == nil {
						<-slots
						return
					}
					r := s.a.attempt(s.ctx, l.webhook, d, d.Attempts+1, s.scopes)
					<-slots
					if r.Attempt != nil {
						s.a.noteTook(l.webhook.ID, time.Duration(r.Attempt.DurationMS)*time.Millisecond)
					}
					r.Attempt.WorkflowID, r.Outcome.Carrier = s.carrier, s.carrier
					s.rec.add(r)
					s.count(func() { s.progress.Sent++ })
				}
			}()
		}
	}
	wg.Wait()
	var out []leftLane
	for i, l := range lanes {
		if st := states[i]; st.next < len(l.queue) {
			out = append(out, leftLane{lane: lane{webhook: l.webhook, queue: l.queue[st.next:]}, starved: st.starved})
		}
	}
	return out
}

// acquire takes one of a webhook's request tokens for a request, waiting
// up to patience (and never past the call's deadline). With joinBacklog, a
// webhook with no token free gets none at once when this process woke its
// backlog workflow in the last backlogRecent (its backlog is being sent
// oldest first, and the lane's deliveries join it rather than take the
// tokens it waits for) or when it answers slowly (a receiver at its
// limit: waiting for its requests would keep the group open for as long as
// they take, however few groups share them). starved says the lane found
// none before the deadline.
func (s *sending) acquire(slots chan struct{}, webhookID string, patience time.Duration, joinBacklog bool) (ok, starved bool) {
	select {
	case slots <- struct{}{}:
		return true, false
	default:
	}
	if joinBacklog && (s.a.backlogRecent(webhookID) || s.a.answersSlowly(webhookID)) {
		return false, true
	}
	wait, cancel := context.WithDeadline(s.ctx, minTime(s.deadline, s.a.now().Add(patience)))
	defer cancel()
	select {
	case slots <- struct{}{}:
		return true, false
	case <-wait.Done():
		return false, s.a.now().Before(s.deadline)
	}
}

// slowAnswer is how long a webhook's last try (from this process) takes
// for the webhook to answer slowly: a group's lane that then finds all its
// requests in use hands its deliveries to the backlog at once.
const slowAnswer = time.Second

func (a *Webhooks) noteTook(webhookID string, took time.Duration) {
	v, ok := a.lastTook.Load(webhookID)
	if !ok {
		v, _ = a.lastTook.LoadOrStore(webhookID, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(int64(took))
}

func (a *Webhooks) answersSlowly(webhookID string) bool {
	v, ok := a.lastTook.Load(webhookID)
	return ok && time.Duration(v.(*atomic.Int64).Load()) >= slowAnswer
}

// backlogRecent is how long after this process woke a webhook's backlog
// workflow its groups' lanes join the backlog without waiting for a token.
const backlogRecent = 30 * time.Second

func (a *Webhooks) backlogRecent(webhookID string) bool {
	last, ok := a.woke.Load(webhookID)
	return ok && a.now().Sub(last.(wake).at) < backlogRecent
}

// close waits for the records and hand-overs and returns the call's counts.
func (s *sending) close() (DeliverBatchResult, error) {
	defer s.stopBeat()
	s.res.Sent = s.progress.Sent
	if err := s.rec.close(); err != nil {
		s.handOff.close()
		return s.res, err
	}
	n, err := s.handOff.close()
	s.res.HandedOff = n
	if err != nil {
		return s.res, err
	}
	return s.res, s.ctx.Err()
}

func (a *Webhooks) maxPerWebhook() int {
	if a.MaxPerWebhook > 0 {
		return a.MaxPerWebhook
	}
	return 64
}

func (a *Webhooks) concurrency() int {
	if a.Concurrency > 0 {
		return a.Concurrency
	}
	return 16
}

// tokenWait is how long a group's lane waits for one of its webhook's
// request tokens before it hands its deliveries to the webhook's backlog.
const tokenWait = time.Second

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (a *Webhooks) budget() time.Duration {
	if a.Budget > 0 {
		return a.Budget
	}
	return 60 * time.Second
}

// retryItemFor is the hand-over of a delivery whose try was just recorded.
func retryItemFor(r store.Record, now time.Time) RetryItem {
	item := RetryItem{DeliveryID: r.Outcome.DeliveryID}
	if r.Outcome.NextAttemptAt != nil {
		item.FirstDelay = max(0, r.Outcome.NextAttemptAt.Sub(now))
	}
	return item
}

// handOff starts the own workflows of deliveries to retry, a few at a time,
// as they come. A start that fails makes the activity fail at the end (it
// is retried, and hands over what is left: nothing is resent).
type handOff struct {
	ctx     context.Context
	a       *Webhooks
	carrier string
	items   chan RetryItem
	wg      sync.WaitGroup
	mu      sync.Mutex
	n       int
	err     error
}

func newHandOff(ctx context.Context, a *Webhooks, carrier string) *handOff {
	h := &handOff{ctx: ctx, a: a, carrier: carrier, items: make(chan RetryItem, 256)}
	for range 8 {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for item := range h.items {
				err := h.start(item)
				h.mu.Lock()
				if err != nil && h.err == nil {
					h.err = err
				} else if err == nil {
					h.n++
				}
				h.mu.Unlock()
			}
		}()
	}
	return h
}

func (h *handOff) add(item RetryItem) { h.items <- item }

func (h *handOff) start(item RetryItem) error {
	if h.ctx.Err() != nil {
		return h.ctx.Err()
	}
	d, err := h.a.Deliveries.Get(h.ctx, item.DeliveryID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.Status != domain.DeliveryPending || (d.WorkflowID != "" && d.WorkflowID != h.carrier) {
		return nil // finished, or carried elsewhere already
	}
	item.WebhookID, item.WebhookCode, item.EventID, item.EventType = d.WebhookID, d.WebhookCode, d.EventID, d.EventType
	item.Carrier = h.carrier
	// The delivery changes hands in the database first, so its workflow
	// finds itself the carrier from its first step; if the start fails it
	// is given back, and the retried activity hands it over again.
	wfID := h.a.Starter.DeliveryWorkflowID(item.DeliveryID)
	moved, err := h.a.Deliveries.HandOver(h.ctx, item.DeliveryID, h.carrier, wfID)
	if err != nil || !moved {
		return err
	}
	if _, _, err := h.a.Starter.StartDeliveryRetry(h.ctx, h.a.Temporal, item); err != nil {
		if _, gerr := h.a.Deliveries.HandOver(context.WithoutCancel(h.ctx), item.DeliveryID, wfID, h.carrier); gerr != nil {
			err = errors.Join(err, gerr)
		}
		return fmt.Errorf("hand delivery %s to its workflow: %w", item.DeliveryID, err)
	}
	return nil
}

// close waits for every hand-over and returns how many were made.
func (h *handOff) close() (int, error) {
	close(h.items)
	h.wg.Wait()
	return h.n, h.err
}

// loadWebhooks fetches the deliveries' webhooks in one query; a deleted
// one is missing from the map.
func (a *Webhooks) loadWebhooks(ctx context.Context, ds []*store.Delivery) (map[string]*domain.Webhook, error) {
	seen := map[string]bool{}
	var ids []string
	for _, d := range ds {
		if !seen[d.WebhookID] {
			seen[d.WebhookID] = true
			ids = append(ids, d.WebhookID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return a.Webhooks.GetMany(ctx, ids)
}

// attempt makes try number n of delivery d and says what follows: the
// attempt and the state it leads to — with, when it should be retried, the
// time of the next try (the policy's interval, or the receiver's
// Retry-After bounded by MaxRetryAfter and the retry window).
func (a *Webhooks) attempt(ctx context.Context, w *domain.Webhook, d *store.Delivery, n int, scopes *eventScopes) store.Record {
	now := a.now()
	out := store.Outcome{DeliveryID: d.ID}
	req, err := requestOf(w, d, scopes)
	if err != nil {
		att := store.NewAttempt(d.ID, w.Method, w.URL, nil, "", 0, nil, "", false, 0, err.Error(), now, false)
		out.Status, out.LastError = domain.DeliveryFailed, err.Error()
		return store.Record{Attempt: &att, Outcome: out}
	}
	secrets := []string{w.Secret}
	if w.PreviousSecret != "" && w.PreviousSecretUntil != nil && now.Before(*w.PreviousSecretUntil) {
		secrets = append(secrets, w.PreviousSecret)
	}
	policy, timeout := policyOf(w, d)
	res, sentHeaders := send(ctx, a.HTTP, req, d.ID, timeout, now, secrets...)
	res = res.judgedBy(w)
	att := store.NewAttempt(d.ID, req.Method, req.URL, maskHeaders(sentHeaders), string(req.Body),
		res.Status, res.ResponseHeaders, res.ResponseBody, res.Truncated, res.Duration, res.Err, now, res.Success())
	rec := store.Record{Attempt: &att, Outcome: out}
	rec.Outcome.LastCode, rec.Outcome.LastError = res.Status, res.Err
	defer func() { a.observe(w, d, n, res, rec.Outcome, now) }()
	try := n - d.WindowAttempts // tries in this retry window
	switch {
	case res.Success():
		rec.Outcome.Status = domain.DeliverySucceeded
		return rec
	case res.Permanent && (!policy.RetryAll || res.Status == 0):
		// retry_all retries answers; a request that cannot be sent (a
		// refused destination) never succeeds on retry.
		rec.Outcome.Status = domain.DeliveryFailed
		return rec
	case policy.MaxAttempts > 0 && try >= policy.MaxAttempts:
		rec.Outcome.Status = domain.DeliveryFailed
		return rec
	}
	delay := policy.Interval(try)
	windowLeft := time.Duration(policy.ExpireAfter) - now.Sub(d.WindowStart)
	if policy.ExpireAfter > 0 && windowLeft < delay && res.RetryAfter == 0 {
		rec.Outcome.Status = domain.DeliveryFailed // no try fits in the window any more
		return rec
	}
	if res.RetryAfter > 0 {
		var ok bool
		if delay, ok = domain.BoundRetryAfter(res.RetryAfter, windowLeft, policy.ExpireAfter > 0); !ok {
			rec.Outcome.Status = domain.DeliveryFailed
			return rec
		}
	}
	next := now.Add(delay)
	rec.Outcome.Status, rec.Outcome.NextAttemptAt = domain.DeliveryPending, &next
	return rec
}

// requestOf is what a try of delivery d sends: the request its webhook
// action rendered, or else w's templates rendered for its event.
func requestOf(w *domain.Webhook, d *store.Delivery, scopes *eventScopes) (outboundRequest, error) {
	sr := d.StepRequest()
	if sr == nil {
		return renderRequestWith(w, d.Event(), scopes)
	}
	body, err := sr.BodyBytes()
	if err != nil {
		return outboundRequest{}, fmt.Errorf("%w: the stored body: %v", errPermanentRequest, err)
	}
	headers := make(map[string]string, len(sr.Headers))
	for k, v := range sr.Headers {
		headers[k] = v
	}
	return outboundRequest{Method: sr.Method, URL: sr.URL, Headers: headers, Body: body}, nil
}

// policyOf is delivery d's retry policy (resolved) and request timeout: its
// webhook action's, or else its webhook's.
func policyOf(w *domain.Webhook, d *store.Delivery) (domain.RetryPolicy, time.Duration) {
	if sr := d.StepRequest(); sr != nil {
		return sr.Retry.Resolved(), sr.Timeout()
	}
	return w.Retry.Resolved(), w.Timeout
}

// PrepareDeliveryInput names a delivery.
type PrepareDeliveryInput struct {
	DeliveryID string
}

// PrepareDeliveryResult is what a delivery workflow needs to plan its next try.
type PrepareDeliveryResult struct {
	Exists  bool
	Status  string
	Enabled bool
	// CarriedBy names another workflow that carries the delivery now; the
	// asking workflow leaves it alone.
	CarriedBy string `json:",omitempty"`
	// Attempts counts the tries in the current retry window (a manual retry
	// opens a new one).
	Attempts int
	// FirstAttemptAt anchors the policy's expiry window.
	FirstAttemptAt time.Time
	Policy         domain.RetryPolicy // resolved
	Timeout        time.Duration
}

// PrepareDelivery reads a delivery's state and its webhook's current policy.
func (a *Webhooks) PrepareDelivery(ctx context.Context, in PrepareDeliveryInput) (PrepareDeliveryResult, error) {
	d, err := a.Deliveries.Get(ctx, in.DeliveryID)
	if errors.Is(err, domain.ErrNotFound) {
		return PrepareDeliveryResult{}, nil
	}
	if err != nil {
		return PrepareDeliveryResult{}, err
	}
	w, err := a.Webhooks.Get(ctx, d.WebhookID)
	if errors.Is(err, domain.ErrNotFound) {
		return PrepareDeliveryResult{}, nil
	}
	if err != nil {
		return PrepareDeliveryResult{}, err
	}
	policy, timeout := policyOf(w, d)
	out := PrepareDeliveryResult{
		Exists: true, Status: d.Status, Enabled: w.Enabled, Attempts: d.Attempts - d.WindowAttempts,
		FirstAttemptAt: d.WindowStart, Policy: policy, Timeout: timeout,
	}
	if me := activity.GetInfo(ctx).WorkflowExecution.ID; d.Status == domain.DeliveryPending && d.WorkflowID != "" && d.WorkflowID != me {
		out.CarriedBy = d.WorkflowID
	}
	return out, nil
}

// ParkDeliveryInput names the delivery to park.
type ParkDeliveryInput struct {
	DeliveryID string
}

// ParkDeliveryResult says whether the delivery was parked.
type ParkDeliveryResult struct {
	// Parked: the delivery waits, with no workflow, for its webhook to be
	// enabled. False when the webhook was enabled meanwhile or the delivery
	// is no longer pending.
	Parked bool
}

// ParkDelivery leaves a pending delivery of a disabled webhook waiting in
// PostgreSQL with no workflow, so a webhook disabled for a month costs
// Temporal nothing; enabling the webhook hands its parked deliveries over.
func (a *Webhooks) ParkDelivery(ctx context.Context, in ParkDeliveryInput) (ParkDeliveryResult, error) {
	ok, err := a.Deliveries.Park(ctx, in.DeliveryID)
	return ParkDeliveryResult{Parked: ok}, err
}

// AttemptDeliveryInput names the delivery to try once more.
type AttemptDeliveryInput struct {
	DeliveryID string
}

// AttemptDeliveryResult is a successful try (failures are errors, so the
// activity's retry policy applies).
type AttemptDeliveryResult struct {
	Status  string
	Attempt int
	Code    int
}

// AttemptDelivery makes one try of a delivery. A retryable failure returns a
// retryable error (with the receiver's Retry-After, bounded, as the next
// delay), a permanent one a non-retryable error, so the webhook's retry
// policy (set on this activity by the workflow) drives the schedule. Only
// the delivery's carrier may try it: another workflow's call is told the
// delivery is gone.
func (a *Webhooks) AttemptDelivery(ctx context.Context, in AttemptDeliveryInput) (AttemptDeliveryResult, error) {
	d, err := a.Deliveries.Get(ctx, in.DeliveryID)
	if errors.Is(err, domain.ErrNotFound) {
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError("delivery no longer exists", ErrTypeGone, nil)
	}
	if err != nil {
		return AttemptDeliveryResult{}, err
	}
	if d.Status != domain.DeliveryPending {
		return AttemptDeliveryResult{Status: d.Status, Attempt: d.Attempts}, nil
	}
	info := activity.GetInfo(ctx)
	me := info.WorkflowExecution.ID
	if d.WorkflowID != "" && d.WorkflowID != me {
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError(
			"delivery is carried by workflow "+d.WorkflowID, ErrTypeGone, nil)
	}
	w, err := a.Webhooks.Get(ctx, d.WebhookID)
	if errors.Is(err, domain.ErrNotFound) {
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError("webhook no longer exists", ErrTypeGone, nil)
	}
	if err != nil {
		return AttemptDeliveryResult{}, err
	}
	if !w.Enabled {
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError("webhook is disabled", ErrTypePaused, nil)
	}
	n := d.Attempts + 1
	rec := a.attempt(ctx, w, d, n, nil)
	rec.Attempt.WorkflowID = me
	rec.Outcome.WorkflowID, rec.Outcome.RunID, rec.Outcome.Carrier = me, info.WorkflowExecution.RunID, me
	if err := a.Deliveries.Record(ctx, []store.Record{rec}); err != nil {
		if errors.Is(err, domain.ErrUnavailable) {
			return AttemptDeliveryResult{}, err
		}
		// The answer itself cannot be stored: keep the fact of the try.
		bare := store.NewAttempt(d.ID, rec.Attempt.RequestMethod, "", nil, "", rec.Attempt.Status(), nil, "", false,
			time.Duration(rec.Attempt.DurationMS)*time.Millisecond, "the attempt could not be recorded whole: "+err.Error(),
			rec.Attempt.ExecutedAt, rec.Attempt.Result == store.AttemptSucceeded)
		bare.WorkflowID = me
		rec.Attempt = &bare
		if err := a.Deliveries.Record(ctx, []store.Record{rec}); err != nil {
			return AttemptDeliveryResult{}, err
		}
	}
	out := rec.Outcome
	switch out.Status {
	case domain.DeliverySucceeded:
		return AttemptDeliveryResult{Status: out.Status, Attempt: n, Code: out.LastCode}, nil
	case domain.DeliveryFailed:
		return AttemptDeliveryResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("attempt %d: %s", n, out.LastError), ErrTypePermanent, nil)
	}
	// The next try waits for the policy's interval, or for what the
	// receiver asked (Retry-After, bounded): only then is the delay given.
	var delay time.Duration
	if h := rec.Attempt.ResponseHeaders.V; h != nil && h["Retry-After"] != "" && out.NextAttemptAt != nil {
		delay = max(out.NextAttemptAt.Sub(a.now()), time.Millisecond)
	}
	return AttemptDeliveryResult{}, temporal.NewApplicationErrorWithOptions(
		fmt.Sprintf("attempt %d: %s", n, out.LastError), ErrTypeAttemptFailed,
		temporal.ApplicationErrorOptions{NextRetryDelay: delay})
}

// FinishDeliveryInput closes a delivery.
type FinishDeliveryInput struct {
	DeliveryID string
	Status     string // failed or canceled
	Error      string
}

// FinishDelivery marks a pending delivery failed (retries exhausted) or
// canceled, if the calling workflow still carries it.
func (a *Webhooks) FinishDelivery(ctx context.Context, in FinishDeliveryInput) error {
	d, err := a.Deliveries.Get(ctx, in.DeliveryID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	info := activity.GetInfo(ctx)
	if d.WorkflowID != "" && d.WorkflowID != info.WorkflowExecution.ID {
		return nil // carried by another workflow now
	}
	code := 0
	if d.LastStatusCode != nil {
		code = *d.LastStatusCode
	}
	msg := in.Error
	if msg == "" {
		msg = d.LastError
	}
	if err := a.Deliveries.Record(ctx, []store.Record{{Outcome: store.Outcome{
		DeliveryID: in.DeliveryID, Status: in.Status, LastCode: code, LastError: msg,
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, Carrier: info.WorkflowExecution.ID,
	}}}); err != nil {
		return err
	}
	if a.Observer != nil && d.Status == domain.DeliveryPending {
		a.Observer.Delivered(d.WebhookCode, in.Status)
	}
	return nil
}
