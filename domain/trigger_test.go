package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// ipscapeActions is a catalog with ipSCAPE's two actions, described the way
// the activities package registers them.
type ipscapeActions map[string]ActionSpec

func (c ipscapeActions) ActionSpec(name string) (ActionSpec, bool) { a, ok := c[name]; return a, ok }
func (c ipscapeActions) ActionNames() []string                     { return sortedKeys(c) }

var testActions = ipscapeActions{
	"webhook": {Name: "webhook", Description: "sends the event", Params: []ParamSpec{
		{Name: "url", Type: ParamString, Required: true, Format: FormatURL, Description: "where"},
		{Name: "method", Type: ParamString, Enum: []string{"POST", "PUT", "PATCH"}, Default: "POST", Description: "how"},
		{Name: "headers", Type: ParamStringMap, Format: FormatHeaders, Description: "headers"},
	}},
	"lead.update.list": {Name: "lead.update.list", Description: "moves a lead", Params: []ParamSpec{
		{Name: "listId", Type: ParamString, Required: true, Aliases: []string{"lead.listId"}, Description: "the list"},
	}},
}

func atTime() Trigger {
	return Trigger{Name: "Nightly report", Type: TriggerAtTime, Flow: "report", Expression: "0 */1 12 * * *", TimeZone: "Europe/Kyiv"}
}

func onEvent() Trigger {
	return Trigger{Name: "Case created", Type: TriggerOnEvent, Flow: "notify", Object: "case", Event: "created"}
}

func TestTriggerDefaults(t *testing.T) {
	tr := Trigger{Name: " x ", Type: TriggerAtTime, Flow: "f", Expression: "@daily"}
	tr.Normalize()
	if tr.Name != "x" || tr.TimeZone != "UTC" || tr.Timeout != 5*time.Minute || tr.OverlapPolicy != OverlapSkip {
		t.Fatalf("defaults not applied: %+v", tr)
	}
	if err := tr.Validate(testActions); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []Trigger{atTime(), onEvent()} {
		ok.Normalize()
		if err := ok.Validate(testActions); err != nil {
			t.Errorf("%s: %v", ok.Name, err)
		}
	}
}

func TestTriggerValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Trigger)
		base  func() Trigger
		field string
		want  string // part of the message
	}{
		{"name required", func(t *Trigger) { t.Name = " " }, atTime, "name", "required"},
		{"type required", func(t *Trigger) { t.Type = "" }, atTime, "type", "required"},
		{"type unknown", func(t *Trigger) { t.Type = "at_noon" }, atTime, "type", "not a trigger type"},
		{"expression required", func(t *Trigger) { t.Expression = "" }, atTime, "expression", "required"},
		{"expression bad", func(t *Trigger) { t.Expression = "0 61 * * *" }, atTime, "expression", "out of range"},
		{"zone bad", func(t *Trigger) { t.TimeZone = "Mars/Olympus" }, atTime, "timezone", "unknown time zone"},
		{"at_time has no object", func(t *Trigger) { t.Object = "case" }, atTime, "object", "only for on_event"},
		{"at_time has no event", func(t *Trigger) { t.Event = "created" }, atTime, "event", "only for on_event"},
		{"at_time has no conditions", func(t *Trigger) { t.Conditions = []Condition{{"a", "=", "1"}} }, atTime, "conditions", "only for on_event"},
		{"object required", func(t *Trigger) { t.Object = "" }, onEvent, "object", "is required"},
		{"event needs object", func(t *Trigger) { t.Object, t.Event = "", "created" }, onEvent, "object", "is required"},
		{"object unknown", func(t *Trigger) { t.Object = "invoice" }, onEvent, "object", "not a known object"},
		{"event not of object", func(t *Trigger) { t.Object, t.Event = "case_file", "updated" }, onEvent, "event", "not an event of object"},
		{"on_event has no expression", func(t *Trigger) { t.Expression = "@daily" }, onEvent, "expression", "only for at_time"},
		{"bad condition", func(t *Trigger) { t.Conditions = []Condition{{"campaignId", "~", "1"}} }, onEvent, "conditions[0].operator", "unknown operator"},
		{"timeout too short", func(t *Trigger) { t.Timeout = 500 * time.Millisecond }, atTime, "timeout", "between 1s and 24h"},
		{"timeout too long", func(t *Trigger) { t.Timeout = 25 * time.Hour }, atTime, "timeout", "between 1s and 24h"},
		{"timeout negative", func(t *Trigger) { t.Timeout = -1 }, atTime, "timeout", "between"},
		{"overlap unknown", func(t *Trigger) { t.OverlapPolicy = "queue" }, atTime, "overlap_policy", "not an overlap policy"},
		{"flow or actions", func(t *Trigger) { t.Flow = "" }, onEvent, "flow", "required unless actions"},
		{"flow and actions", func(t *Trigger) {
			t.Actions = []TriggerAction{{"webhook", map[string]any{"url": "https://x.example"}}}
		}, onEvent, "actions", "cannot be combined"},
		{"empty actions", func(t *Trigger) { t.Flow, t.Actions = "", []TriggerAction{} }, onEvent, "actions", "at least one action"},
		{"description too long", func(t *Trigger) { t.Description = strings.Repeat("x", 2001) }, onEvent, "description", "at most"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.base()
			tc.edit(&tr)
			tr.Normalize()
			err := tr.Validate(testActions)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("want a validation error, got %v", err)
			}
			if msg, ok := ve.Fields[tc.field]; !ok || !strings.Contains(msg, tc.want) {
				t.Fatalf("fields = %v, want %s containing %q", ve.Fields, tc.field, tc.want)
			}
		})
	}
}

func TestDecodeAndValidateTriggerActions(t *testing.T) {
	cases := []struct {
		name  string
		json  string
		field string // with want: where the error is
		want  string // "" = valid
	}{
		{name: "ipscape webhook", json: `[{"action": "webhook", "parameters": {"url": "https://webhook.site/79ee9335"}}]`},
		{name: "webhook with templated url and headers", json: `[{"action": "webhook", "parameters": {"url": "https://x.example/{{ campaignId }}", "method": "PUT", "headers": {"X-Id": "{{ leadId }}"}}}]`},
		{name: "lead.update.list", json: `[{"action": "lead.update.list", "parameters": {"listId": "445"}}]`},
		{name: "ipscape example alias lead.listId", json: `[{"action": "lead.update.list", "parameters": {"lead.listId": "354"}}]`},
		{name: "two actions", json: `[{"action": "webhook", "parameters": {"url": "https://x.example"}}, {"action": "lead.update.list", "parameters": {"listId": "10"}}]`},
		{name: "not a list", json: `{"action": "webhook"}`, field: "", want: "must be a list"},
		{name: "empty list", json: `[]`, field: "", want: "at least one action"},
		{name: "item not object", json: `["webhook"]`, field: "[0]", want: "must be an object"},
		{name: "action missing", json: `[{"parameters": {"url": "https://x.example"}}]`, field: "[0].action", want: "is required"},
		{name: "action not string", json: `[{"action": 1, "parameters": {"url": "https://x.example"}}]`, field: "[0].action", want: "must be a string"},
		{name: "action unknown", json: `[{"action": "lead.delete", "parameters": {"listId": "1"}}]`, field: "[0].action", want: "not a registered action"},
		{name: "parameters missing", json: `[{"action": "webhook"}]`, field: "[0].parameters", want: "must not be empty"},
		{name: "parameters empty", json: `[{"action": "webhook", "parameters": {}}]`, field: "[0].parameters", want: "must not be empty"},
		{name: "parameters not object", json: `[{"action": "webhook", "parameters": "https://x.example"}]`, field: "[0].parameters", want: "must be an object"},
		{name: "unknown action field", json: `[{"action": "webhook", "parameter": {"url": "https://x.example"}}]`, field: "[0].parameter", want: "not a field"},
		{name: "webhook url missing", json: `[{"action": "webhook", "parameters": {"method": "POST"}}]`, field: "[0].parameters.url", want: "is required"},
		{name: "webhook unknown param", json: `[{"action": "webhook", "parameters": {"url": "https://x.example", "listId": "1"}}]`, field: "[0].parameters.listId", want: "not a parameter"},
		{name: "listId missing", json: `[{"action": "lead.update.list", "parameters": {"list": "1"}}]`, field: "[0].parameters.listId", want: "is required"},
		{name: "second action bad", json: `[{"action": "webhook", "parameters": {"url": "https://x.example"}}, {"action": ""}]`, field: "[1].action", want: "is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			actions, f := DecodeTriggerActions(json.RawMessage(tc.json))
			if len(f) == 0 {
				f = ValidateTriggerActions(actions, testActions)
			}
			if tc.want == "" {
				if len(f) != 0 {
					t.Fatalf("unexpected errors %v", f)
				}
				return
			}
			if msg, ok := f[tc.field]; !ok || !strings.Contains(msg, tc.want) {
				t.Fatalf("errors = %v, want %q containing %q", f, tc.field, tc.want)
			}
		})
	}
}

func TestTriggerNextRunsKyiv(t *testing.T) {
	tr := atTime()
	tr.Normalize()
	after := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC) // 11:00 in Kyiv (UTC+3)
	runs := tr.NextRuns(after, NextRunsShown)
	if len(runs) != 5 {
		t.Fatalf("runs = %v", runs)
	}
	for i, r := range runs {
		if r.Location().String() != "Europe/Kyiv" || r.Hour() != 12 || r.Minute() != i || r.Day() != 1 {
			t.Errorf("run %d = %v, want 2026-06-01 12:%02d Kyiv", i, r, i)
		}
		if _, off := r.Zone(); off != 3*3600 {
			t.Errorf("run %d offset %d, want +03:00", i, off)
		}
	}
	on := onEvent()
	if on.NextRuns(after, 5) != nil || on.EventType() != "case.created" || tr.EventType() != "" {
		t.Fatal("on_event triggers have no runs; at_time no event type")
	}
}

func TestQueueHookValidate(t *testing.T) {
	if got := QueueHookEvents(); strings.Join(got, ",") != "joined,answered,offering,bridged,missed,leaving,processing,active" {
		t.Fatalf("queue events = %v", got)
	}
	ok := QueueHook{QueueID: "42", Event: "missed", Flow: "callback"}
	ok.Normalize()
	if err := ok.Validate(); err != nil || ok.EventType() != "queue.missed" {
		t.Fatal(err, ok.EventType())
	}
	cases := []struct {
		h     QueueHook
		field string
	}{
		{QueueHook{QueueID: "42", Flow: "f"}, "event"},
		{QueueHook{QueueID: "42", Event: "created", Flow: "f"}, "event"},
		{QueueHook{QueueID: "42", Event: "missed"}, "flow"},
		{QueueHook{QueueID: "4 2", Event: "missed", Flow: "f"}, "queue_id"},
		{QueueHook{Event: "missed", Flow: "f"}, "queue_id"},
	}
	for _, tc := range cases {
		tc.h.Normalize()
		var ve *ValidationError
		if err := tc.h.Validate(); !errors.As(err, &ve) || ve.Fields[tc.field] == "" {
			t.Errorf("%+v: got %v, want an error on %s", tc.h, err, tc.field)
		}
	}
}
