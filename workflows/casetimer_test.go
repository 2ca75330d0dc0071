package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
)

// caseTimerHarness runs CaseTimerWorkflow with time skipping against a
// mocked RaisePlannedResolution that records each raise with the workflow
// clock; signals are sent at offsets from the start.
type caseTimerHarness struct {
	env    *testsuite.TestWorkflowEnvironment
	start  time.Time
	raised []raisedPlan
}

type raisedPlan struct {
	in activities.RaisePlannedResolutionInput
	at time.Time
}

func newCaseTimerHarness(t *testing.T) *caseTimerHarness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	h := &caseTimerHarness{env: s.NewTestWorkflowEnvironment(), start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	h.env.SetStartTime(h.start)
	var a *activities.CaseTimers
	h.env.RegisterActivity(a)
	h.env.OnActivity(a.RaisePlannedResolution, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RaisePlannedResolutionInput) (activities.RaisePlannedResolutionResult, error) {
			h.raised = append(h.raised, raisedPlan{in: in, at: h.env.Now()})
			return activities.RaisePlannedResolutionResult{EventID: "e"}, nil
		}).Maybe()
	return h
}

// signal sends a change at start+after; the event occurred then too.
func (h *caseTimerHarness) signal(after time.Duration, eventID string, s CasePlanSignal) {
	s.EventID = eventID
	if s.OccurredAt.IsZero() {
		s.OccurredAt = h.start.Add(after)
	}
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalCasePlan, s) }, after)
}

// run executes the timer for case 42, its first signal already queued as
// signal-with-start delivers it, and returns its result.
func (h *caseTimerHarness) run(t *testing.T, first CasePlanSignal) CaseTimerResult {
	t.Helper()
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalCasePlan, first) }, 0)
	h.env.ExecuteWorkflow(CaseTimerWorkflow, CaseTimerInput{CaseID: "42"})
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("the timer did not end")
	}
	var res CaseTimerResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func (h *caseTimerHarness) arm(eventID string, after, plannedIn time.Duration) CasePlanSignal {
	return CasePlanSignal{EventID: eventID, OccurredAt: h.start.Add(after), PlannedAt: h.start.Add(plannedIn)}
}

// Armed at creation, the timer raises case.planned_resolution_time at the
// planned moment — two days later, in milliseconds — with the event that
// set the plan, then ends once nothing is armed.
func TestCaseTimerRaisesAtThePlannedTime(t *testing.T) {
	h := newCaseTimerHarness(t)
	res := h.run(t, h.arm("case-42-created", 0, 48*time.Hour))
	if len(h.raised) != 1 || !h.raised[0].at.Equal(h.start.Add(48*time.Hour)) || h.raised[0].in.CaseID != "42" ||
		h.raised[0].in.SourceEventID != "case-42-created" || !h.raised[0].in.PlannedAt.Equal(h.start.Add(48*time.Hour)) {
		t.Fatalf("raised %+v", h.raised)
	}
	if res.Raised != 1 || res.Applied != 1 {
		t.Fatalf("result %+v", res)
	}
}

// An update moves the timer: only the new time is raised, with the update's
// event. A change that occurred earlier than the one applied (a late or
// repeated signal) changes nothing, and an update that restates a plan
// already raised does not raise it again.
func TestCaseTimerMovesAndIgnoresStaleChanges(t *testing.T) {
	h := newCaseTimerHarness(t)
	h.signal(time.Hour, "case-42-updated-1", CasePlanSignal{PlannedAt: h.start.Add(5 * time.Hour)})
	// Late: occurred before the update above.
	h.signal(2*time.Hour, "case-42-created", CasePlanSignal{OccurredAt: h.start, PlannedAt: h.start.Add(3 * time.Hour)})
	// Repeated.
	h.signal(2*time.Hour, "case-42-updated-1", CasePlanSignal{OccurredAt: h.start.Add(time.Hour), PlannedAt: h.start.Add(3 * time.Hour)})
	// After the raise, an update that states the same plan.
	h.signal(5*time.Hour+30*time.Minute, "case-42-updated-2", CasePlanSignal{PlannedAt: h.start.Add(5 * time.Hour)})
	res := h.run(t, h.arm("case-42-created", 0, 2*time.Hour))
	if len(h.raised) != 1 || !h.raised[0].at.Equal(h.start.Add(5*time.Hour)) || h.raised[0].in.SourceEventID != "case-42-updated-1" {
		t.Fatalf("raised %+v", h.raised)
	}
	if res.Applied != 3 || res.Ignored != 2 {
		t.Fatalf("result %+v", res)
	}
}

// A delete or a resolved status cancels the timer: nothing is raised.
func TestCaseTimerIsCanceledByDeleteOrResolution(t *testing.T) {
	for _, reason := range []string{"deleted", "resolved", "plan removed"} {
		h := newCaseTimerHarness(t)
		h.signal(time.Hour, "case-42-"+reason, CasePlanSignal{Cancel: true, Reason: reason})
		res := h.run(t, h.arm("case-42-created", 0, 2*time.Hour))
		if len(h.raised) != 0 || res.Applied != 2 {
			t.Fatalf("%s: raised %+v, result %+v", reason, h.raised, res)
		}
	}
}

// However often a case changes, one run applies at most
// caseTimerSignalsPerRun changes, then continues as new with its state:
// the plan armed last and the change applied last.
func TestCaseTimerContinuesAsNewWithItsState(t *testing.T) {
	h := newCaseTimerHarness(t)
	for i := 1; i < caseTimerSignalsPerRun+10; i++ {
		h.signal(time.Duration(i)*time.Second, fmt.Sprintf("u%03d", i),
			CasePlanSignal{PlannedAt: h.start.Add(24*time.Hour + time.Duration(i)*time.Minute)})
	}
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalCasePlan, h.arm("c", 0, 24*time.Hour)) }, 0)
	h.env.ExecuteWorkflow(CaseTimerWorkflow, CaseTimerInput{CaseID: "42"})
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("the timer ended with %v, want continue-as-new", err)
	}
	var next CaseTimerInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.CaseID != "42" || next.Plan == nil || next.LastEventID != fmt.Sprintf("u%03d", caseTimerSignalsPerRun-1) ||
		!next.Plan.PlannedAt.Equal(h.start.Add(24*time.Hour+time.Duration(caseTimerSignalsPerRun-1)*time.Minute)) || len(h.raised) != 0 {
		t.Fatalf("carried state %+v (plan %+v)", next, next.Plan)
	}
}
