package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
)

// retryHarness runs DeliveryWorkflow against mocked activities: AttemptDelivery
// always fails (retryably) unless succeedAt says otherwise, and every call is
// recorded with the workflow clock.
type retryHarness struct {
	env      *testsuite.TestWorkflowEnvironment
	attempts []time.Time
	finished string
}

func newRetryHarness(t *testing.T, policy domain.RetryPolicy, succeedAt int) *retryHarness {
	var s testsuite.WorkflowTestSuite
	h := &retryHarness{env: s.NewTestWorkflowEnvironment()}
	var a *activities.Webhooks
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.env.SetStartTime(start)
	h.env.RegisterActivity(a)
	h.env.OnActivity(a.PrepareDelivery, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.PrepareDeliveryInput) (activities.PrepareDeliveryResult, error) {
			return activities.PrepareDeliveryResult{
				Exists: true, Status: domain.DeliveryPending, Enabled: true, Attempts: 1,
				FirstAttemptAt: start, Policy: policy.Resolved(), Timeout: 10 * time.Second,
			}, nil
		})
	h.env.OnActivity(a.AttemptDelivery, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.AttemptDeliveryInput) (activities.AttemptDeliveryResult, error) {
			h.attempts = append(h.attempts, h.env.Now())
			if succeedAt > 0 && len(h.attempts)+1 >= succeedAt {
				return activities.AttemptDeliveryResult{Status: domain.DeliverySucceeded, Attempt: len(h.attempts) + 1}, nil
			}
			return activities.AttemptDeliveryResult{}, temporal.NewApplicationError("HTTP 500", activities.ErrTypeAttemptFailed)
		})
	h.env.OnActivity(a.FinishDelivery, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.FinishDeliveryInput) error {
			h.finished = in.Status
			return nil
		})
	return h
}

// The ipSCAPE preset: every 10 minutes for 48 hours until 2xx — 48 hours of
// retries run in milliseconds with time skipping.
func TestEvery10MinutesFor48Hours(t *testing.T) {
	h := newRetryHarness(t, domain.RetryPolicy{Preset: domain.RetryEvery10m48h}, 0)
	h.env.ExecuteWorkflow(DeliveryWorkflow, DeliveryInput{DeliveryID: "msg_1", FirstDelay: 10 * time.Minute})
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res DeliveryResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != domain.DeliveryFailed || h.finished != domain.DeliveryFailed {
		t.Fatalf("result %+v finished %q", res, h.finished)
	}
	// The first try happened at 00:00 (in the batch); retries every 10
	// minutes from 00:10 while the 48-hour window lasts.
	if n := len(h.attempts); n < 285 || n > 288 {
		t.Fatalf("%d retries in 48h, want ~287 (every 10 minutes)", n)
	}
	for i := 1; i < len(h.attempts); i++ {
		if gap := h.attempts[i].Sub(h.attempts[i-1]); gap != 10*time.Minute {
			t.Fatalf("gap %d = %s, want 10m", i, gap)
		}
	}
	last := h.attempts[len(h.attempts)-1].Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if last > 48*time.Hour {
		t.Fatalf("last try %s after the first, past the 48h window", last)
	}
}

// The Cotalker preset: after 30 s, up to two more tries.
func TestThirtySecondsUpToTwoMoreTries(t *testing.T) {
	h := newRetryHarness(t, domain.RetryPolicy{Preset: domain.Retry30sX3}, 0)
	h.env.ExecuteWorkflow(DeliveryWorkflow, DeliveryInput{DeliveryID: "msg_1", FirstDelay: 30 * time.Second})
	var res DeliveryResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(h.attempts) != 2 || res.Status != domain.DeliveryFailed {
		t.Fatalf("%d retries (want 2 after the first try), result %+v", len(h.attempts), res)
	}
	if gap := h.attempts[1].Sub(h.attempts[0]); gap != 30*time.Second {
		t.Fatalf("gap = %s", gap)
	}
}

func TestRetryStopsAtFirstSuccess(t *testing.T) {
	h := newRetryHarness(t, domain.RetryPolicy{Preset: domain.RetryEvery10m48h}, 4)
	h.env.ExecuteWorkflow(DeliveryWorkflow, DeliveryInput{DeliveryID: "msg_1"})
	var res DeliveryResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != domain.DeliverySucceeded || len(h.attempts) != 3 || h.finished != "" {
		t.Fatalf("result %+v after %d tries, finished %q", res, len(h.attempts), h.finished)
	}
}

// A delivery of a disabled webhook is parked in PostgreSQL and its workflow
// ends: no polling loop, no history growing while the webhook is off.
// (Enabling hands parked deliveries over again; see the API's e2e tests.)
func TestDisabledWebhooksDeliveryIsParkedNotPolled(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Webhooks
	env.RegisterActivity(a)
	prepared, parked, tries := 0, 0, 0
	env.OnActivity(a.PrepareDelivery, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.PrepareDeliveryInput) (activities.PrepareDeliveryResult, error) {
			prepared++
			return activities.PrepareDeliveryResult{Exists: true, Status: domain.DeliveryPending, Enabled: false,
				FirstAttemptAt: env.Now(), Policy: domain.RetryPolicy{Preset: domain.Retry30sX3}.Resolved(), Timeout: time.Second}, nil
		})
	env.OnActivity(a.ParkDelivery, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.ParkDeliveryInput) (activities.ParkDeliveryResult, error) {
			parked++
			return activities.ParkDeliveryResult{Parked: true}, nil
		})
	env.OnActivity(a.AttemptDelivery, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.AttemptDeliveryInput) (activities.AttemptDeliveryResult, error) {
			tries++
			return activities.AttemptDeliveryResult{Status: domain.DeliverySucceeded}, nil
		})
	env.ExecuteWorkflow(DeliveryWorkflow, DeliveryInput{DeliveryID: "msg_1", FirstDelay: 10 * time.Minute})
	var res DeliveryResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusParked || parked != 1 || prepared != 1 || tries != 0 {
		t.Fatalf("result %+v: prepared %d, parked %d, tried %d; want parked once, never tried", res, prepared, parked, tries)
	}
}

// An ordered webhook disabled for 30 days: its queue waits for the wake
// signal with a long timer — a few history events a day, not ten a minute —
// and when the webhook is enabled it goes on with the whole backlog.
func TestQueuePausedForThirtyDaysThenDrainsItsBacklog(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Webhooks
	env.RegisterActivity(a)
	enabled := false
	calls, delivered := 0, 0
	backlog := 500
	env.OnActivity(a.DeliverOrdered, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DeliverOrderedInput) (activities.DeliverOrderedResult, error) {
			calls++
			switch {
			case !enabled:
				return activities.DeliverOrderedResult{Paused: true}, nil
			case backlog == 0:
				return activities.DeliverOrderedResult{Empty: true}, nil
			}
			n := min(in.Max, backlog)
			backlog -= n
			delivered += n
			return activities.DeliverOrderedResult{Delivered: n, More: backlog > 0}, nil
		})
	start := env.Now()
	env.RegisterDelayedCallback(func() {
		if delivered != 0 {
			t.Errorf("delivered %d while disabled", delivered)
		}
		enabled = true
		env.SignalWorkflow(SignalWake, nil)
	}, 30*24*time.Hour)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 30*24*time.Hour+time.Hour)
	env.ExecuteWorkflow(WebhookQueueWorkflow, WebhookQueueInput{WebhookID: "wh_1", WebhookCode: "orders"})
	if delivered != 500 || backlog != 0 {
		t.Fatalf("delivered %d of the 500-event backlog", delivered)
	}
	// Paused: one look a day (plus the one after the wake), not one a minute.
	if calls > 45 {
		t.Fatalf("%d activity calls over %s of pause; the queue polled", calls, env.Now().Sub(start))
	}
}

func TestAttemptOptionsFollowThePolicy(t *testing.T) {
	now := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	first := now.Add(-47 * time.Hour)
	p := activities.PrepareDeliveryResult{Policy: domain.RetryPolicy{Preset: domain.RetryEvery10m48h}.Resolved(),
		FirstAttemptAt: first, Timeout: 10 * time.Second, Attempts: 200}
	opts, ok := attemptOptions(now, p)
	if !ok || opts.ScheduleToCloseTimeout != time.Hour || opts.RetryPolicy.MaximumAttempts < 6 ||
		opts.RetryPolicy.InitialInterval != 10*time.Minute || opts.RetryPolicy.BackoffCoefficient != 1 {
		t.Fatalf("opts = %+v ok=%v", opts, ok)
	}
	p.FirstAttemptAt = now.Add(-49 * time.Hour)
	if _, ok := attemptOptions(now, p); ok {
		t.Fatal("past the 48h window nothing remains")
	}
	p = activities.PrepareDeliveryResult{Policy: domain.RetryPolicy{Preset: domain.Retry30sX3}.Resolved(), Attempts: 1, Timeout: time.Second}
	opts, _ = attemptOptions(now, p)
	if opts.RetryPolicy.MaximumAttempts != 2 {
		t.Fatalf("after one of three tries, two remain: %+v", opts.RetryPolicy)
	}
	p.Attempts = 3
	if _, ok := attemptOptions(now, p); ok {
		t.Fatal("three of three tries used")
	}
}

// A group whose calls keep sending nothing (its webhook's requests are all
// in use by a slow receiver) calls again after a pause that doubles up to a
// minute, and starts from the shortest pause after a call that sent —
// whether it asks GetVersion (handed over before DeliverBatchInput.Version)
// or not.
func TestGroupCallsBackOffWhileNothingCanBeSent(t *testing.T) {
	forBatchVersions(t, func(t *testing.T, in DeliverBatchInput) {
		env, calls := newRoundsHarness(t, []int{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1})
		env.ExecuteWorkflow(DeliverBatchWorkflow, in)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		var gaps []time.Duration
		for i := 1; i < len(*calls); i++ {
			gaps = append(gaps, ((*calls)[i] - (*calls)[i-1]).Round(time.Second))
		}
		s5, s10, s20, s40, m1 := 5*time.Second, 10*time.Second, 20*time.Second, 40*time.Second, time.Minute
		want := []time.Duration{0, s5, s10, s20, s40, m1, m1, 0, s5, s10}
		if fmt.Sprint(gaps) != fmt.Sprint(want) {
			t.Fatalf("gaps between calls %v, want %v", gaps, want)
		}
	})
}

// forBatchVersions runs f with a group's input as handed over before
// DeliverBatchInput.Version existed and as handed over now.
func forBatchVersions(t *testing.T, f func(t *testing.T, in DeliverBatchInput)) {
	for _, v := range []int{0, DeliverBatchVersion} {
		t.Run(fmt.Sprintf("version %d", v), func(t *testing.T) {
			f(t, DeliverBatchInput{BatchID: "bat_1", HasUnordered: true, Version: v})
		})
	}
}

// A group stuck behind such a receiver goes on in a fresh run after
// roundsPerRun calls, so its history stays small however long it waits.
func TestGroupStuckBehindASlowReceiverContinuesAsNew(t *testing.T) {
	forBatchVersions(t, func(t *testing.T, in DeliverBatchInput) {
		env, calls := newRoundsHarness(t, nil)
		env.ExecuteWorkflow(DeliverBatchWorkflow, in)
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); !errors.As(err, &can) {
			t.Fatalf("workflow ended with %v, want to continue as new", err)
		}
		if len(*calls) != roundsPerRun {
			t.Fatalf("%d calls before continuing as new, want %d", len(*calls), roundsPerRun)
		}
		var next DeliverBatchInput
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
			t.Fatal(err)
		}
		if next.Version != in.Version || next.BatchID != in.BatchID {
			t.Fatalf("the next run's input is %+v, want %+v", next, in)
		}
	})
}

// newRoundsHarness mocks DeliverBatch: call i sends sent[i] deliveries and
// leaves one until the last entry (nil: it never sends and leaves one
// until well past roundsPerRun calls). calls receives each call's time since the start.
func newRoundsHarness(t *testing.T, sent []int) (*testsuite.TestWorkflowEnvironment, *[]time.Duration) {
	var a *activities.Webhooks
	return timedCalls[activities.DeliverBatchInput](t, a.DeliverBatch, func(i int) activities.DeliverBatchResult {
		if sent == nil {
			// Never sends; ends well past roundsPerRun so a workflow
			// that never continues as new still ends (and fails the test).
			return activities.DeliverBatchResult{Left: min(1, roundsPerRun+10-i)}
		}
		left := 1
		if i == len(sent)-1 {
			left = 0
		}
		return activities.DeliverBatchResult{Sent: sent[i], Left: left}
	})
}
