package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
)

// backlogHarness runs WebhookBacklogWorkflow against a mocked DrainBacklog
// whose i-th call answers answer(i); calls receives each call's time since
// the start.
func backlogHarness(t *testing.T, answer func(i int) activities.DrainBacklogResult) (*testsuite.TestWorkflowEnvironment, *[]time.Duration) {
	var a *activities.Webhooks
	return timedCalls[activities.DrainBacklogInput](t, a.DrainBacklog, answer)
}

// timedCalls is a workflow test environment starting at a fixed time in
// which activity (a method of a nil *activities.Webhooks) is mocked: its
// i-th call answers answer(i), and calls receives each call's time since
// the start.
func timedCalls[In, Out any](t *testing.T, activity any, answer func(i int) Out) (*testsuite.TestWorkflowEnvironment, *[]time.Duration) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity((*activities.Webhooks)(nil))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	calls := &[]time.Duration{}
	env.OnActivity(activity, mock.Anything, mock.Anything).Return(func(context.Context, In) (Out, error) {
		i := len(*calls)
		*calls = append(*calls, env.Now().Sub(start).Round(time.Second))
		return answer(i), nil
	})
	return env, calls
}

// The backlog workflow calls again at once while it finds work, looks every
// backlogPoll for backlogActive after a wake (a group hands its deliveries
// over just after waking it), then waits idle for a wake — which brings it
// back at once — and ends when the webhook is gone.
func TestBacklogWorkflowDrainsThenWaitsForAWake(t *testing.T) {
	env, calls := backlogHarness(t, func(i int) activities.DrainBacklogResult {
		switch {
		case i < 2:
			return activities.DrainBacklogResult{Taken: 10}
		case i == 9:
			return activities.DrainBacklogResult{Gone: true}
		}
		return activities.DrainBacklogResult{}
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalWake, nil) }, 5*time.Minute)
	env.ExecuteWorkflow(WebhookBacklogWorkflow, WebhookBacklogInput{WebhookID: "whk_1", WebhookCode: "slow"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	s := func(n int) time.Duration { return time.Duration(n) * time.Second }
	// 0, 0, 0 (found nothing: poll), 5, 10, 15, 20, 25, 30 (quiet for
	// backlogActive: idle), then the wake at 5 min (before the idle look at 10m30s).
	want := []time.Duration{0, 0, 0, s(5), s(10), s(15), s(20), s(25), s(30), 5 * time.Minute}
	if fmt.Sprint(*calls) != fmt.Sprint(want) {
		t.Fatalf("calls at %v, want %v", *calls, want)
	}
}

// A backlog workflow that keeps finding work continues as new after
// roundsPerRun calls, so its history stays small however long it drains.
func TestBacklogWorkflowContinuesAsNew(t *testing.T) {
	env, calls := backlogHarness(t, func(i int) activities.DrainBacklogResult {
		if i > roundsPerRun+10 {
			return activities.DrainBacklogResult{Gone: true} // ends a workflow that never continues
		}
		return activities.DrainBacklogResult{Taken: 1}
	})
	env.ExecuteWorkflow(WebhookBacklogWorkflow, WebhookBacklogInput{WebhookID: "whk_1", WebhookCode: "slow"})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want to continue as new", err)
	}
	if len(*calls) != roundsPerRun {
		t.Fatalf("%d calls before continuing as new, want %d", len(*calls), roundsPerRun)
	}
}
