package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestBuiltinEventTypesDescribeEveryCatalogType(t *testing.T) {
	defs := BuiltinEventTypes()
	if len(defs) != len(EventTypes()) {
		t.Fatalf("%d definitions for %d catalog types", len(defs), len(EventTypes()))
	}
	for i, d := range defs {
		if d.Name != EventTypes()[i] || d.Description == "" || d.Label == "" || d.Custom || d.Validation != ValidationOff {
			t.Errorf("%d: %+v", i, d)
		}
		if obj, ev := SplitEventType(d.Name); d.Object != obj || d.Event != ev {
			t.Errorf("%s: object %q event %q", d.Name, d.Object, d.Event)
		}
		s, err := CompileEventSchema(d.Schema)
		if err != nil {
			t.Errorf("%s: schema: %v", d.Name, err)
			continue
		}
		// The example is what the placeholder picker and test sends show:
		// it must be valid under its own type's schema.
		if err := s.Check(d.Example); err != nil {
			t.Errorf("%s: example does not match its schema: %v", d.Name, err)
		}
	}
}

func TestBuiltinAliasTable(t *testing.T) {
	want := map[string]string{
		"outbound.lead.outcome.predictive": "lead.outcome_predictive",
		"outbound.lead.outcome.preview":    "lead.outcome_preview",
		"inbound.workflow.abandon":         "inbound.workflow_abandoned",
		"inbound.queue.abandon":            "inbound.queue_abandoned",
	}
	got := BuiltinAliases()
	if len(got) != len(want) {
		t.Fatalf("aliases = %v", got)
	}
	for alias, target := range want {
		if got[alias] != target {
			t.Errorf("%s → %q, want %s", alias, got[alias], target)
		}
	}
	// ipSCAPE's other two names are catalog types as they are.
	for _, same := range []string{"agent.wrap", "mpiq.attempt"} {
		if !IsCatalogEventType(same) {
			t.Errorf("%s is not a catalog type", same)
		}
	}
	d, _ := BuiltinEventType("lead.outcome_preview")
	var ex map[string]any
	if err := json.Unmarshal(d.Example, &ex); err != nil || ex["campaignId"] != "20161" || ex["wrapCode"] != "6" {
		t.Fatalf("lead.outcome_preview example is not the seed's payload: %s", d.Example)
	}
}

func TestEventTypeRegistryResolvesAndChecks(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","required":["invoice"],"properties":{"invoice":{"type":"object","required":["amount"],"properties":{"amount":{"type":"number"}}}}}`)
	reg := NewEventTypeRegistry([]EventTypeDef{
		{Name: "invoice.paid", Custom: true, Schema: schema, Example: json.RawMessage(`{"invoice":{"amount":10}}`),
			Aliases: []string{"billing.invoice.paid"}, Validation: ValidationReject},
		{Name: "agent.wrap", Aliases: []string{"ipscape.agent.wrap"}, Validation: ValidationWarn},
	})
	for published, want := range map[string]string{
		"outbound.lead.outcome.preview": "lead.outcome_preview",
		"billing.invoice.paid":          "invoice.paid",
		"ipscape.agent.wrap":            "agent.wrap",
		"case.created":                  "case.created",
		"something.else":                "something.else",
	} {
		if got, aliased := reg.Resolve(published); got != want || aliased != (got != published) {
			t.Errorf("Resolve(%s) = %s, %v", published, got, aliased)
		}
	}
	if mode, err := reg.CheckData("invoice.paid", json.RawMessage(`{"invoice":{"amount":"ten"}}`)); mode != ValidationReject ||
		err == nil || !strings.Contains(err.Error(), "/invoice/amount") {
		t.Fatalf("CheckData = %s, %v; want reject naming /invoice/amount", mode, err)
	}
	if _, err := reg.CheckData("invoice.paid", json.RawMessage(`{"invoice":{"amount":10}}`)); err != nil {
		t.Fatal(err)
	}
	// agent.wrap's built-in schema needs interactionType.
	if mode, err := reg.CheckData("agent.wrap", json.RawMessage(`{"timestamp":"x","campaignId":"1"}`)); mode != ValidationWarn || err == nil {
		t.Fatalf("agent.wrap warn: %s, %v", mode, err)
	}
	if mode, err := reg.CheckData("case.created", json.RawMessage(`{}`)); mode != ValidationOff || err != nil {
		t.Fatalf("validation off by default: %s, %v", mode, err)
	}
	if !reg.Taken("billing.invoice.paid", "other.type") || reg.Taken("billing.invoice.paid", "invoice.paid") || !reg.Taken("case.created", "") {
		t.Fatal("Taken")
	}
	set := reg.Set()
	if err := set.ValidatePattern("invoice.paid"); err != nil {
		t.Fatal(err)
	}
	if err := set.ValidatePattern("invoice.*"); err != nil {
		t.Fatal(err)
	}
	if err := ValidateEventTypePattern("invoice.paid"); err == nil {
		t.Fatal("the catalog alone knows invoice.paid")
	}
	if errs := set.ValidateObjectEvent("invoice", "paid"); len(errs) != 0 {
		t.Fatal(errs)
	}
	if errs := set.ValidateObjectEvent("invoice", "sent"); errs["event"] == "" || !strings.Contains(errs["event"], "paid") {
		t.Fatalf("unknown event of a custom object: %v", errs)
	}
	w := &Webhook{Name: "Invoices", URL: "https://example.com/x", EventTypes: []string{"invoice.paid"}}
	w.Normalize()
	if w.Validate() == nil || w.ValidateWith(set) != nil {
		t.Fatalf("webhook on a custom type: catalog-only %v, with the registry %v", w.Validate(), w.ValidateWith(set))
	}
}

func TestValidateEventTypeDef(t *testing.T) {
	ok := json.RawMessage(`{"type":"object"}`)
	cases := []struct {
		def   EventTypeDef
		field string
	}{
		{EventTypeDef{Name: "Invoice Paid", Custom: true}, "name"},
		{EventTypeDef{Name: "case.created", Custom: true}, "name"},
		{EventTypeDef{Name: "outbound.lead.outcome.preview", Custom: true}, "name"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Schema: json.RawMessage(`{"type": 12}`)}, "schema"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Schema: json.RawMessage(`{"$ref": "file:///etc/passwd"}`)}, "schema"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Schema: json.RawMessage(`[]`)}, "schema"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Example: json.RawMessage(`[1]`)}, "example"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Schema: json.RawMessage(`{"required":["a"]}`), Example: json.RawMessage(`{}`)}, "example"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Validation: ValidationReject}, "validation"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Schema: ok, Validation: "sometimes"}, "validation"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Aliases: []string{"case.created"}}, "aliases[0]"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Aliases: []string{"inbound.queue.abandon"}}, "aliases[0]"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Aliases: []string{"a.b", "a.b"}}, "aliases[1]"},
		{EventTypeDef{Name: "invoice.paid", Custom: true, Aliases: []string{"Not Valid"}}, "aliases[0]"},
	}
	for _, tc := range cases {
		d := tc.def
		NormalizeEventTypeDef(&d)
		err := ValidateEventTypeDef(&d, nil)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Fields[tc.field] == "" {
			t.Errorf("%+v: %v; want an error on %s", tc.def, err, tc.field)
		}
	}
	good := EventTypeDef{Name: "invoice.paid", Custom: true, Schema: ok, Example: json.RawMessage(`{"invoice": {}}`),
		Aliases: []string{"billing.invoice.paid"}, Validation: ValidationWarn}
	NormalizeEventTypeDef(&good)
	if err := ValidateEventTypeDef(&good, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if good.Object != "invoice" || good.Event != "paid" {
		t.Fatalf("object/event = %s/%s", good.Object, good.Event)
	}
	if err := ValidateEventTypeDef(&good, func(string) bool { return true }); err == nil {
		t.Fatal("an alias taken by another type was accepted")
	}
}

func TestPlaceholderPaths(t *testing.T) {
	d, _ := BuiltinEventType("lead.outcome_preview")
	paths := PlaceholderPaths(d.Example)
	for _, want := range []string{"campaignId", "lead.totalAttempts", "lead.phones.1.phone", "lead.outcomes.6.description", "event.id", "event.data"} {
		if !slices.Contains(paths, want) {
			t.Errorf("placeholders lack %q: %v", want, paths)
		}
	}
	// Every path renders from the example.
	scope, err := Event{ID: "e", Type: d.Name, Data: d.Example}.Scope()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		tpl, err := ParseTemplate("{{ " + p + " }}")
		if err != nil {
			t.Fatalf("{{ %s }}: %v", p, err)
		}
		out, err := tpl.Render(scope)
		if err != nil {
			t.Errorf("{{ %s }}: %v", p, err)
		}
		if p == "lead.totalAttempts" && out != "1" {
			t.Errorf("{{ lead.totalAttempts }} = %q", out)
		}
	}
}

// TestEventDataEmbedsWholeInABody: a one-line body template gives a receiver
// ipSCAPE's {"type", "payload"} envelope.
func TestEventDataEmbedsWholeInABody(t *testing.T) {
	d, _ := BuiltinEventType("agent.wrap")
	scope, err := Event{ID: "e1", Type: "agent.wrap", Data: d.Example}.Scope()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ParseTemplate(`{"type": "{{ event.type }}", "payload": {{ event.data | json }}}`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tpl.Render(scope)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	var a, b any
	_ = json.Unmarshal(got.Payload, &a)
	_ = json.Unmarshal(d.Example, &b)
	if got.Type != "agent.wrap" || !reflect.DeepEqual(a, b) {
		t.Fatalf("envelope = %s", out)
	}
}

func TestWebhookSucceeded(t *testing.T) {
	for spec, want := range map[string]map[int]bool{
		"200-299":     {200: true, 204: true, 299: true, 300: false, 199: false, 404: false},
		"200-209":     {200: true, 209: true, 210: false, 299: false},
		"200,201,204": {200: true, 201: true, 202: false, 204: true},
		"200-203,208": {203: true, 204: false, 208: true},
	} {
		w := &Webhook{SuccessStatus: spec}
		for status, ok := range want {
			if w.Succeeded(status) != ok {
				t.Errorf("%s: Succeeded(%d) = %v", spec, status, !ok)
			}
		}
	}
	for _, bad := range []string{"", "199-209", "200-300", "2xx", "209-200", "200-", "-209", "200,,201"} {
		if _, err := ParseSuccessStatus(bad); err == nil {
			t.Errorf("ParseSuccessStatus(%q) accepted it", bad)
		}
	}
}
