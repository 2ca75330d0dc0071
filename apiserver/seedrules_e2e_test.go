//go:build !fuzzsmoke

package apiserver_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// TestSuccessStatusNarrowsSuccess is Cotalker's rule, "status codes 200-209
// are SUCCESS": a 210 is a FAILED attempt, retried by the webhook's policy,
// and the 200 that follows succeeds. Without success_status a 210 succeeds.
func TestSuccessStatusNarrowsSuccess(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(n int, r testkit.Received) testkit.Response {
		if strings.HasPrefix(r.Path, "/cotalker") && n == 1 {
			return testkit.Response{Status: 210, Body: []byte("accepted, but not by Cotalker's rule")}
		}
		return testkit.Response{Status: 210}
	})
	wh := createWebhook(t, s, map[string]any{"name": "Cotalker", "url": rc.URL + "/cotalker", "event_types": []string{"task.created"},
		"success_status": "200-209", "retry": map[string]any{"initial_interval": "1s", "backoff": 1, "max_attempts": 3}})
	if wh["success_status"] != "200-209" {
		t.Fatalf("webhook = %v", wh)
	}
	plain := createWebhook(t, s, map[string]any{"name": "Plain", "url": rc.URL + "/plain", "event_types": []string{"task.created"}})
	if plain["success_status"] != "200-299" {
		t.Fatalf("default success_status = %v", plain["success_status"])
	}
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "task-1", "type": "task.created", "data": map[string]any{"task": map[string]any{"id": 1}}})

	// Every answer after the first is 210 too: all three tries fail.
	var list struct {
		Items []map[string]any `json:"items"`
	}
	testkit.Eventually(t, 30*time.Second, "the Cotalker delivery fails after its 3 tries", func() bool {
		s.MustDo(200, "GET", "/v1/webhooks/cotalker/deliveries?status=failed", nil).JSON(t, &list)
		return len(list.Items) == 1
	})
	d := s.MustDo(200, "GET", "/v1/deliveries/"+list.Items[0]["id"].(string), nil).Map(t)
	atts := d["attempts"].([]any)
	if len(atts) != 3 {
		t.Fatalf("attempts = %v", atts)
	}
	for _, a := range atts {
		a := a.(map[string]any)
		if a["result"] != "FAILED" || a["response_status"].(float64) != 210 || !strings.Contains(a["error"].(string), "success_status") {
			t.Fatalf("attempt = %v", a)
		}
	}
	testkit.Eventually(t, 30*time.Second, "the plain webhook's 210 succeeds", func() bool {
		s.MustDo(200, "GET", "/v1/webhooks/plain/deliveries?status=succeeded", nil).JSON(t, &list)
		return len(list.Items) == 1
	})

	// A 200 is SUCCESS for both.
	rc.Script(func(int, testkit.Received) testkit.Response { return testkit.Response{Status: 200} })
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "task-2", "type": "task.created", "data": map[string]any{}})
	testkit.Eventually(t, 30*time.Second, "a 200 succeeds under 200-209", func() bool {
		s.MustDo(200, "GET", "/v1/webhooks/cotalker/deliveries?status=succeeded", nil).JSON(t, &list)
		return len(list.Items) == 1
	})

	for _, bad := range []string{"199-209", "200-300", "abc", "209-200", "3xx"} {
		r := s.Do("PATCH", "/v1/webhooks/cotalker", map[string]any{"success_status": bad})
		if r.Status != 400 || !strings.Contains(string(r.Body), "success_status") {
			t.Fatalf("success_status %q: %d %s", bad, r.Status, r.Body)
		}
	}
	if got := s.MustDo(200, "PATCH", "/v1/webhooks/cotalker", map[string]any{"success_status": "200,201,204"}).Map(t); got["success_status"] != "200,201,204" {
		t.Fatalf("list form: %v", got["success_status"])
	}
	if got := s.MustDo(200, "PATCH", "/v1/webhooks/cotalker", map[string]any{"success_status": nil}).Map(t); got["success_status"] != "200-299" {
		t.Fatalf("null resets: %v", got["success_status"])
	}
}

// TestWebhookUseCaseIsFixedAndScopesEventTypes: webhook scripts' use case
// cannot change after creation and its event types must belong to it.
func TestWebhookUseCaseIsFixedAndScopesEventTypes(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	wh := createWebhook(t, s, map[string]any{"name": "Contacts", "url": rc.URL + "/c", "use_case": "contact",
		"event_types": []string{"contact.*"}, "params": map[string]string{"first": "{{ contact.first_name }}"}})
	if wh["use_case"] != "contact" {
		t.Fatalf("webhook = %v", wh)
	}
	for name, body := range map[string]map[string]any{
		"event of another object": {"name": "x1", "url": rc.URL, "use_case": "contact", "event_types": []string{"case.created"}},
		"everything":              {"name": "x2", "url": rc.URL, "use_case": "contact", "event_types": []string{"*"}},
		"unknown object":          {"name": "x3", "url": rc.URL, "use_case": "planet", "event_types": []string{"contact.created"}},
	} {
		if r := s.Do("POST", "/v1/webhooks", body); r.Status != 400 {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := s.Do("PATCH", "/v1/webhooks/contacts", map[string]any{"use_case": "ticket"}); r.Status != 400 || !strings.Contains(string(r.Body), "use_case") {
		t.Fatalf("PATCH use_case: %d %s", r.Status, r.Body)
	}
	if r := s.Do("PATCH", "/v1/webhooks/contacts", map[string]any{"event_types": []string{"ticket.created"}}); r.Status != 400 {
		t.Fatalf("PATCH event_types out of the use case: %d %s", r.Status, r.Body)
	}
	got := s.MustDo(200, "PATCH", "/v1/webhooks/contacts", map[string]any{"use_case": "contact", "event_types": []string{"contact.created"}}).Map(t)
	if got["use_case"] != "contact" {
		t.Fatalf("after PATCH: %v", got)
	}
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"type": "contact.created", "data": map[string]any{"contact": map[string]any{"first_name": "Olena"}}})
	if r := rc.WaitFor(t, 1, 20*time.Second)[0]; r.Query != "first=Olena" {
		t.Fatalf("delivered with query %q", r.Query)
	}
}

// TestLinkedCasesAreRelatedCases: Webitel's objects list calls related cases
// "Linked cases"; both names are accepted and mean one object.
func TestLinkedCasesAreRelatedCases(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	flowID := createFlow(t, s, map[string]any{"name": "linked", "steps": []any{map[string]any{"name": "say", "action": "log", "params": map[string]any{"message": "linked"}}}})
	tr := s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{"name": "Linked", "type": "on_event",
		"flow": flowID, "object": "linked_case", "event": "created"}).Map(t)
	if tr["object"] != "related_case" || tr["event_type"] != "related_case.created" {
		t.Fatalf("trigger = %v", tr)
	}
	var list struct{ Total int }
	s.MustDo(200, "GET", "/v1/triggers?object=linked_case", nil).JSON(t, &list)
	if list.Total != 1 {
		t.Fatalf("filter by linked_case found %d", list.Total)
	}
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"type": "related_case.created", "data": map[string]any{}})
	runOf(t, s, "/v1/triggers/"+tr["id"].(string)+"/runs", "succeeded")
}

// TestFlowDeclaresTheEventsItExpects: a trigger or hook whose event the flow
// does not expect is refused on "flow"; a test run without an event uses the
// first expected type's example.
func TestFlowDeclaresTheEventsItExpects(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	flowID := createFlow(t, s, map[string]any{"name": "on new cases", "event_types": []string{"case.created"},
		"steps": []any{map[string]any{"name": "call", "action": "http.request", "params": map[string]any{"url": rc.URL + "/cases/{{ case.number }}", "method": "GET"}}}})
	f := s.MustDo(200, "GET", "/v1/flows/"+flowID, nil).Map(t)
	if types := toStrings(f["event_types"]); len(types) != 1 || types[0] != "case.created" {
		t.Fatalf("flow = %v", f)
	}
	r := s.Do("POST", "/v1/triggers", map[string]any{"name": "Updated", "type": "on_event", "flow": flowID, "object": "case", "event": "updated"})
	if r.Status != 400 || !strings.Contains(string(r.Body), `"flow":"flow \"on new cases\" expects events of case.created, not case.updated"`) ||
		!strings.Contains(string(r.Body), `"flow":"flow_event_mismatch"`) {
		t.Fatalf("trigger on another event: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/triggers", map[string]any{"name": "Daily", "type": "at_time", "flow": flowID, "expression": "@daily"}); r.Status != 400 {
		t.Fatalf("at_time trigger with an event flow: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/queues/sales/hooks", map[string]any{"event": "missed", "flow": flowID}); r.Status != 400 {
		t.Fatalf("queue hook with a case flow: %d %s", r.Status, r.Body)
	}
	s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{"name": "Created", "type": "on_event", "flow": flowID, "object": "case", "event": "created"})
	if r := s.Do("POST", "/v1/flows", map[string]any{"name": "bad", "event_types": []string{"case.nope"},
		"steps": []any{map[string]any{"name": "a", "action": "log", "params": map[string]any{"message": "x"}}}}); r.Status != 400 ||
		!strings.Contains(string(r.Body), "event_types[0]") {
		t.Fatalf("flow expecting an unknown type: %d %s", r.Status, r.Body)
	}

	var started flowRun
	s.MustDo(http.StatusAccepted, "POST", "/v1/flows/"+flowID+"/run", nil).JSON(t, &started)
	if run := waitForRun(t, s, flowID, started.ID); run.Status != "succeeded" {
		t.Fatalf("run = %+v", run)
	}
	if got := rc.WaitFor(t, 1, 20*time.Second)[0]; got.Path != "/cases/C-1042" {
		t.Fatalf("the test run saw %s; case.created's example is case C-1042", got.Path)
	}
}

// TestQueuesThatHaveHooks: a typo in a queue id shows as a queue of its own.
func TestQueuesThatHaveHooks(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	flowID := createFlow(t, s, map[string]any{"name": "q", "steps": []any{map[string]any{"name": "say", "action": "log", "params": map[string]any{"message": "q"}}}})
	s.MustDo(http.StatusCreated, "POST", "/v1/queues/sales/hooks", map[string]any{"event": "missed", "flow": flowID})
	s.MustDo(http.StatusCreated, "POST", "/v1/queues/sales/hooks", map[string]any{"event": "joined", "flow": flowID})
	s.MustDo(http.StatusCreated, "POST", "/v1/queues/salse/hooks", map[string]any{"event": "missed", "flow": flowID, "enabled": false})
	var list struct {
		Items []struct {
			QueueID      string   `json:"queue_id"`
			Hooks        int      `json:"hooks"`
			EnabledHooks int      `json:"enabled_hooks"`
			Events       []string `json:"events"`
		} `json:"items"`
		Total, PerPage int
	}
	s.MustDo(200, "GET", "/v1/queues", nil).JSON(t, &list)
	if list.Total != 2 || len(list.Items) != 2 || list.Items[0].QueueID != "sales" || list.Items[0].Hooks != 2 || list.Items[0].EnabledHooks != 2 ||
		strings.Join(list.Items[0].Events, ",") != "joined,missed" || list.Items[1].QueueID != "salse" || list.Items[1].EnabledHooks != 0 {
		t.Fatalf("queues = %+v", list)
	}
	s.MustDo(200, "GET", "/v1/queues?per_page=1&page=2", nil).JSON(t, &list)
	if list.Total != 2 || len(list.Items) != 1 || list.Items[0].QueueID != "salse" {
		t.Fatalf("page 2 = %+v", list)
	}
	if r := s.Do("GET", "/v1/queues?per_page=501", nil); r.Status != 400 {
		t.Fatalf("per_page 501: %d", r.Status)
	}
}

// TestTriggerConditionExpression is MPIQ's "when the attempts field equals
// the maximum attempt threshold": two fields compared, which reference/
// operator/value conditions cannot say.
func TestTriggerConditionExpression(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	flowID := createFlow(t, s, map[string]any{"name": "mpiq", "steps": []any{map[string]any{"name": "say", "action": "log", "params": map[string]any{"message": "{{ attempts }}"}}}})
	tr := s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{"name": "MPIQ exhausted", "type": "on_event",
		"flow": flowID, "object": "mpiq", "event": "attempt",
		"conditions":           []any{map[string]any{"reference": "status", "operator": "=", "value": "calling"}},
		"condition_expression": "data.attempts == data.max_attempts"}).Map(t)
	if tr["condition_expression"] != "data.attempts == data.max_attempts" {
		t.Fatalf("trigger = %v", tr)
	}
	id := tr["id"].(string)
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "mpiq-1", "type": "mpiq.attempt", "payload": map[string]any{"status": "calling", "attempts": "1", "max_attempts": "2"}})
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "mpiq-2", "type": "mpiq.attempt", "payload": map[string]any{"status": "calling", "attempts": "2", "max_attempts": "2"}})
	run := runOf(t, s, "/v1/triggers/"+id+"/runs", "succeeded")
	if run["event_id"] != "mpiq-2" {
		t.Fatalf("run of %v", run["event_id"])
	}
	time.Sleep(500 * time.Millisecond)
	var list struct{ Total int }
	s.MustDo(200, "GET", "/v1/triggers/"+id+"/runs", nil).JSON(t, &list)
	if list.Total != 1 {
		t.Fatalf("%d runs; only mpiq-2 has attempts == max_attempts", list.Total)
	}
	if r := s.Do("PATCH", "/v1/triggers/"+id, map[string]any{"condition_expression": "data.attempts =="}); r.Status != 400 ||
		!strings.Contains(string(r.Body), `"condition_expression":"invalid_expression"`) {
		t.Fatalf("bad CEL: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/triggers", map[string]any{"name": "t", "type": "at_time", "flow": flowID, "expression": "@daily",
		"condition_expression": "true"}); r.Status != 400 {
		t.Fatalf("at_time with a CEL condition: %d %s", r.Status, r.Body)
	}
}

// TestValidationErrorsCarryStableCodes: each field problem has a code the
// console can map, and ipSCAPE's cases answer with ipSCAPE's wording.
func TestValidationErrorsCarryStableCodes(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	type errBody struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
			Codes   map[string]string `json:"codes"`
		} `json:"error"`
	}
	lead := map[string]any{"name": "Move", "type": "on_event", "object": "lead", "event": "outcome_predictive"}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range lead {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name, path string
		body       any
		field      string
		code       string
		message    string
	}{
		{"malformed JSON", "/v1/triggers", `{"name": "Move", "actions": [`, "body", "invalid_json", "Invalid JSON format: check that the parameters field is not empty"},
		{"empty actions", "/v1/triggers", with(map[string]any{"actions": []any{}}), "actions", "actions_missing", "Actions object error: check that the action in the parameters is not empty"},
		{"action without a name", "/v1/triggers", with(map[string]any{"actions": []any{map[string]any{"parameters": map[string]any{"listId": "1"}}}}), "actions[0].action", "actions_missing", "Actions object error: check that the action in the parameters is not empty"},
		{"empty parameters", "/v1/triggers", with(map[string]any{"actions": []any{map[string]any{"action": "webhook", "parameters": map[string]any{}}}}), "actions[0].parameters", "invalid_action_parameters", "Invalid action parameters: check the parameters are not empty or incorrectly formatted"},
		{"unknown action", "/v1/triggers", with(map[string]any{"actions": []any{map[string]any{"action": "lead.delete", "parameters": map[string]any{"x": "1"}}}}), "actions[0].action", "invalid_action", "Error when saving trigger: check the action is valid, spelled correctly and formatted correctly"},
		{"event not allowed", "/v1/triggers", map[string]any{"name": "x", "type": "on_event", "flow": "f", "object": "case_file", "event": "updated"}, "event", "event_not_allowed", ""},
		{"bad cron", "/v1/triggers", map[string]any{"name": "x", "type": "at_time", "flow": "f", "expression": "61 * * * *"}, "expression", "invalid_cron", ""},
		{"bad zone", "/v1/triggers", map[string]any{"name": "x", "type": "at_time", "flow": "f", "expression": "@daily", "timezone": "Mars/Base"}, "timezone", "invalid_timezone", ""},
		{"bad code", "/v1/webhooks", map[string]any{"name": "x", "code": "Bad Code", "url": "https://example.com", "event_types": []string{"case.created"}}, "code", "invalid_code", ""},
		{"not http", "/v1/webhooks", map[string]any{"name": "x", "url": "ftp://example.com", "event_types": []string{"case.created"}}, "url", "invalid_url", ""},
		{"unknown field", "/v1/webhooks", map[string]any{"name": "x", "colour": "red"}, "colour", "unknown_field", ""},
	}
	for _, tc := range cases {
		r := s.Do("POST", tc.path, tc.body)
		var b errBody
		r.JSON(t, &b)
		if r.Status != 400 || b.Error.Code != "invalid" || b.Error.Fields[tc.field] == "" || b.Error.Codes[tc.field] != tc.code {
			t.Errorf("%s: %d %s; want codes[%s] = %s", tc.name, r.Status, r.Body, tc.field, tc.code)
			continue
		}
		if tc.message != "" && b.Error.Message != tc.message {
			t.Errorf("%s: message %q, want the seed's %q", tc.name, b.Error.Message, tc.message)
		}
	}
}
