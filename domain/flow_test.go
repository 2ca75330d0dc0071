package domain

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// testCatalog is a small action registry with the shapes flows use.
type testCatalog map[string]ActionSpec

func (c testCatalog) ActionSpec(name string) (ActionSpec, bool) { s, ok := c[name]; return s, ok }
func (c testCatalog) ActionNames() []string {
	var names []string
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var flowTestActions = testCatalog{
	"http.request": {Name: "http.request", Description: "HTTP", Params: []ParamSpec{
		{Name: "url", Type: ParamString, Required: true, Format: FormatURL, Description: "url"},
		{Name: "method", Type: ParamString, Enum: []string{"GET", "POST"}, Description: "method"},
		{Name: "headers", Type: ParamStringMap, Format: FormatHeaders, Description: "headers"},
		{Name: "body", Type: ParamAny, Description: "body"},
		{Name: "timeout", Type: ParamString, Format: FormatDuration, Description: "timeout"},
	}},
	"notify": {Name: "notify", Description: "notify", Params: []ParamSpec{
		{Name: "text", Type: ParamString, Required: true, Description: "text"},
		{Name: "user_ids", Type: ParamArray, Required: true, Description: "users"},
	}},
	"lead.update.list": {Name: "lead.update.list", Description: "lead", Params: []ParamSpec{
		{Name: "listId", Type: ParamString, Required: true, Aliases: []string{"lead.listId"}, Description: "list"},
		{Name: "leadId", Type: ParamString, Default: "{{ leadId }}", Description: "lead"},
	}},
	"calc": {Name: "calc", Description: "numbers", Params: []ParamSpec{
		{Name: "n", Type: ParamNumber, Description: "n"},
		{Name: "on", Type: ParamBoolean, Description: "on"},
		{Name: "opts", Type: ParamObject, Description: "opts"},
		{Name: "to", Type: ParamArray, Format: FormatEmail, Description: "to"},
	}},
}

func validFlow() *Flow {
	return &Flow{Name: "Case created", Steps: []Step{
		{Name: "lookup", Action: "http.request", Params: map[string]any{"url": "https://crm.example.com/cases/{{ case.id }}"}},
		{Name: "tell", Action: "notify", Params: map[string]any{
			"text": "Case {{ steps.lookup.response.json.id }} created", "user_ids": []any{"7", json.Number("9")},
		}, If: []Condition{{Reference: "steps.lookup.response.status", Operator: "=", Value: "200"}}},
	}}
}

func TestValidFlowPassesAndDefaultsToService(t *testing.T) {
	f := validFlow()
	f.Normalize()
	if err := f.Validate(flowTestActions); err != nil {
		t.Fatalf("valid flow refused: %v", err)
	}
	if f.Type != FlowTypeService || !FlowUsableByTriggers(f.Type) {
		t.Fatalf("type = %q, want service", f.Type)
	}
	if FlowUsableByTriggers(FlowTypeDefault) {
		t.Fatal("a default flow must not be usable by triggers")
	}
}

func TestFlowValidationNamesEveryField(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *Flow)
		path   string
		want   string
	}{
		{"name required", func(f *Flow) { f.Name = " " }, "name", "is required"},
		{"name with slash", func(f *Flow) { f.Name = "a/b" }, "name", `"/"`},
		{"bad type", func(f *Flow) { f.Type = "Voice Flow" }, "type", "lowercase"},
		{"no steps", func(f *Flow) { f.Steps = nil }, "steps", "at least one step"},
		{"step name required", func(f *Flow) { f.Steps[0].Name = "" }, "steps[0].name", "is required"},
		{"step name style", func(f *Flow) { f.Steps[0].Name = "Look-Up" }, "steps[0].name", "lowercase"},
		{"duplicate step name", func(f *Flow) { f.Steps[1].Name = "lookup" }, "steps[1].name", "earlier step"},
		{"action required", func(f *Flow) { f.Steps[0].Action = "" }, "steps[0].action", "is required"},
		{"unknown action", func(f *Flow) { f.Steps[0].Action = "fax.send" }, "steps[0].action", "not a registered action"},
		{"required param", func(f *Flow) { delete(f.Steps[0].Params, "url") }, "steps[0].params.url", "is required"},
		{"unknown param", func(f *Flow) { f.Steps[0].Params["uri"] = "x" }, "steps[0].params.uri", "not a parameter"},
		{"param type", func(f *Flow) { f.Steps[0].Params["url"] = map[string]any{} }, "steps[0].params.url", "must be text"},
		{"url scheme", func(f *Flow) { f.Steps[0].Params["url"] = "ftp://x" }, "steps[0].params.url", "http"},
		{"template", func(f *Flow) { f.Steps[0].Params["url"] = "https://x/{{ case.id " }, "steps[0].params.url", "not closed"},
		{"nested template", func(f *Flow) { f.Steps[0].Params["body"] = map[string]any{"a": []any{"{{ x | nofilter }}"}} },
			"steps[0].params.body.a[0]", "unknown filter"},
		{"enum", func(f *Flow) { f.Steps[0].Params["method"] = "TRACE" }, "steps[0].params.method", "not allowed"},
		{"header name", func(f *Flow) { f.Steps[0].Params["headers"] = map[string]any{"Bad Header": "x"} },
			`steps[0].params.headers["Bad Header"]`, "header name"},
		{"duration format", func(f *Flow) { f.Steps[0].Params["timeout"] = "soon" }, "steps[0].params.timeout", "duration"},
		{"later step reference", func(f *Flow) { f.Steps[0].Params["url"] = "https://x/{{ steps.tell.ids }}" },
			"steps[0].params.url", `step "tell"`},
		{"condition", func(f *Flow) { f.Steps[1].If[0].Operator = "~" }, "steps[1].if[0].operator", "unknown operator"},
		{"condition on later step", func(f *Flow) { f.Steps[0].If = []Condition{{Reference: "steps.tell.notified", Operator: "exists"}} },
			"steps[0].if[0].reference", "does not run before"},
		{"timeout range", func(f *Flow) { f.Steps[0].Timeout = Duration(2 * 3600e9) }, "steps[0].timeout", "between 1s and 1h0m0s"},
		{"retry", func(f *Flow) { f.Steps[0].Retry = &RetryPolicy{Preset: "often"} }, "steps[0].retry.preset", "not a preset"},
		{"retry_all", func(f *Flow) { f.Steps[0].Retry = &RetryPolicy{Preset: RetryNone, RetryAll: true} }, "steps[0].retry.retry_all", "webhooks only"},
		{"empty required", func(f *Flow) { f.Steps[1].Params["text"] = "  " }, "steps[1].params.text", "must not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := validFlow()
			tc.change(f)
			f.Normalize()
			err := f.Validate(flowTestActions)
			var ve *ValidationError
			if err == nil || !asValidation(err, &ve) {
				t.Fatalf("want a validation error, got %v", err)
			}
			if msg, ok := ve.Fields[tc.path]; !ok || !strings.Contains(msg, tc.want) {
				t.Fatalf("fields = %v; want %s ~ %q", ve.Fields, tc.path, tc.want)
			}
		})
	}
}

func asValidation(err error, ve **ValidationError) bool {
	v, ok := err.(*ValidationError)
	*ve = v
	return ok
}

func TestParamTypesAcceptTemplatesAndLiterals(t *testing.T) {
	spec := flowTestActions["calc"]
	ok := []map[string]any{
		{"n": json.Number("5")}, {"n": "{{ count }}"}, {"n": "7.5"},
		{"on": true}, {"on": "{{ flag }}"}, {"on": "false"},
		{"opts": map[string]any{"a": "{{ x }}"}}, {"opts": "{{ obj }}"},
		{"to": []any{"a@example.com"}}, {"to": "a@example.com, b@example.com"}, {"to": "{{ emails }}"},
	}
	for _, p := range ok {
		if errs := spec.ValidateParams(p); len(errs) > 0 {
			t.Errorf("%v refused: %v", p, errs)
		}
	}
	bad := map[string]map[string]any{
		"n":     {"n": "five"},
		"on":    {"on": "maybe"},
		"opts":  {"opts": []any{}},
		"to[0]": {"to": []any{"not an address"}},
		"to":    {"to": "a@example.com, nope"},
	}
	for path, p := range bad {
		if errs := spec.ValidateParams(p); errs[path] == "" {
			t.Errorf("%v accepted (errors %v), want an error on %s", p, errs, path)
		}
	}
}

func TestAliasAcceptedAndDuplicateRefused(t *testing.T) {
	spec := flowTestActions["lead.update.list"]
	if errs := spec.ValidateParams(map[string]any{"lead.listId": "354"}); len(errs) > 0 {
		t.Fatalf("ipSCAPE's lead.listId refused: %v", errs)
	}
	errs := spec.ValidateParams(map[string]any{"lead.listId": "354", "listId": "1"})
	if len(errs) == 0 {
		t.Fatal("both listId and lead.listId accepted")
	}
	out, err := spec.RenderParams(map[string]any{"lead.listId": "354"}, map[string]any{"leadId": json.Number("131413")})
	if err != nil {
		t.Fatal(err)
	}
	if out["listId"] != "354" || out["leadId"] != "131413" {
		t.Fatalf("rendered = %v, want listId from the alias and leadId from the event", out)
	}
}

func TestRenderParamsFillsNestedTemplatesAndConvertsTypes(t *testing.T) {
	scope := map[string]any{
		"case":   map[string]any{"id": json.Number("12345678901234567891"), "title": "Broken"},
		"count":  json.Number("3"),
		"flag":   true,
		"emails": []any{"a@example.com", "b@example.com"},
		"steps":  map[string]any{"lookup": map[string]any{"response": map[string]any{"json": map[string]any{"id": "X-1"}}}},
	}
	http := flowTestActions["http.request"]
	out, err := http.RenderParams(map[string]any{
		"url":     "https://crm.example.com/cases/{{ case.id }}",
		"method":  "post",
		"headers": map[string]any{"X-Ref": "{{ steps.lookup.response.json.id }}", "X-N": json.Number("2")},
		"body":    map[string]any{"title": "{{ case.title }}", "tags": []any{"{{ count }}", "fixed"}, "n": json.Number("1")},
	}, scope)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"url":     "https://crm.example.com/cases/12345678901234567891",
		"method":  "POST",
		"headers": map[string]any{"X-Ref": "X-1", "X-N": "2"},
		"body":    map[string]any{"title": "Broken", "tags": []any{"3", "fixed"}, "n": json.Number("1")},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("rendered\n%#v\nwant\n%#v", out, want)
	}

	calc := flowTestActions["calc"]
	out, err = calc.RenderParams(map[string]any{
		"n": "{{ count }}", "on": "{{ flag }}", "opts": `{"a": {{ count }}}`, "to": "{{ emails }}",
	}, scope)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]any{
		"n": json.Number("3"), "on": true, "opts": map[string]any{"a": json.Number("3")},
		"to": []any{"a@example.com", "b@example.com"},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("rendered\n%#v\nwant\n%#v", out, want)
	}
	out, err = calc.RenderParams(map[string]any{"to": "a@example.com, b@example.com", "n": "{{ missing }}"}, scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, present := out["n"]; present || !reflect.DeepEqual(out["to"], []any{"a@example.com", "b@example.com"}) {
		t.Fatalf("rendered %v: an empty optional number must be absent and a comma list a list", out)
	}
	if _, err := calc.RenderParams(map[string]any{"n": "{{ case.title }}"}, scope); err == nil || !strings.Contains(err.Error(), "params.n") {
		t.Fatalf("a number param rendering text must fail naming it, got %v", err)
	}
	if _, err := flowTestActions["notify"].RenderParams(map[string]any{"text": "{{ nothing }}", "user_ids": "7"}, scope); err == nil {
		t.Fatal("a required param rendering empty must fail")
	}
}

func TestStepsFromTriggerActions(t *testing.T) {
	steps := StepsFromTriggerActions([]TriggerAction{
		{Action: "webhook", Parameters: map[string]any{"url": "https://x.example.com"}},
		{Action: "lead.update.list", Parameters: map[string]any{"listId": "445"}},
	})
	if len(steps) != 2 || steps[0].Name != "action_1" || steps[1].Name != "action_2" ||
		steps[1].Action != "lead.update.list" || steps[1].Params["listId"] != "445" {
		t.Fatalf("steps = %+v", steps)
	}
}

func TestStepJSONKeepsBigNumbersExact(t *testing.T) {
	var s Step
	if err := json.Unmarshal([]byte(`{"name":"a","action":"calc","params":{"n":12345678901234567891},"timeout":"5s"}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.Params["n"] != json.Number("12345678901234567891") || s.EffectiveTimeout().String() != "5s" {
		t.Fatalf("step = %+v", s)
	}
	b, _ := json.Marshal(s)
	if !strings.Contains(string(b), "12345678901234567891") {
		t.Fatalf("re-encoded %s", b)
	}
}

func TestStepDefaultsAndRetry(t *testing.T) {
	var s Step
	r := s.EffectiveRetry()
	if s.EffectiveTimeout() != DefaultStepTimeout || r.MaxAttempts != 3 || r.Backoff != 2 || r.InitialInterval != Duration(1e9) {
		t.Fatalf("defaults: timeout %s retry %+v", s.EffectiveTimeout(), r)
	}
	s.Retry = &RetryPolicy{Preset: RetryNone}
	if s.EffectiveRetry().MaxAttempts != 1 {
		t.Fatal("preset none must make one attempt")
	}
}

func TestActionSpecSelfCheckAndSchema(t *testing.T) {
	if err := flowTestActions["http.request"].CheckSpec(); err != nil {
		t.Fatal(err)
	}
	bad := []ActionSpec{
		{Name: "Bad Name", Description: "x"},
		{Name: "ok", Description: ""},
		{Name: "ok", Description: "x", Params: []ParamSpec{{Name: "a", Type: "date", Description: "a"}}},
		{Name: "ok", Description: "x", Params: []ParamSpec{{Name: "a", Type: ParamString, Description: "a"}, {Name: "a", Type: ParamString, Description: "b"}}},
		{Name: "ok", Description: "x", Params: []ParamSpec{{Name: "a", Type: ParamNumber, Description: "a", Default: "many"}}},
	}
	for _, s := range bad {
		if s.CheckSpec() == nil {
			t.Errorf("spec %+v accepted", s)
		}
	}
	schema := flowTestActions["lead.update.list"].JSONSchema()
	// listId is required under either of its names, and not under both.
	wantAllOf := []any{
		map[string]any{"not": map[string]any{"required": []string{"listId", "lead.listId"}}},
		map[string]any{"anyOf": []any{map[string]any{"required": []string{"listId"}}, map[string]any{"required": []string{"lead.listId"}}}},
	}
	if !reflect.DeepEqual(schema["allOf"], wantAllOf) || schema["additionalProperties"] != false {
		t.Fatalf("schema = %v", schema)
	}
}
