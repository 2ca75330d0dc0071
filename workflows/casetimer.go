package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
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
