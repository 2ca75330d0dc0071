//go:build !fuzzsmoke

package apiserver_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// previewPayload is ipSCAPE's own "Answering Machine Outcome" payload from
// its webhook payload examples.
const previewPayload = `{
    "timestamp": "2024-05-03T06:56:20+0000", "agentInteractionId": "181334", "wrapCode": "6",
    "callerNumber": "+612XXXXXXXX", "calledNumber": "+614XXXXXXXX", "activityId": "327997",
    "callbackDate": null, "agentId": "1093", "leadId": "131413", "campaignId": "20161",
    "lead": {"completed": false, "totalAttempts": "1", "listId": "20583", "customerKey": "258376",
      "nextAttempt": "2024-05-03T07:11:20+0000", "statusCode": "6",
      "phones": {"1": {"phone": "+614XXXXXXXX", "completed": false}},
      "outcomes": {"6": {"count": "1", "description": "Answer Machine"}}}}`

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestIPSCAPEEnvelopeIsPublishedAndDeliveredAsSent publishes an event the
// way ipSCAPE sends it — {"type": "outbound.lead.outcome.preview", "payload":
// {...}} — and checks that it is stored under the catalog type its alias
// names (the type as sent kept as source_type), that a webhook on the
// catalog type gets it, and that a one-line body template gives the
// receiver ipSCAPE's {"type", "payload"} shape back.
func TestIPSCAPEEnvelopeIsPublishedAndDeliveredAsSent(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{
		"name": "Preview outcomes", "url": rc.URL + "/ipscape", "event_types": []string{"lead.outcome_preview"},
		"body": `{"type": "{{ event.type }}", "payload": {{ event.data | json }}}`,
	})
	r := s.MustDo(http.StatusAccepted, "POST", "/v1/events",
		json.RawMessage(`{"id": "ips-1", "type": "outbound.lead.outcome.preview", "payload": `+previewPayload+`}`)).Map(t)
	if r["id"] != "ips-1" {
		t.Fatalf("publish = %v", r)
	}
	got := rc.WaitFor(t, 1, 20*time.Second)[0]
	var body struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(got.Body, &body); err != nil || body.Type != "lead.outcome_preview" || !sameJSON(t, body.Payload, []byte(previewPayload)) {
		t.Fatalf("receiver got %s (%v)", got.Body, err)
	}
	ev := s.MustDo(200, "GET", "/v1/events/ips-1", nil).Map(t)
	if ev["type"] != "lead.outcome_preview" || ev["source_type"] != "outbound.lead.outcome.preview" {
		t.Fatalf("event = %v", ev)
	}
	data, _ := json.Marshal(ev["data"])
	if !sameJSON(t, data, []byte(previewPayload)) {
		t.Fatalf("stored data %s is not the payload", data)
	}

	// In a batch too; and data and payload together are refused.
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", json.RawMessage(`{"events": [
		{"id": "ips-2", "type": "inbound.queue.abandon", "payload": {"timestamp": "2024-05-06T05:33:28+00:00", "activityId": "328011", "campaignId": "1017"}}]}`))
	if ev := s.MustDo(200, "GET", "/v1/events/ips-2", nil).Map(t); ev["type"] != "inbound.queue_abandoned" || ev["source_type"] != "inbound.queue.abandon" {
		t.Fatalf("batch event = %v", ev)
	}
	both := s.Do("POST", "/v1/events", json.RawMessage(`{"id": "ips-3", "type": "agent.wrap", "data": {}, "payload": {}}`))
	if both.Status != 400 || !strings.Contains(string(both.Body), `"payload"`) {
		t.Fatalf("data and payload: %d %s", both.Status, both.Body)
	}
	if r := s.Do("GET", "/v1/events/ips-3", nil); r.Status != 404 {
		t.Fatalf("a refused publish stored its event: %d", r.Status)
	}
	// A plain catalog type keeps no source_type.
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", json.RawMessage(`{"id": "ips-4", "type": "agent.wrap", "payload": {"campaignId": "1"}}`))
	if ev := s.MustDo(200, "GET", "/v1/events/ips-4", nil).Map(t); ev["source_type"] != nil || ev["type"] != "agent.wrap" {
		t.Fatalf("event = %v", ev)
	}
}

// TestEventTypeRegistry: an admin's own type with a schema, an example and an
// alias; webhooks and triggers subscribe to it like built-in ones; publishes
// are validated per its mode (reject: 400 naming the schema error, nothing
// stored; warn: accepted, the warning on the event); it shows in the catalog
// with its placeholders; it cannot be deleted while subscribed to.
func TestEventTypeRegistry(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	hook := map[string]any{"name": "Invoices", "url": rc.URL + "/inv", "event_types": []string{"invoice.paid"}}
	if r := s.Do("POST", "/v1/webhooks", hook); r.Status != 400 || !strings.Contains(string(r.Body), "event_types[0]") {
		t.Fatalf("webhook on an unknown type: %d %s", r.Status, r.Body)
	}
	schema := json.RawMessage(`{"type": "object", "required": ["invoice"], "properties": {"invoice": {"type": "object",
		"required": ["number", "amount"], "properties": {"number": {"type": "string"}, "amount": {"type": "number"}}}}}`)
	created := s.MustDo(http.StatusCreated, "POST", "/v1/event-types", map[string]any{
		"name": "invoice.paid", "description": "An invoice was paid.", "schema": schema,
		"example":    map[string]any{"invoice": map[string]any{"number": "INV-7", "amount": 120.5}},
		"aliases":    []string{"billing.invoice.paid"},
		"validation": "reject",
	}).Map(t)
	if created["custom"] != true || created["object"] != "invoice" || created["event"] != "paid" ||
		!slices.Contains(toStrings(created["placeholders"]), "invoice.amount") {
		t.Fatalf("created = %v", created)
	}
	for _, bad := range []map[string]any{
		{"name": "invoice.paid"},                                     // 409
		{"name": "case.created"},                                     // built-in
		{"name": "x.y", "schema": map[string]any{"type": 7}},         // bad schema
		{"name": "x.z", "aliases": []string{"billing.invoice.paid"}}, // taken alias
		{"name": "x.w", "validation": "reject"},                      // no schema
	} {
		if r := s.Do("POST", "/v1/event-types", bad); r.Status != 400 && r.Status != 409 {
			t.Fatalf("POST %v: %d %s", bad, r.Status, r.Body)
		}
	}
	wh := createWebhook(t, s, hook)
	flowID := createFlow(t, s, map[string]any{"name": "paid", "type": "service",
		"steps": []any{map[string]any{"name": "say", "action": "log", "params": map[string]any{"message": "{{ invoice.number }}"}}}})
	s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{"name": "Paid", "type": "on_event",
		"flow": flowID, "object": "invoice", "event": "paid"})

	// reject: 400 with the schema error, nothing stored.
	r := s.Do("POST", "/v1/events", map[string]any{"id": "inv-bad", "type": "invoice.paid", "data": map[string]any{"invoice": map[string]any{"number": "INV-8", "amount": "lots"}}})
	if r.Status != 400 || !strings.Contains(string(r.Body), "/invoice/amount") || !strings.Contains(string(r.Body), `"data"`) {
		t.Fatalf("invalid data under reject: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/events/inv-bad", nil); r.Status != 404 {
		t.Fatalf("a rejected event was stored: %d", r.Status)
	}
	// Published under its alias: stored and delivered as invoice.paid.
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "inv-1", "type": "billing.invoice.paid",
		"data": map[string]any{"invoice": map[string]any{"number": "INV-9", "amount": 10}}})
	got := rc.WaitFor(t, 1, 20*time.Second)[0]
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil || body["type"] != "invoice.paid" {
		t.Fatalf("delivered %s", got.Body)
	}
	runOf(t, s, "/v1/flows/"+flowID+"/runs", "succeeded")

	// warn: accepted, the warning kept on the event.
	s.MustDo(200, "PATCH", "/v1/event-types/invoice.paid", map[string]any{"validation": "warn"})
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "inv-warn", "type": "invoice.paid", "data": map[string]any{"invoice": map[string]any{}}})
	ev := s.MustDo(200, "GET", "/v1/events/inv-warn", nil).Map(t)
	if w := toStrings(ev["warnings"]); len(w) != 1 || !strings.Contains(w[0], "invoice.paid") || !strings.Contains(w[0], "number") {
		t.Fatalf("warnings = %v", ev["warnings"])
	}
	rc.WaitFor(t, 2, 20*time.Second)

	// The catalog lists built-in and custom types with what the console needs.
	var cat struct {
		EventTypes []string `json:"event_types"`
		Types      []struct {
			Name, Object, Event, Label, Description string
			Schema, Example                         json.RawMessage
			Custom                                  bool
			Aliases, Placeholders                   []string
		} `json:"types"`
	}
	s.MustDo(200, "GET", "/v1/catalog", nil).JSON(t, &cat)
	byName := map[string]int{}
	for i, ty := range cat.Types {
		byName[ty.Name] = i
	}
	if len(cat.Types) != len(domain.EventTypes())+1 || !slices.Contains(cat.EventTypes, "invoice.paid") {
		t.Fatalf("%d types, event_types %v", len(cat.Types), cat.EventTypes)
	}
	preview := cat.Types[byName["lead.outcome_preview"]]
	if preview.Custom || !slices.Contains(preview.Aliases, "outbound.lead.outcome.preview") || !sameJSON(t, preview.Example, []byte(previewPayload)) ||
		!slices.Contains(preview.Placeholders, "lead.totalAttempts") || preview.Description == "" || len(preview.Schema) < 10 {
		t.Fatalf("lead.outcome_preview = %+v", preview)
	}
	if inv := cat.Types[byName["invoice.paid"]]; !inv.Custom || inv.Description != "An invoice was paid." {
		t.Fatalf("invoice.paid = %+v", inv)
	}

	// An admin adds an alias to a built-in type; its description is fixed.
	s.MustDo(200, "PATCH", "/v1/event-types/agent.wrap", map[string]any{"aliases": []string{"ipscape.agent.wrap"}})
	if r := s.Do("PATCH", "/v1/event-types/agent.wrap", map[string]any{"description": "mine"}); r.Status != 400 {
		t.Fatalf("PATCH a built-in description: %d", r.Status)
	}
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "aw-1", "type": "ipscape.agent.wrap", "data": map[string]any{}})
	if ev := s.MustDo(200, "GET", "/v1/events/aw-1", nil).Map(t); ev["type"] != "agent.wrap" {
		t.Fatalf("admin alias: %v", ev)
	}
	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	s.MustDo(200, "GET", "/v1/event-types?custom=true", nil).JSON(t, &list)
	if list.Total != 1 || list.Items[0]["name"] != "invoice.paid" {
		t.Fatalf("custom types = %+v", list)
	}
	s.MustDo(200, "GET", "/v1/event-types?per_page=5&page=2", nil).JSON(t, &list)
	if len(list.Items) != 5 || list.Total != len(domain.EventTypes())+1 {
		t.Fatalf("page 2 = %d items of %d", len(list.Items), list.Total)
	}

	// Subscribed to: not deleted; built-in: never.
	if r := s.Do("DELETE", "/v1/event-types/invoice.paid", nil); r.Status != 409 || !strings.Contains(string(r.Body), "webhook invoices") {
		t.Fatalf("DELETE a subscribed type: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/v1/event-types/case.created", nil); r.Status != 409 {
		t.Fatalf("DELETE a built-in type: %d", r.Status)
	}
	s.MustDo(http.StatusNoContent, "DELETE", "/v1/webhooks/"+wh["id"].(string), nil)
	var triggers struct{ Items []map[string]any }
	s.MustDo(200, "GET", "/v1/triggers?object=invoice", nil).JSON(t, &triggers)
	for _, tr := range triggers.Items {
		s.MustDo(http.StatusNoContent, "DELETE", "/v1/triggers/"+tr["id"].(string), nil)
	}
	s.MustDo(http.StatusNoContent, "DELETE", "/v1/event-types/invoice.paid", nil)
	s.MustDo(http.StatusNotFound, "GET", "/v1/event-types/invoice.paid", nil)
}

// TestExamplesFeedTestSendsAndFlowRuns: a webhook's test send and a flow's
// test run without data use the type's example payload.
func TestExamplesFeedTestSendsAndFlowRuns(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	wh := createWebhook(t, s, map[string]any{"name": "Wraps", "url": rc.URL + "/wrap", "event_types": []string{"agent.wrap"}})
	s.MustDo(200, "POST", "/v1/webhooks/"+wh["id"].(string)+"/test", nil)
	got := rc.WaitFor(t, 1, 20*time.Second)[0]
	var body struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(got.Body, &body); err != nil || body.Type != "agent.wrap" || body.Data["interactionType"] != "call.manual" {
		t.Fatalf("test send body %s", got.Body)
	}

	flowID := createFlow(t, s, map[string]any{"name": "lead lookup", "steps": []any{
		map[string]any{"name": "lookup", "action": "http.request", "params": map[string]any{"url": rc.URL + "/leads/{{ leadId }}/{{ lead.totalAttempts }}", "method": "GET"}}}})
	var started flowRun
	s.MustDo(http.StatusAccepted, "POST", "/v1/flows/"+flowID+"/run", map[string]any{"event": map[string]any{"type": "outbound.lead.outcome.preview"}}).JSON(t, &started)
	if run := waitForRun(t, s, flowID, started.ID); run.Status != "succeeded" {
		t.Fatalf("run = %+v", run)
	}
	if req := rc.WaitFor(t, 2, 20*time.Second)[1]; req.Path != "/leads/131413/1" {
		t.Fatalf("the flow saw %s; the example's leadId is 131413", req.Path)
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
