//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/worker"
	"github.com/triggerflow/triggerflow/workflows"
)

// flowRun is a run as GET /v1/flows/{id}/runs shows it.
type flowRun struct {
	ID          string `json:"id"`
	FlowID      string `json:"flow_id"`
	FlowVersion int    `json:"flow_version"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	FailedStep  string `json:"failed_step"`
	WorkflowID  string `json:"workflow_id"`
	RunID       string `json:"run_id"`
	Steps       []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"steps"`
}

// createFlow creates a flow and returns its id.
func createFlow(t *testing.T, s *teststack.Stack, body map[string]any) string {
	t.Helper()
	return s.MustDo(http.StatusCreated, "POST", "/v1/flows", body).Map(t)["id"].(string)
}

// runFlow runs a flow through the API with event data and waits until the
// run has finished.
func runFlowAndWait(t *testing.T, s *teststack.Stack, flowID string, data map[string]any) flowRun {
	t.Helper()
	var started flowRun
	s.MustDo(http.StatusAccepted, "POST", "/v1/flows/"+flowID+"/run", map[string]any{
		"event": map[string]any{"type": "case.created", "data": data},
	}).JSON(t, &started)
	if !strings.HasPrefix(started.WorkflowID, "trigger-") || started.ID == "" {
		t.Fatalf("started run = %+v", started)
	}
	return waitForRun(t, s, flowID, started.ID)
}

func waitForRun(t *testing.T, s *teststack.Stack, flowID, runID string) flowRun {
	t.Helper()
	var found flowRun
	testkit.Eventually(t, 60*time.Second, "run "+runID+" finishes", func() bool {
		var list struct{ Items []flowRun }
		s.MustDo(http.StatusOK, "GET", "/v1/flows/"+flowID+"/runs", nil).JSON(t, &list)
		for _, r := range list.Items {
			if r.ID == runID && r.Status != "pending" && r.Status != "running" {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// startFlowWorker starts a worker with only the flow engine, configured
// with settings (the stack's own worker has none), and stops it at the end.
func startFlowWorker(t *testing.T, s *teststack.Stack, settings activities.ActionSettings) {
	t.Helper()
	policy, err := activities.NewEgressPolicy([]string{"127.0.0.0/8", "::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	w := sdkworker.New(s.Temporal, workflows.TaskQueue, sdkworker.Options{})
	worker.RegisterFlows(w, worker.Options{DB: s.DB, Temporal: s.Temporal, Logger: testkit.Logger(),
		HTTP: activities.NewHTTPClient(policy)}, settings)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}

func TestFlowRunPassesOneStepsOutputToTheNext(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(_ int, r testkit.Received) testkit.Response {
		if r.Path == "/cases/42" {
			return testkit.Response{Status: 200, Body: []byte(`{"id": "T-99", "open": true}`), Header: map[string]string{"Content-Type": "application/json"}}
		}
		return testkit.Response{Status: 201, Body: []byte(`{"task": 1}`)}
	})
	flowID := createFlow(t, s, twoStepFlow("Case created", rc.URL))
	run := runFlowAndWait(t, s, flowID, map[string]any{"case": map[string]any{"id": 42}, "contact": "Ann"})

	if run.Status != "succeeded" || run.FlowVersion != 1 || run.RunID == "" || len(run.Steps) != 2 ||
		run.Steps[0].Name != "lookup" || run.Steps[1].Status != "succeeded" {
		t.Fatalf("run = %+v", run)
	}
	got := rc.Requests()
	if len(got) != 2 || got[0].Path != "/cases/42" || got[0].Header.Get("X-Case") != "42" || got[1].Path != "/tasks" {
		t.Fatalf("requests = %+v", got)
	}
	var body map[string]any
	if err := json.Unmarshal(got[1].Body, &body); err != nil || body["case"] != "T-99" || body["title"] != "Call Ann" {
		t.Fatalf("second request body %s (%v)", got[1].Body, err)
	}
}

// A single read of a run shows what each step returned, asked of the run's
// workflow (outputs are kept in its history, not in PostgreSQL): what a
// flow author sees after a test run.
func TestFlowRunShowsEachStepsOutput(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(_ int, r testkit.Received) testkit.Response {
		if r.Path == "/cases/42" {
			return testkit.Response{Status: 200, Body: []byte(`{"id": "T-99", "open": true}`), Header: map[string]string{"Content-Type": "application/json"}}
		}
		return testkit.Response{Status: 201, Body: []byte(`{"task": 1}`)}
	})
	flowID := createFlow(t, s, twoStepFlow("Outputs shown", rc.URL))
	run := runFlowAndWait(t, s, flowID, map[string]any{"case": map[string]any{"id": 42}, "contact": "Ann"})
	var got struct {
		Status  string                     `json:"status"`
		Steps   []map[string]any           `json:"steps"`
		Outputs map[string]json.RawMessage `json:"outputs"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/flows/"+flowID+"/runs/"+run.ID, nil).JSON(t, &got)
	var lookup struct {
		Response struct {
			Status int            `json:"status"`
			JSON   map[string]any `json:"json"`
		} `json:"response"`
	}
	if err := json.Unmarshal(got.Outputs["lookup"], &lookup); err != nil || lookup.Response.Status != 200 || lookup.Response.JSON["id"] != "T-99" {
		t.Fatalf("lookup's output %s (%v); want the response it got", got.Outputs["lookup"], err)
	}
	if got.Status != "succeeded" || len(got.Steps) != 2 || len(got.Outputs) != 2 {
		t.Fatalf("run read: %+v", got)
	}
	var detail struct {
		Outputs map[string]json.RawMessage `json:"outputs"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/runs/"+run.ID, nil).JSON(t, &detail)
	if string(detail.Outputs["lookup"]) != string(got.Outputs["lookup"]) {
		t.Fatalf("GET /v1/runs/{id} outputs %s, want the same as the flow's run read", detail.Outputs["lookup"])
	}
	if r := s.Do("GET", "/v1/flows/"+flowID+"/runs/run_nope", nil); r.Status != http.StatusNotFound {
		t.Fatalf("unknown run: %d", r.Status)
	}
}

// A failing step fails the run, which names the step; the workflow is
// started directly with the Temporal client, as a schedule would.
func TestFailingStepFailsTheRunWithItsName(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 404, Body: []byte("no such case")}
	})
	flowID := createFlow(t, s, twoStepFlow("Failing", rc.URL))

	ev := domain.Event{ID: "evt-fail", Type: "case.created", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{"case":{"id":7}}`)}
	wr, err := s.Temporal.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: "trigger-test-failing", TaskQueue: workflows.TaskQueue, WorkflowExecutionTimeout: time.Minute,
	}, workflows.FlowRunWorkflowName, workflows.FlowRunInput{FlowID: flowID, Event: &ev})
	if err != nil {
		t.Fatal(err)
	}
	werr := wr.Get(context.Background(), nil)
	if werr == nil || !strings.Contains(werr.Error(), `step "lookup" (http.request) failed`) {
		t.Fatalf("workflow error = %v", werr)
	}
	var list struct{ Items []flowRun }
	s.MustDo(http.StatusOK, "GET", "/v1/flows/"+flowID+"/runs?status=failed", nil).JSON(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("failed runs = %+v", list.Items)
	}
	run := list.Items[0]
	if run.FailedStep != "lookup" || !strings.Contains(run.Error, "HTTP 404: no such case") || run.WorkflowID != "trigger-test-failing" ||
		len(run.Steps) != 1 || run.Steps[0].Status != "failed" {
		t.Fatalf("run = %+v", run)
	}
	if rc.Count() != 1 {
		t.Fatalf("a 404 was tried %d times", rc.Count())
	}
}

func TestNotifyFlowLeavesNotifications(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	flowID := createFlow(t, s, map[string]any{"name": "Tell assignees", "steps": []any{
		map[string]any{"name": "tell", "action": "notify", "params": map[string]any{
			"text": "Case {{ case.id }} was created", "user_ids": []any{"{{ case.assignee }}", "9"}}},
	}})
	first := runFlowAndWait(t, s, flowID, map[string]any{"case": map[string]any{"id": 1, "assignee": "7"}})
	second := runFlowAndWait(t, s, flowID, map[string]any{"case": map[string]any{"id": 2, "assignee": "7"}})
	if first.Status != "succeeded" || second.Status != "succeeded" {
		t.Fatalf("runs %+v %+v", first, second)
	}
	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/notifications?user_id=7", nil).JSON(t, &list)
	if list.Total != 2 || list.Items[0]["text"] != "Case 2 was created" || list.Items[0]["run_id"] != second.ID ||
		list.Items[1]["text"] != "Case 1 was created" {
		t.Fatalf("notifications of user 7 = %+v", list)
	}
	s.MustDo(http.StatusOK, "GET", "/v1/notifications?user_id=9&per_page=1&page=2", nil).JSON(t, &list)
	if list.Total != 2 || len(list.Items) != 1 || list.Items[0]["text"] != "Case 1 was created" {
		t.Fatalf("page 2 of user 9 = %+v", list)
	}
}

func TestEmailFlowSendsThroughSMTP(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	mailSrv := startSMTPServer(t)
	startFlowWorker(t, s, activities.ActionSettings{SMTPURL: "smtp://" + mailSrv.Addr + "?from=noreply@triggerflow.test"})
	flowID := createFlow(t, s, map[string]any{"name": "Confirm case", "steps": []any{
		map[string]any{"name": "confirm", "action": "email.send", "params": map[string]any{
			"to": "{{ contact.email }}", "subject": "Case {{ case.id }} received",
			"body": "Hello {{ contact.name }},\nwe got your case {{ case.id }}."}},
	}})
	run := runFlowAndWait(t, s, flowID, map[string]any{"case": map[string]any{"id": 42},
		"contact": map[string]any{"name": "Ann", "email": "ann@example.com"}})
	if run.Status != "succeeded" {
		t.Fatalf("run = %+v", run)
	}
	m := mailSrv.waitForMessage(t, 10*time.Second)
	if m.From != "noreply@triggerflow.test" || len(m.To) != 1 || m.To[0] != "ann@example.com" {
		t.Fatalf("envelope = %+v", m)
	}
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if msg.Header.Get("Subject") != "Case 42 received" || msg.Header.Get("To") != "<ann@example.com>" ||
		strings.TrimRight(string(body), "\r\n") != "Hello Ann,\r\nwe got your case 42." {
		t.Fatalf("message headers %v body %q", msg.Header, body)
	}
}

func TestLeadUpdateListFlowCallsTheLeadAPI(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	var mu sync.Mutex
	var calls []string
	leadAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+string(b)+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(leadAPI.Close)
	startFlowWorker(t, s, activities.ActionSettings{LeadAPIURL: leadAPI.URL, LeadAPIToken: "tok"})
	// ipSCAPE's own example writes the list id as "lead.listId".
	flowID := createFlow(t, s, map[string]any{"name": "Move tried leads", "steps": []any{
		map[string]any{"name": "move", "action": "lead.update.list", "params": map[string]any{"lead.listId": "354"},
			"if": []any{map[string]any{"reference": "lead.totalAttempts", "operator": ">=", "value": "3"}}},
	}})
	run := runFlowAndWait(t, s, flowID, map[string]any{"leadId": "131413", "campaignId": "53", "lead": map[string]any{"totalAttempts": "3"}})
	if run.Status != "succeeded" || run.Steps[0].Status != "succeeded" {
		t.Fatalf("run = %+v", run)
	}
	skipped := runFlowAndWait(t, s, flowID, map[string]any{"leadId": "131414", "lead": map[string]any{"totalAttempts": "1"}})
	if skipped.Status != "succeeded" || skipped.Steps[0].Status != "skipped" {
		t.Fatalf("run under the threshold = %+v", skipped)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0] != `POST /leads/131413/list {"listId":"354"} Bearer tok` {
		t.Fatalf("lead API calls = %q", calls)
	}
}

// shoutInput and shoutResult belong to the action a flow author adds in
// TestAddingAnActionIsOneRegistration.
type shoutInput struct {
	Text  string `json:"text"`
	Times int    `json:"times"`
}

type shoutResult struct {
	Shouted string `json:"shouted"`
}

var registerShout sync.Once

// A flow author's new action: one NewAction + RegisterAction call makes it
// listed, validated and runnable.
func TestAddingAnActionIsOneRegistration(t *testing.T) {
	registerShout.Do(func() {
		activities.RegisterAction(activities.NewAction(domain.ActionSpec{
			Name:        "test.shout",
			Description: "Repeats a text in capitals.",
			Params: []domain.ParamSpec{
				{Name: "text", Type: domain.ParamString, Required: true, Description: "what to shout"},
				{Name: "times", Type: domain.ParamNumber, Default: json.Number("1"), Description: "how often"},
			},
			Outputs: []domain.OutputField{{Path: "shouted", Type: domain.ParamString, Description: "the result"}},
		}, func(_ *activities.Actions, _ context.Context, in shoutInput) (shoutResult, error) {
			if in.Times < 1 {
				return shoutResult{}, errors.New("times must be positive")
			}
			return shoutResult{Shouted: strings.TrimSpace(strings.Repeat(strings.ToUpper(in.Text)+" ", in.Times))}, nil
		}))
	})
	s := teststack.Start(t, teststack.Options{})
	a := s.MustDo(http.StatusOK, "GET", "/v1/actions/test.shout", nil).Map(t)
	if a["description"] != "Repeats a text in capitals." || len(a["params"].([]any)) != 2 {
		t.Fatalf("action = %v", a)
	}
	r := s.Do("POST", "/v1/flows", map[string]any{"name": "Bad shout", "steps": []any{
		map[string]any{"name": "s", "action": "test.shout", "params": map[string]any{"text": "hi", "times": "often"}},
	}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "steps[0].params.times") {
		t.Fatalf("bad params: %d %s", r.Status, r.Body)
	}
	flowID := createFlow(t, s, map[string]any{"name": "Shout", "steps": []any{
		map[string]any{"name": "shout", "action": "test.shout", "params": map[string]any{"text": "case {{ case.id }}", "times": "{{ n }}"}},
		map[string]any{"name": "tell", "action": "notify", "params": map[string]any{"text": "{{ steps.shout.shouted }}", "user_ids": "7"}},
	}})
	run := runFlowAndWait(t, s, flowID, map[string]any{"case": map[string]any{"id": 5}, "n": 2})
	if run.Status != "succeeded" {
		t.Fatalf("run = %+v", run)
	}
	var list struct{ Items []map[string]any }
	s.MustDo(http.StatusOK, "GET", "/v1/notifications?user_id=7", nil).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0]["text"] != "CASE 5 CASE 5" {
		t.Fatalf("notifications = %+v", list.Items)
	}
}

// A published event runs the flows of matching triggers, through the
// publish batch, the run planner and FlowRunWorkflow: an ipSCAPE-style
// trigger's actions and a Webitel-style trigger's service flow.
func TestPublishedEventRunsTriggerActionsAndFlows(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{
		"name": "Wrap webhook", "type": "on_event", "object": "agent", "event": "wrap",
		"conditions": []any{map[string]any{"reference": "campaignId", "operator": "in", "value": "215, 223"}},
		"actions":    []any{map[string]any{"action": "webhook", "parameters": map[string]any{"url": rc.URL + "/wrap"}}},
	})
	createFlow(t, s, map[string]any{"name": "Tell on wrap", "steps": []any{
		map[string]any{"name": "tell", "action": "notify", "params": map[string]any{
			"text": "{{ trigger.name }}: agent {{ agentId }} wrapped", "user_ids": "7"}},
	}})
	trg := s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{
		"name": "Wrap notice", "type": "on_event", "object": "agent", "event": "wrap", "flow": "Tell on wrap", "timeout": "1m",
	}).Map(t)
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{
		"id": "evt-wrap-1", "type": "agent.wrap", "data": map[string]any{"campaignId": "215", "agentId": "1093"},
	})
	got := rc.WaitFor(t, 1, 30*time.Second)[0]
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil || got.Method != "POST" || got.Path != "/wrap" ||
		body["id"] != "evt-wrap-1" || body["type"] != "agent.wrap" || body["data"].(map[string]any)["agentId"] != "1093" {
		t.Fatalf("webhook request %s %s %s (%v)", got.Method, got.Path, got.Body, err)
	}
	var list struct{ Items []map[string]any }
	testkit.Eventually(t, 30*time.Second, "the notification", func() bool {
		s.MustDo(http.StatusOK, "GET", "/v1/notifications?user_id=7", nil).JSON(t, &list)
		return len(list.Items) == 1
	})
	if list.Items[0]["text"] != "Wrap notice: agent 1093 wrapped" {
		t.Fatalf("notification = %v", list.Items[0])
	}
	var runs struct{ Items []flowRun }
	testkit.Eventually(t, 30*time.Second, "the run is recorded as succeeded", func() bool {
		s.MustDo(http.StatusOK, "GET", "/v1/triggers/"+trg["id"].(string)+"/runs", nil).JSON(t, &runs)
		return len(runs.Items) == 1 && runs.Items[0].Status == "succeeded"
	})
	if runs.Items[0].FlowVersion != 1 || !strings.HasPrefix(runs.Items[0].WorkflowID, "trigger-") {
		t.Fatalf("run = %+v", runs.Items[0])
	}
}
