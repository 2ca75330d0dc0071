//go:build !fuzzsmoke

package apiserver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// deliveryView is a delivery as the API answers it.
type deliveryView struct {
	ID             string     `json:"id"`
	WebhookCode    string     `json:"webhook_code"`
	EventID        string     `json:"event_id"`
	Status         string     `json:"status"`
	AttemptCount   int        `json:"attempt_count"`
	LastStatusCode *int       `json:"last_status_code"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	WorkflowID     string     `json:"workflow_id"`
	Attempts       []struct {
		Attempt int `json:"attempt"`
		Request struct {
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
		} `json:"request"`
		ResponseStatus *int   `json:"response_status"`
		ResponseBody   string `json:"response_body"`
		Truncated      bool   `json:"truncated"`
		Result         string `json:"result"`
	} `json:"attempts"`
}

// triggerDeliveries lists a trigger's event log.
func triggerDeliveries(t *testing.T, s *teststack.Stack, triggerID string) []deliveryView {
	t.Helper()
	var list struct{ Items []deliveryView }
	s.MustDo(http.StatusOK, "GET", "/v1/triggers/"+triggerID+"/deliveries", nil).JSON(t, &list)
	return list.Items
}

// agentWrap is ipSCAPE's agent.wrap payload example (a manual outbound call
// in campaign 215).
const agentWrap = `{"interactionType": "call.manual", "timestamp": "2024-05-03T06:29:19+0000", "agentInteractionId": "181329",
	"wrapCode": "6", "wrapDescription": "Answer Machine", "callerNumber": "+612XXXXXXXX", "calledNumber": "+614XXXXXXXX",
	"activityId": "327992", "callbackDate": null, "agentId": "1093", "leadId": null, "campaignId": "215", "lead": null,
	"durations": {"preview": 0, "dial": 6, "interaction": 20, "talk": 7, "wrap": 7}}`

// ipSCAPE's "Send Webhook on Agent Wrap" trigger, the event published as
// ipSCAPE sends it ({"type", "payload"}): the webhook action is a delivery in the trigger's event
// log — signed with the trigger's secret, a 404 retried ten minutes later
// (any non-2xx is), its attempt logged with request and response — while
// the run ends as soon as the delivery is handed over. A second trigger
// whose action retries nothing fails on a 500 and is retried by hand; its
// answer over 10 KB is kept cut. The senders are not webhooks the API
// lists, and their delivery workflows carry the trigger's id.
func TestIpscapeWebhookActionIsADeliveryInTheTriggersEventLog(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	big := strings.Repeat("r", 12*1024)
	var mu sync.Mutex
	seen := map[string]int{}
	rc.Script(func(_ int, r testkit.Received) testkit.Response {
		mu.Lock()
		seen[r.Path]++
		k := seen[r.Path]
		mu.Unlock()
		switch {
		case r.Path == "/wrap/1093" && k == 1:
			return testkit.Response{Status: http.StatusNotFound, Body: []byte("no such agent")}
		case r.Path == "/audit" && k == 1:
			return testkit.Response{Status: http.StatusInternalServerError}
		case r.Path == "/audit":
			return testkit.Response{Status: http.StatusOK, Body: []byte(big)}
		}
		return testkit.Response{Status: http.StatusOK}
	})
	wrap := s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{
		"name": "Send Webhook on Agent Wrap", "type": "on_event", "object": "agent", "event": "wrap", "timeout": "5s",
		"conditions": []any{map[string]any{"reference": "campaignId", "operator": "in", "value": "215,223"}},
		"actions":    []any{map[string]any{"action": "webhook", "parameters": map[string]any{"url": rc.URL + "/wrap/{{ agentId }}"}}},
	}).Map(t)
	wrapID, secret := wrap["id"].(string), wrap["signing_secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || strings.Contains(secret, "…") {
		t.Fatalf("the create answer's signing_secret is %q, want it whole", secret)
	}
	if got := s.MustDo(http.StatusOK, "GET", "/v1/triggers/"+wrapID, nil).Map(t)["signing_secret"]; got != "whsec_…"+secret[len(secret)-4:] {
		t.Fatalf("a read shows signing_secret %v, want it masked", got)
	}
	audit := s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{
		"name": "Audit wraps", "type": "on_event", "object": "agent", "event": "wrap",
		"actions": []any{map[string]any{"action": "webhook", "parameters": map[string]any{"url": rc.URL + "/audit", "retry": "none"}}},
	}).Map(t)
	auditID := audit["id"].(string)

	// As ipSCAPE sends it: its envelope, no id of ours.
	eventID := s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{
		"type": "agent.wrap", "payload": json.RawMessage(agentWrap)}).Map(t)["id"].(string)
	got := rc.WaitFor(t, 2, 30*time.Second)
	var toWrap testkit.Received
	for _, r := range got {
		if r.Path == "/wrap/1093" {
			toWrap = r
		}
	}
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if toWrap.Path == "" || v.Verify(toWrap.Body, toWrap.Header) != nil {
		t.Fatalf("the wrap request %+v does not verify with the trigger's secret", toWrap)
	}
	var sent struct {
		ID   string         `json:"id"`
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(toWrap.Body, &sent); err != nil || sent.ID != eventID || sent.Type != "agent.wrap" || sent.Data["agentId"] != "1093" {
		t.Fatalf("sent %s (%v)", toWrap.Body, err)
	}

	var d deliveryView
	testkit.Eventually(t, 30*time.Second, "the 404 is logged and the delivery waits for its retry", func() bool {
		ds := triggerDeliveries(t, s, wrapID)
		if len(ds) != 1 || ds[0].AttemptCount != 1 {
			return false
		}
		d = ds[0]
		return true
	})
	if d.Status != "pending" || d.LastStatusCode == nil || *d.LastStatusCode != 404 || d.NextAttemptAt == nil ||
		time.Until(*d.NextAttemptAt) < 9*time.Minute || d.WebhookCode != "trigger."+wrapID || d.ID != toWrap.Header.Get("Webhook-Id") ||
		d.WorkflowID != "delivery-"+d.ID || d.EventID != eventID {
		t.Fatalf("the wrap delivery %+v", d)
	}
	var full deliveryView
	s.MustDo(http.StatusOK, "GET", "/v1/deliveries/"+d.ID, nil).JSON(t, &full)
	if len(full.Attempts) != 1 || full.Attempts[0].Request.URL != rc.URL+"/wrap/1093" || full.Attempts[0].Request.Body != string(toWrap.Body) ||
		*full.Attempts[0].ResponseStatus != 404 || full.Attempts[0].ResponseBody != "no such agent" || full.Attempts[0].Result != "FAILED" {
		t.Fatalf("the wrap attempt %+v", full.Attempts)
	}
	run := runOf(t, s, "/v1/triggers/"+wrapID+"/runs", "succeeded")
	var detail struct {
		Steps []struct {
			Name       string         `json:"name"`
			Status     string         `json:"status"`
			Deliveries []deliveryView `json:"deliveries"`
		} `json:"steps"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/runs/"+run["id"].(string), nil).JSON(t, &detail)
	if len(detail.Steps) != 1 || detail.Steps[0].Name != "action_1" || detail.Steps[0].Status != "succeeded" ||
		len(detail.Steps[0].Deliveries) != 1 || detail.Steps[0].Deliveries[0].ID != d.ID {
		t.Fatalf("the run's log %+v", detail)
	}
	testkit.Eventually(t, 30*time.Second, "the delivery's workflow carries the trigger", func() bool {
		_, attrs := describeRun(t, s, d.WorkflowID, "")
		return attrs["TriggerFlowTrigger"] == wrapID && attrs["TriggerFlowWebhook"] == "trigger."+wrapID
	})

	var failed deliveryView
	testkit.Eventually(t, 30*time.Second, "the audit delivery fails without retries", func() bool {
		ds := triggerDeliveries(t, s, auditID)
		if len(ds) != 1 || ds[0].Status != "failed" {
			return false
		}
		failed = ds[0]
		return true
	})
	s.MustDo(http.StatusAccepted, "POST", "/v1/deliveries/"+failed.ID+"/retry", nil)
	testkit.Eventually(t, 30*time.Second, "the retried audit delivery succeeds", func() bool {
		ds := triggerDeliveries(t, s, auditID)
		return len(ds) == 1 && ds[0].Status == "succeeded"
	})
	s.MustDo(http.StatusOK, "GET", "/v1/deliveries/"+failed.ID, nil).JSON(t, &full)
	if len(full.Attempts) != 2 || !full.Attempts[0].Truncated || len(full.Attempts[0].ResponseBody) != 10*1024 ||
		*full.Attempts[1].ResponseStatus != 500 {
		t.Fatalf("the audit attempts %+v", full.Attempts)
	}

	var hooks struct{ Total int }
	s.MustDo(http.StatusOK, "GET", "/v1/webhooks", nil).JSON(t, &hooks)
	if hooks.Total != 0 {
		t.Fatalf("the webhooks API lists %d webhooks, want none", hooks.Total)
	}
	s.MustDo(http.StatusNotFound, "GET", "/v1/webhooks/trigger."+wrapID, nil)
	rotated := s.MustDo(http.StatusOK, "POST", "/v1/triggers/"+wrapID+"/rotate-secret", nil).Map(t)
	if ns, _ := rotated["signing_secret"].(string); !strings.HasPrefix(ns, "whsec_") || ns == secret || rotated["previous_signing_secret_expires_at"] == nil {
		t.Fatalf("rotated %v", rotated)
	}
}

// A run's log shows each try of an http.request step with its request and
// response, and the delivery of a webhook step; a flow run by itself sends
// its webhook steps as deliveries of the flow.
func TestRunLogShowsHTTPTriesAndWebhookDeliveries(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	var lookups atomic.Int32
	rc.Script(func(_ int, r testkit.Received) testkit.Response {
		if r.Path == "/lookup" && lookups.Add(1) == 1 {
			return testkit.Response{Status: http.StatusServiceUnavailable, Body: []byte("busy")}
		}
		return testkit.Response{Status: http.StatusOK, Body: []byte(`{"owner":"ops"}`), Header: map[string]string{"Content-Type": "application/json"}}
	})
	flowID := createFlow(t, s, map[string]any{"name": "Lookup and tell", "steps": []any{
		map[string]any{"name": "lookup", "action": "http.request", "retry": map[string]any{"initial_interval": "1s", "max_attempts": 3},
			"params": map[string]any{"url": rc.URL + "/lookup", "headers": map[string]any{"Authorization": "Bearer k"}}},
		map[string]any{"name": "tell", "action": "webhook",
			"params": map[string]any{"url": rc.URL + "/tell", "payload": map[string]any{"owner": "{{ steps.lookup.response.json.owner }}"}}},
	}})
	run := runFlowAndWait(t, s, flowID, map[string]any{"case": map[string]any{"id": 5}})
	if run.Status != "succeeded" {
		t.Fatalf("run %+v", run)
	}
	type stepView struct {
		Name     string `json:"name"`
		Status   string `json:"status"`
		StepID   string `json:"step_id"`
		Attempts []struct {
			Attempt        int `json:"attempt"`
			ResponseStatus int `json:"response_status"`
			Request        struct {
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
			} `json:"request"`
			ResponseBody string `json:"response_body"`
			Result       string `json:"result"`
		} `json:"attempts"`
		Deliveries []deliveryView `json:"deliveries"`
	}
	var detail struct{ Steps []stepView }
	testkit.Eventually(t, 30*time.Second, "the webhook step's delivery succeeds", func() bool {
		s.MustDo(http.StatusOK, "GET", "/v1/runs/"+run.ID, nil).JSON(t, &detail)
		return len(detail.Steps) == 2 && len(detail.Steps[1].Deliveries) == 1 && detail.Steps[1].Deliveries[0].Status == "succeeded"
	})
	lookup, tell := detail.Steps[0], detail.Steps[1]
	if lookup.Name != "lookup" || lookup.StepID != "step-1" || len(lookup.Attempts) != 2 ||
		lookup.Attempts[0].Attempt != 2 || lookup.Attempts[0].Result != "SUCCESS" || lookup.Attempts[0].ResponseBody != `{"owner":"ops"}` ||
		lookup.Attempts[1].ResponseStatus != 503 || lookup.Attempts[1].ResponseBody != "busy" ||
		lookup.Attempts[1].Request.URL != rc.URL+"/lookup" || lookup.Attempts[1].Request.Headers["Authorization"] == "Bearer k" {
		t.Fatalf("the lookup step %+v", lookup)
	}
	if tell.Name != "tell" || tell.Status != "succeeded" || tell.Deliveries[0].WebhookCode != "flow."+flowID {
		t.Fatalf("the tell step %+v", tell)
	}
	var toTell testkit.Received
	for _, r := range rc.Requests() {
		if r.Path == "/tell" {
			toTell = r
		}
	}
	if string(toTell.Body) != `{"owner":"ops"}` || toTell.Header.Get("Webhook-Id") != tell.Deliveries[0].ID {
		t.Fatalf("the tell request %s %v", toTell.Body, toTell.Header)
	}
}
