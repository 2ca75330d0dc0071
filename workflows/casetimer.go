package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// A case's planned resolution time is a durable timer: one workflow per
// case (case-timer-<case id>), armed and moved by the signals the
// dispatcher sends for the case events it hands over, canceled by a delete
// or a resolved status, and raising case.planned_resolution_time through
// the publish path when the time comes. See domain.CasePlanOf for what
// each case event does.

// caseTimerLinger is how long a case timer with nothing armed (raised or
// canceled) waits for more signals before it ends: long enough to absorb a
// late or repeated signal (a sweep re-dispatching a group), short enough
// that cases without a plan cost Temporal nothing for long.
const caseTimerLinger = time.Hour

// caseTimerSignalsPerRun is how many changes one run applies before it
// continues as new, so the history stays small however often a case
// changes (each change adds a signal and a timer).
const caseTimerSignalsPerRun = 500

// CaseTimerInput is a case timer's state; continue-as-new carries it on.
type CaseTimerInput struct {
	CaseID string
	// Plan is the armed plan, nil when none is.
	Plan *CasePlan `json:",omitempty"`
	// LastAt and LastEventID name the newest change applied: older ones,
	// and the same one again, change nothing.
	LastAt      time.Time
	LastEventID string
	// RaisedFor is the planned time raised last: a change that states it
	// again does not arm it again.
	RaisedFor time.Time
}

// CasePlan is an armed plan.
type CasePlan struct {
	PlannedAt time.Time
	// EventID is the case event that set it; its data is the raised event's.
	EventID string
}

// CasePlanSignal is one change of a case's plan (SignalCasePlan).
type CasePlanSignal struct {
	EventID    string
	OccurredAt time.Time
	Cancel     bool
	PlannedAt  time.Time
	Reason     string
}

// CaseTimerResult says what a run of a case timer did.
type CaseTimerResult struct {
	Raised int
	// Applied counts the changes applied; Ignored the stale or repeated ones.
	Applied int
	Ignored int
}

// CaseTimerWorkflow keeps a case's planned-resolution timer: it applies the
// case's plan changes in the order the events occurred, raises
// case.planned_resolution_time when an armed plan comes due, ends an hour
// after nothing is armed, and continues as new every
// caseTimerSignalsPerRun changes. Its TriggerFlowPlannedAt search attribute
// shows the armed time.
func CaseTimerWorkflow(ctx workflow.Context, in CaseTimerInput) (CaseTimerResult, error) {
	st := in
	var res CaseTimerResult
	signals := workflow.GetSignalChannel(ctx, SignalCasePlan)
	received := 0
	apply := func(s CasePlanSignal) {
		received++
		ch := domain.CasePlanChange{EventID: s.EventID, OccurredAt: s.OccurredAt}
		if !ch.Newer(st.LastAt, st.LastEventID) {
			res.Ignored++
			return
		}
		res.Applied++
		st.LastAt, st.LastEventID = s.OccurredAt, s.EventID
		switch {
		case s.Cancel:
			st.Plan = nil
		case s.PlannedAt.Equal(st.RaisedFor):
			st.Plan = nil // raised already; the case restates its plan
		default:
			st.Plan = &CasePlan{PlannedAt: s.PlannedAt, EventID: s.EventID}
		}
	}
	drain := func() {
		for {
			var s CasePlanSignal
			if !signals.ReceiveAsync(&s) {
				return
			}
			apply(s)
		}
	}
	// shown is the TriggerFlowPlannedAt last upserted. A run continued as
	// new starts with its predecessor's, which matched its state then.
	var shown *time.Time
	if st.Plan != nil {
		shown = &st.Plan.PlannedAt
	}
	showPlan := func() error {
		var want *time.Time
		if st.Plan != nil {
			want = &st.Plan.PlannedAt
		}
		if (want == nil) == (shown == nil) && (want == nil || want.Equal(*shown)) {
			return nil
		}
		upd := SAPlannedAt.ValueUnset()
		if want != nil {
			upd = SAPlannedAt.ValueSet(*want)
		}
		shown = want
		return workflow.UpsertTypedSearchAttributes(ctx, upd)
	}
	var a *activities.CaseTimers
	raiseCtx := workflow.WithActivityOptions(ctx, bookkeeping)
	for {
		drain()
		if err := showPlan(); err != nil {
			return res, err
		}
		now := workflow.Now(ctx)
		if st.Plan != nil && !st.Plan.PlannedAt.After(now) {
			in := activities.RaisePlannedResolutionInput{CaseID: st.CaseID, PlannedAt: st.Plan.PlannedAt, SourceEventID: st.Plan.EventID}
			if err := workflow.ExecuteActivity(raiseCtx, a.RaisePlannedResolution, in).Get(ctx, nil); err != nil {
				return res, fmt.Errorf("raise the planned resolution of case %s: %w", st.CaseID, err)
			}
			st.RaisedFor, st.Plan = in.PlannedAt, nil
			res.Raised++
			continue
		}
		if received >= caseTimerSignalsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			drain()
			return res, workflow.NewContinueAsNewError(ctx, CaseTimerWorkflow, st)
		}
		wait := caseTimerLinger
		if st.Plan != nil {
			wait = st.Plan.PlannedAt.Sub(now)
		}
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, wait)
		timedOut := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
			var s CasePlanSignal
			c.Receive(ctx, &s)
			apply(s)
		})
		sel.AddFuture(timer, func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		cancelTimer()
		if timedOut && st.Plan == nil {
			drain()
			if st.Plan == nil {
				return res, showPlan()
			}
		}
	}
}

// caseTimerStartOptions start a case's timer (signal-with-start).
func caseTimerStartOptions(caseID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    CaseTimerWorkflowID(caseID),
		TaskQueue:             TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(SACase.ValueSet(caseID),
			SAEventType.ValueSet(domain.PlannedResolutionEventType)),
	}
}

// caseSignalConcurrency bounds the signals one group sends at once.
const caseSignalConcurrency = 8

// signalCaseTimers hands the plan changes of a dispatched group's case
// events to their cases' timers: arming or moving one starts it when it is
// not running (signal-with-start); canceling one that is not running does
// nothing. Groups without case events cost a look at each event's type.
// Signals are idempotent (a timer applies a change once, in occurrence
// order), so a group dispatched again — by the sweep after a crash between
// commit and signal — sends them again harmlessly. Events is looked up
// when the group does not carry its events (a sweep).
func signalCaseTimers(ctx context.Context, c client.Client, events *store.Events, g Group) error {
	evs := g.Events
	if len(evs) == 0 {
		var err error
		if evs, err = events.CaseEvents(ctx, g.BatchIDs); err != nil {
			return err
		}
	}
	changes := domain.CasePlanChanges(evs)
	if len(changes) == 0 {
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, caseSignalConcurrency)
	for _, ch := range changes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := signalCaseTimer(ctx, c, ch); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// signalCaseTimer sends one change to its case's timer.
func signalCaseTimer(ctx context.Context, c client.Client, ch domain.CasePlanChange) error {
	sig := CasePlanSignal{EventID: ch.EventID, OccurredAt: ch.OccurredAt, Cancel: ch.Cancel, PlannedAt: ch.PlannedAt, Reason: ch.Reason}
	id := CaseTimerWorkflowID(ch.CaseID)
	var err error
	if ch.Cancel {
		err = c.SignalWorkflow(ctx, id, "", SignalCasePlan, sig)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil // no timer runs: nothing to cancel
		}
	} else {
		_, err = c.SignalWithStartWorkflow(ctx, id, SignalCasePlan, sig, caseTimerStartOptions(ch.CaseID),
			CaseTimerWorkflow, CaseTimerInput{CaseID: ch.CaseID})
	}
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) {
		// Retrying cannot help, and must not hold up the group: the
		// change is dropped, and said so.
		slog.Default().Warn("a case plan change was refused by Temporal and dropped", "case", ch.CaseID, "event", ch.EventID, "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("signal the timer of case %s: %w", ch.CaseID, err)
	}
	return nil
}

// Raiser publishes events TriggerFlow raises itself (a case's planned
// resolution time) from the worker, the way Publisher publishes: matched
// against the index, stored with their deliveries and runs in one
// transaction, then dispatched as a group. An event id already stored is not
// raised again; a batch stored but not dispatched (a crash, Temporal away)
// is handed over by the sweep.
type Raiser struct {
	Temporal client.Client
	Events   *store.Events
	Index    *store.Index
}

var _ activities.EventRaiser = (*Raiser)(nil)

// Raise publishes ev.
func (r *Raiser) Raise(ctx context.Context, ev domain.Event) error {
	matches, err := r.Index.Match(ctx, []domain.Event{ev})
	if err != nil {
		return fmt.Errorf("match %s: %w", ev.ID, err)
	}
	stored, err := r.Events.StoreBatch(ctx, []domain.Event{ev}, func(fresh []domain.Event) store.Plan {
		return plan(fresh, matches)
	})
	if err != nil {
		return err
	}
	// Dispatched even when the event was raised before: the batch is then
	// empty, and dispatching marks it so.
	g := Group{ID: stored.BatchID, BatchIDs: []string{stored.BatchID}, Events: stored.NewEvents, Plan: stored.Plan,
		Targets: targetsOf(stored.Plan, stored.NewEvents)}
	return Dispatch(ctx, r.Temporal, r.Events, g)
}
