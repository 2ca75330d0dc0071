package workflows

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
)

// flowHarness runs FlowRunWorkflow with mocked bookkeeping; actions are
// registered under their names and mocked per test.
type flowHarness struct {
	env      *testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	finished *activities.FinishFlowRunInput
	calls    map[string]int
}

func newFlowHarness(t *testing.T, load activities.LoadFlowRunResult) *flowHarness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	h := &flowHarness{env: s.NewTestWorkflowEnvironment(), calls: map[string]int{}}
	h.env.SetStartTime(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	h.env.RegisterWorkflow(FlowRunWorkflow)
	var fr *activities.FlowRuns
	h.env.RegisterActivity(fr)
	for _, a := range activities.RegisteredActions() {
		if fn := a.Activity(&activities.Actions{}); fn != nil {
			h.env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name()})
		}
	}
	if load.RunID == "" {
		load.RunID = "run_1"
	}
	h.env.OnActivity(fr.LoadFlowRun, mock.Anything, mock.Anything).Return(load, nil)
	h.env.OnActivity(fr.FinishFlowRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishFlowRunInput) (activities.FinishFlowRunResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.finished = &in
			return activities.FinishFlowRunResult{}, nil
		})
	return h
}

func (h *flowHarness) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[name]++
	return h.calls[name]
}

func (h *flowHarness) run(t *testing.T) (FlowRunResult, error) {
	t.Helper()
	h.env.ExecuteWorkflow(FlowRunWorkflow, FlowRunInput{RunID: "run_1"})
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res FlowRunResult
	err := h.env.GetWorkflowError()
	if err == nil {
		_ = h.env.GetWorkflowResult(&res)
	}
	if h.finished == nil {
		t.Fatal("the run's outcome was not recorded")
	}
	return res, err
}

func caseEvent() domain.Event {
	return domain.Event{ID: "evt-1", Type: "case.created", OccurredAt: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC),
		Data: json.RawMessage(`{"case": {"id": 42, "assignee": "7"}}`)}
}

// Step 2 reads step 1's output: {{ steps.lookup.response.json.id }}.
func TestLaterStepsReadEarlierOutputs(t *testing.T) {
	h := newFlowHarness(t, activities.LoadFlowRunResult{HasEvent: true, Event: caseEvent(), FlowID: "flw_1", FlowVersion: 3,
		Steps: []domain.Step{
			{Name: "lookup", Action: "http.request", Params: map[string]any{"url": "https://crm.example.com/cases/{{ case.id }}"}},
			{Name: "tell", Action: "notify", Params: map[string]any{
				"text":     "Case {{ steps.lookup.response.json.id }} ({{ steps.lookup.response.status }}) in flow v{{ run.flow.version }}",
				"user_ids": []any{"{{ case.assignee }}"},
			}},
		}})
	h.env.OnActivity("http.request", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.HTTPRequestInput) (activities.HTTPRequestResult, error) {
			if in.URL != "https://crm.example.com/cases/42" {
				t.Errorf("url = %s", in.URL)
			}
			return activities.HTTPRequestResult{Response: activities.HTTPResponse{
				Status: 200, JSON: json.RawMessage(`{"id": 12345678901234567891}`)}}, nil
		})
	var notified activities.NotifyInput
	h.env.OnActivity("notify", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (activities.NotifyResult, error) {
			notified = in
			return activities.NotifyResult{Notified: 1}, nil
		})
	res, err := h.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if notified.Text != "Case 12345678901234567891 (200) in flow v3" || len(notified.UserIDs) != 1 || notified.UserIDs[0] != "7" {
		t.Fatalf("notify got %+v", notified)
	}
	if h.finished.Status != domain.RunSucceeded || res.Status != domain.RunSucceeded || len(h.finished.Steps) != 2 ||
		h.finished.Steps[0].Status != domain.StepSucceeded || h.finished.Steps[1].FinishedAt == nil {
		t.Fatalf("finished %+v", h.finished)
	}
}

func TestStepWhoseConditionsFailIsSkipped(t *testing.T) {
	h := newFlowHarness(t, activities.LoadFlowRunResult{HasEvent: true, Event: caseEvent(), Steps: []domain.Step{
		{Name: "only_big", Action: "log", Params: map[string]any{"message": "big"},
			If: []domain.Condition{{Reference: "case.id", Operator: ">", Value: "100"}}},
		{Name: "after", Action: "log", Params: map[string]any{"message": "skipped={{ steps.only_big.skipped }}"}},
	}})
	var messages []string
	h.env.OnActivity("log", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.LogInput) (activities.LogResult, error) {
			messages = append(messages, in.Message)
			return activities.LogResult{Message: in.Message}, nil
		})
	if _, err := h.run(t); err != nil {
		t.Fatal(err)
	}
	if len(messages) != 1 || messages[0] != "skipped=true" {
		t.Fatalf("log calls = %v", messages)
	}
	if h.finished.Steps[0].Status != domain.StepSkipped || h.finished.Steps[1].Status != domain.StepSucceeded {
		t.Fatalf("steps = %+v", h.finished.Steps)
	}
}

func TestFailingStepFailsTheRunAndNamesIt(t *testing.T) {
	h := newFlowHarness(t, activities.LoadFlowRunResult{HasEvent: true, Event: caseEvent(), Steps: []domain.Step{
		{Name: "call", Action: "http.request", Params: map[string]any{"url": "https://x.example.com"}},
		{Name: "never", Action: "log", Params: map[string]any{"message": "no"}},
	}})
	h.env.OnActivity("http.request", mock.Anything, mock.Anything).Return(
		func(context.Context, activities.HTTPRequestInput) (activities.HTTPRequestResult, error) {
			h.count("http")
			return activities.HTTPRequestResult{}, temporal.NewNonRetryableApplicationError("GET https://x.example.com answered HTTP 404", activities.ErrTypePermanent, nil)
		})
	h.env.OnActivity("log", mock.Anything, mock.Anything).Return(activities.LogResult{}, nil).Maybe()
	_, err := h.run(t)
	if err == nil || !strings.Contains(err.Error(), `step "call" (http.request) failed`) {
		t.Fatalf("workflow error = %v", err)
	}
	f := h.finished
	if f.Status != domain.RunFailed || f.FailedStep != "call" || f.Error != "GET https://x.example.com answered HTTP 404" ||
		len(f.Steps) != 1 || f.Steps[0].Status != domain.StepFailed {
		t.Fatalf("finished %+v", f)
	}
	if h.calls["http"] != 1 {
		t.Fatalf("a permanent failure was tried %d times", h.calls["http"])
	}
}

func TestStepRetryPolicies(t *testing.T) {
	cases := []struct {
		name     string
		retry    *domain.RetryPolicy
		failures int
		wantOK   bool
		tries    int
	}{
		{"default three attempts", nil, 2, true, 3},
		{"default gives up after three", nil, 5, false, 3},
		{"none", &domain.RetryPolicy{Preset: domain.RetryNone}, 1, false, 1},
		{"custom five", &domain.RetryPolicy{InitialInterval: domain.Duration(time.Minute), MaxAttempts: 5}, 4, true, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newFlowHarness(t, activities.LoadFlowRunResult{Steps: []domain.Step{
				{Name: "call", Action: "http.request", Params: map[string]any{"url": "https://x.example.com"}, Retry: tc.retry},
			}})
			h.env.OnActivity("http.request", mock.Anything, mock.Anything).Return(
				func(context.Context, activities.HTTPRequestInput) (activities.HTTPRequestResult, error) {
					if h.count("http") <= tc.failures {
						return activities.HTTPRequestResult{}, temporal.NewApplicationError("HTTP 503", activities.ErrTypeAttemptFailed)
					}
					return activities.HTTPRequestResult{Response: activities.HTTPResponse{Status: 200}}, nil
				})
			_, err := h.run(t)
			if (err == nil) != tc.wantOK || h.calls["http"] != tc.tries {
				t.Fatalf("err = %v after %d tries; want ok=%v after %d", err, h.calls["http"], tc.wantOK, tc.tries)
			}
		})
	}
}

// delay is a durable timer: two hours pass in the workflow's clock, no
// activity runs, and the next step sees when the run went on.
func TestDelayIsADurableTimer(t *testing.T) {
	h := newFlowHarness(t, activities.LoadFlowRunResult{Steps: []domain.Step{
		{Name: "wait", Action: "delay", Params: map[string]any{"duration": "2h"}},
		{Name: "after", Action: "log", Params: map[string]any{"message": "{{ steps.wait.resumed_at }}"}},
	}})
	var at time.Time
	var msg string
	h.env.OnActivity("log", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.LogInput) (activities.LogResult, error) {
			at, msg = h.env.Now(), in.Message
			return activities.LogResult{}, nil
		})
	start := h.env.Now()
	if _, err := h.run(t); err != nil {
		t.Fatal(err)
	}
	if at.Sub(start) < 2*time.Hour || !strings.HasPrefix(msg, "2026-01-01T11:00:00") {
		t.Fatalf("the next step ran %s after the start, seeing %q", at.Sub(start), msg)
	}
}

// A run stops itself shortly before its execution timeout and records
// timed_out, since a timed-out workflow could not.
func TestRunRecordsItsOwnTimeout(t *testing.T) {
	h := newFlowHarness(t, activities.LoadFlowRunResult{Steps: []domain.Step{
		{Name: "wait", Action: "delay", Params: map[string]any{"duration": "1h"}},
		{Name: "never", Action: "log", Params: map[string]any{"message": "no"}},
	}})
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{WorkflowExecutionTimeout: 5 * time.Minute})
	h.env.OnActivity("log", mock.Anything, mock.Anything).Return(activities.LogResult{}, nil).Maybe()
	_, err := h.run(t)
	if err == nil || !strings.Contains(err.Error(), "did not finish within its timeout") {
		t.Fatalf("err = %v", err)
	}
	f := h.finished
	if f.Status != domain.RunTimedOut || f.FailedStep != "wait" || len(f.Steps) != 1 || f.Steps[0].Status != domain.StepCanceled {
		t.Fatalf("finished %+v", f)
	}
}

// ipSCAPE-style actions run as steps; webhook's default payload is the event.
func TestWebhookActionSendsTheEvent(t *testing.T) {
	steps := domain.StepsFromTriggerActions([]domain.TriggerAction{
		{Action: "webhook", Parameters: map[string]any{"url": "https://hooks.example.com/{{ case.id }}"}},
		{Action: "lead.update.list", Parameters: map[string]any{"lead.listId": "354"}},
	})
	ev := caseEvent()
	ev.Data = json.RawMessage(`{"case": {"id": 42}, "leadId": "131413", "big": 12345678901234567891}`)
	h := newFlowHarness(t, activities.LoadFlowRunResult{HasEvent: true, Event: ev, Steps: steps,
		Source: &activities.RunSourceInfo{TriggerID: "trg_1", Name: "Wrap"}})
	var sent activities.WebhookActionInput
	h.env.OnActivity("webhook", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.WebhookActionInput) (activities.WebhookActionResult, error) {
			sent = in
			return activities.WebhookActionResult{DeliveryID: "msg_1", WorkflowID: "delivery-msg_1", Status: "pending"}, nil
		})
	var lead activities.LeadUpdateListInput
	h.env.OnActivity("lead.update.list", mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.LeadUpdateListInput) (activities.LeadUpdateListResult, error) {
			lead = in
			return activities.LeadUpdateListResult{}, nil
		})
	if _, err := h.run(t); err != nil {
		t.Fatal(err)
	}
	var payload string
	if err := json.Unmarshal(sent.Payload, &payload); err != nil {
		t.Fatalf("payload %s: %v", sent.Payload, err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(payload), &body); err != nil || body["id"] != "evt-1" || body["type"] != "case.created" ||
		!strings.Contains(payload, `"big":12345678901234567891`) || sent.URL != "https://hooks.example.com/42" || sent.Method != "POST" {
		t.Fatalf("webhook input %+v payload %s", sent, payload)
	}
	if lead.ListID != "354" || lead.LeadID != "131413" {
		t.Fatalf("lead input %+v", lead)
	}
	if h.finished.Steps[0].Name != "action_1" || h.finished.Steps[1].Name != "action_2" {
		t.Fatalf("steps %+v", h.finished.Steps)
	}
}

func TestParamsThatCannotRenderFailTheStep(t *testing.T) {
	h := newFlowHarness(t, activities.LoadFlowRunResult{HasEvent: true, Event: caseEvent(), Steps: []domain.Step{
		{Name: "tell", Action: "notify", Params: map[string]any{"text": "{{ nothing }}", "user_ids": "7"}},
	}})
	h.env.OnActivity("notify", mock.Anything, mock.Anything).Return(activities.NotifyResult{}, nil).Maybe()
	_, err := h.run(t)
	if err == nil || h.finished.FailedStep != "tell" || !strings.Contains(h.finished.Error, "params.text") {
		t.Fatalf("err = %v, finished %+v", err, h.finished)
	}
}

// A run resumed after its inline first try does not repeat the steps it
// finished, reads their outputs, and makes only the tries its step's policy
// has left, the first after the wait the inline try asked for.
func TestResumedRunGoesOnWithTheTriesLeft(t *testing.T) {
	h := newFlowHarness(t, activities.LoadFlowRunResult{HasEvent: true, Event: caseEvent(), Steps: []domain.Step{
		{Name: "lookup", Action: "http.request", Params: map[string]any{"url": "https://crm.example.com/cases/{{ case.id }}"}},
		{Name: "tell", Action: "notify", Retry: &domain.RetryPolicy{MaxAttempts: 3, InitialInterval: domain.Duration(time.Second), Backoff: 2},
			Params: map[string]any{"text": "case {{ steps.lookup.response.json.id }}", "user_ids": "7"}},
	}})
	h.env.OnActivity("http.request", mock.Anything, mock.Anything).Return(
		func(context.Context, activities.HTTPRequestInput) (activities.HTTPRequestResult, error) {
			t.Error("the finished step ran again")
			return activities.HTTPRequestResult{}, nil
		})
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var tries []time.Duration
	h.env.OnActivity("notify", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.NotifyInput) (activities.NotifyResult, error) {
			tries = append(tries, h.env.Now().Sub(start))
			if in.Text != "case 77" {
				t.Errorf("text = %q", in.Text)
			}
			return activities.NotifyResult{}, temporal.NewApplicationError("down", activities.ErrTypeAttemptFailed)
		})
	done := start.Add(-time.Second)
	resume := &activities.RunResume{
		Next: 1, Attempts: 1, RetryDelay: 5 * time.Second, FirstTryAt: start.Add(-time.Second),
		Steps:   []domain.StepOutcome{{Name: "lookup", Action: "http.request", Status: domain.StepSucceeded, FinishedAt: &done}},
		Outputs: map[string]json.RawMessage{"lookup": json.RawMessage(`{"response": {"status": 200, "json": {"id": 77}}}`)},
	}
	h.env.ExecuteWorkflow(FlowRunWorkflow, FlowRunInput{RunID: "run_1", Resume: resume})
	if err := h.env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "down") {
		t.Fatalf("workflow error = %v", err)
	}
	// Attempts 2 and 3 of 3: after the 5 s the inline try asked for, then
	// after 2 s (the interval grown once, as Temporal would have).
	if len(tries) != 2 || tries[0] != 5*time.Second || tries[1] != 7*time.Second {
		t.Fatalf("tries at %v, want [5s 7s]", tries)
	}
	if h.finished == nil || h.finished.Status != domain.RunFailed || h.finished.FailedStep != "tell" ||
		len(h.finished.Steps) != 2 || h.finished.Steps[0].Name != "lookup" || h.finished.Steps[0].Status != domain.StepSucceeded {
		t.Fatalf("finished %+v", h.finished)
	}
}
