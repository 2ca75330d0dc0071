package domain

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// ipscapeScope is the ipSCAPE "Dialler outcome (Predictive)" payload from the
// seeds, as Event.Scope builds it (numbers as json.Number).
func ipscapeScope(t testing.TB) map[string]any {
	t.Helper()
	ev := Event{
		ID:         "evt-1",
		Type:       "lead.outcome_predictive",
		OccurredAt: time.Date(2024, 5, 3, 6, 41, 8, 0, time.UTC),
		Data: json.RawMessage(`{
			"timestamp": "2024-05-03T06:41:08+0000",
			"agentInteractionId": null,
			"wrapCode": "6",
			"campaignId": "215",
			"leadId": "131410",
			"lead": {
				"completed": false,
				"totalAttempts": "3",
				"listId": "20583",
				"phones": {"1": {"phone": "+61400000000", "completed": false, "count": "1"}},
				"tags": ["vip", "callback", 42]
			},
			"contact": {"first_name": "Ann", "czCol": {"15": "gold"}},
			"items": [{"id": "a"}, {"id": "b"}],
			"durations": {"talk": 7, "wrap": 7.5, "dial": 0},
			"bigId": 12345678901234567891,
			"empty": "",
			"spaced": " 3 "
		}`),
	}
	scope, err := ev.Scope()
	if err != nil {
		t.Fatal(err)
	}
	return scope
}

func TestConditionMatch(t *testing.T) {
	scope := ipscapeScope(t)
	tests := []struct {
		ref, op, value string
		want           bool
	}{
		// = with numbers as strings and as numbers
		{"campaignId", "=", "215", true},
		{"campaignId", "=", "215.0", true},
		{"campaignId", "=", " 215 ", true},
		{"campaignId", "=", "216", false},
		{"durations.talk", "=", "7", true},
		{"durations.talk", "=", "7.00", true},
		{"durations.wrap", "=", "7.5", true},
		{"bigId", "=", "12345678901234567891", true},
		{"bigId", "=", "12345678901234567890", false}, // exact, not float64
		{"spaced", "=", "3", true},
		{"wrapCode", "=", "6", true},
		// strings are exact
		{"contact.first_name", "=", "Ann", true},
		{"contact.first_name", "=", "ann", false},
		{"lead.phones.1.phone", "=", "+61400000000", true},
		{"lead.phones.1.phone", "=", "61400000000", false}, // "+" keeps phones text
		// ordering
		{"lead.totalAttempts", ">=", "3", true},
		{"lead.totalAttempts", ">", "3", false},
		{"lead.totalAttempts", "<", "10", true}, // numeric: "3" < "10"
		{"lead.totalAttempts", "<=", "2", false},
		{"durations.wrap", ">", "7", true},
		{"contact.first_name", "<", "Bob", true}, // text order
		{"contact.first_name", ">", "Bob", false},
		{"timestamp", ">", "2024-05-01", true},
		// booleans
		{"lead.completed", "=", "false", true},
		{"lead.completed", "=", "FALSE", true},
		{"lead.completed", "=", "true", false},
		{"lead.completed", "!=", "true", true},
		// null
		{"agentInteractionId", "=", "", true},
		{"agentInteractionId", "=", "null", true},
		{"agentInteractionId", "=", "0", false},
		{"agentInteractionId", ">", "0", false},
		{"agentInteractionId", "<", "0", false},
		{"agentInteractionId", "exists", "", false},
		{"agentInteractionId", "exists", "false", true},
		{"empty", "=", "", true},
		// in / not_in
		{"campaignId", "in", "215, 223", true},
		{"campaignId", "in", "215,223", true},
		{"campaignId", "in", "223 , 215.0 ", true},
		{"campaignId", "in", "2150, 223", false},
		{"campaignId", "not_in", "1, 2", true},
		{"campaignId", "not_in", "215, 223", false},
		{"campaignId", "in", ",,", false},
		// exists
		{"lead.listId", "exists", "", true},
		{"lead.listId", "exists", "true", true},
		{"lead.listId", "exists", "false", false},
		{"lead.nope", "exists", "", false},
		{"lead.nope", "exists", "false", true},
		// contains
		{"contact.first_name", "contains", "nn", true},
		{"lead.tags", "contains", "vip", true},
		{"lead.tags", "contains", "42", true},
		{"lead.tags", "contains", "42.0", true},
		{"lead.tags", "contains", "vi", false}, // elements, not substrings
		{"lead.phones", "contains", "1", true}, // object keys
		{"lead.phones", "contains", "2", false},
		{"bigId", "contains", "4567", true},
		{"agentInteractionId", "contains", "", false},
		// arrays by index, maps by numeric key
		{"items.1.id", "=", "b", true},
		{"items.2.id", "=", "b", false},
		{"contact.czCol.15", "=", "gold", true},
		// missing references
		{"nope", "=", "", false},
		{"nope", "!=", "x", true},
		{"nope", "not_in", "x", true},
		{"nope", ">", "0", false},
		{"nope", "contains", "x", false},
		{"lead.totalAttempts.x", "=", "3", false},
		// event envelope
		{"event.type", "=", "lead.outcome_predictive", true},
		{"event.id", "in", "evt-0, evt-1", true},
		// objects compare as JSON text
		{"contact.czCol", "=", `{"15":"gold"}`, true},
		{"contact.czCol", ">", "a", false},
		// an unknown operator never matches
		{"campaignId", "==", "215", false},
		{"campaignId", "", "215", false},
	}
	for _, tc := range tests {
		c := Condition{Reference: tc.ref, Operator: tc.op, Value: tc.value}
		if got := c.Match(scope); got != tc.want {
			t.Errorf("%s %s %q = %v, want %v", tc.ref, tc.op, tc.value, got, tc.want)
		}
	}
}

func TestMatchConditions(t *testing.T) {
	scope := ipscapeScope(t)
	all := []Condition{
		{Reference: "campaignId", Operator: "in", Value: "215, 223"},
		{Reference: "lead.totalAttempts", Operator: ">=", Value: "3"},
	}
	if !MatchConditions(all, scope) {
		t.Error("all conditions hold but MatchConditions is false")
	}
	if !MatchConditions(nil, scope) || !MatchConditions([]Condition{}, nil) {
		t.Error("no conditions must always match")
	}
	one := append(all, Condition{Reference: "wrapCode", Operator: "=", Value: "185"})
	if MatchConditions(one, scope) {
		t.Error("one failing condition must make the list fail")
	}
	if MatchConditions(all, nil) {
		t.Error("a nil scope has no campaignId")
	}
}

func TestLookup(t *testing.T) {
	scope := ipscapeScope(t)
	scope["headers"] = map[string]string{"X-Id": "7"}
	scope["steps"] = []map[string]any{{"id": "s0"}}
	scope["ptr"] = &map[string]any{"x": 1}
	tests := []struct {
		ref   string
		want  any
		found bool
	}{
		{"campaignId", "215", true},
		{"lead.totalAttempts", "3", true},
		{"lead.phones.1.phone", "+61400000000", true},
		{"contact.czCol.15", "gold", true},
		{"items.0.id", "a", true},
		{"items.01.id", "b", true},
		{"items.-1.id", nil, false},
		{"items.x", nil, false},
		{"items.5", nil, false},
		{"agentInteractionId", nil, true},
		{"agentInteractionId.x", nil, false},
		{"durations.talk", json.Number("7"), true},
		{"headers.X-Id", "7", true},
		{"steps.0.id", "s0", true},
		{"ptr.x", 1, true},
		{"", nil, false},
		{".", nil, false},
		{"lead.", nil, false},
		{".lead", nil, false},
		{"lead..listId", nil, false},
		{"campaignId.length", nil, false},
	}
	for _, tc := range tests {
		got, found := Lookup(scope, tc.ref)
		if found != tc.found || (tc.found && got != tc.want && !isComposite(got)) {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tc.ref, got, found, tc.want, tc.found)
		}
	}
	if _, ok := Lookup(nil, "a"); ok {
		t.Error("Lookup on nil scope found something")
	}
}

func isComposite(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func TestConditionUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`{"reference":"a","operator":"=","value":"3"}`, "3", false},
		{`{"reference":"a","operator":"=","value":3}`, "3", false},
		{`{"reference":"a","operator":"=","value":3.50}`, "3.50", false},
		{`{"reference":"a","operator":"=","value":-1e3}`, "-1e3", false},
		{`{"reference":"a","operator":"=","value":true}`, "true", false},
		{`{"reference":"a","operator":"=","value":false}`, "false", false},
		{`{"reference":"a","operator":"=","value":null}`, "", false},
		{`{"reference":"a","operator":"="}`, "", false},
		{`{"reference":"a","operator":"=","value":"215, 223"}`, "215, 223", false},
		{`{"reference":"a","operator":"=","value":[1,2]}`, "", true},
		{`{"reference":"a","operator":"=","value":{"x":1}}`, "", true},
		{`{"reference":1,"operator":"=","value":"x"}`, "", true},
		{`[]`, "", true},
	}
	for _, tc := range tests {
		var c Condition
		err := json.Unmarshal([]byte(tc.in), &c)
		if (err != nil) != tc.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && (c.Value != tc.want || c.Reference != "a" || c.Operator != "=") {
			t.Errorf("Unmarshal(%s) = %+v, want value %q", tc.in, c, tc.want)
		}
	}
	// A list of conditions decodes through the same method, and marshals back as strings.
	var list []Condition
	if err := json.Unmarshal([]byte(`[{"reference":"campaignId","operator":"in","value":"215, 223"},{"reference":"lead.totalAttempts","operator":">=","value":3}]`), &list); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(list)
	if want := `[{"reference":"campaignId","operator":"in","value":"215, 223"},{"reference":"lead.totalAttempts","operator":"\u003e=","value":"3"}]`; string(out) != want {
		t.Errorf("Marshal = %s, want %s", out, want)
	}
}

func TestValidateConditions(t *testing.T) {
	long := strings.Repeat("a", MaxReferenceLength+1)
	tests := []struct {
		name  string
		conds []Condition
		want  map[string]string // path → substring of the message
	}{
		{"valid ipSCAPE list", []Condition{
			{Reference: "campaignId", Operator: "=", Value: "53"},
			{Reference: "lead.totalAttempts", Operator: ">=", Value: "3"},
			{Reference: "campaignId", Operator: "in", Value: "215, 223"},
			{Reference: "contact.czCol.15", Operator: "exists"},
			{Reference: "wrapCode", Operator: "!=", Value: ""},
			{Reference: "lead.tags", Operator: "contains", Value: "vip"},
			{Reference: "some-key_2", Operator: "not_in", Value: "1"},
		}, nil},
		{"empty reference", []Condition{{Operator: "=", Value: "1"}}, map[string]string{"[0].reference": "is required"}},
		{"bad reference", []Condition{{Reference: "lead..x", Operator: "=", Value: "1"}}, map[string]string{"[0].reference": "empty path segment"}},
		{"bad character", []Condition{{Reference: "lead.total attempts", Operator: "=", Value: "1"}}, map[string]string{"[0].reference": `contains ' '`}},
		{"long reference", []Condition{{Reference: long, Operator: "=", Value: "1"}}, map[string]string{"[0].reference": "at most 256"}},
		{"missing operator", []Condition{{Reference: "a", Value: "1"}}, map[string]string{"[0].operator": "is required"}},
		{"unknown operator", []Condition{{Reference: "a", Operator: "==", Value: "1"}}, map[string]string{"[0].operator": `unknown operator "=="; use one of =, !=`}},
		{"ordering needs a value", []Condition{{Reference: "a", Operator: ">"}}, map[string]string{"[0].value": `required for operator ">"`}},
		{"in needs items", []Condition{{Reference: "a", Operator: "in", Value: " , "}}, map[string]string{"[0].value": "comma-separated"}},
		{"exists value", []Condition{{Reference: "a", Operator: "exists", Value: "maybe"}}, map[string]string{"[0].value": `"true" or "false"`}},
		{"long value", []Condition{{Reference: "a", Operator: "=", Value: strings.Repeat("x", MaxConditionValueLength+1)}}, map[string]string{"[0].value": "at most 4096"}},
		{"second item", []Condition{{Reference: "a", Operator: "=", Value: "1"}, {Reference: "", Operator: "~"}}, map[string]string{"[1].reference": "is required", "[1].operator": "unknown operator"}},
		{"too many", make([]Condition, MaxConditions+1), map[string]string{"": "at most 50"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ValidateConditions(tc.conds)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want keys of %v", got, tc.want)
			}
			for path, sub := range tc.want {
				if !strings.Contains(got[path], sub) {
					t.Errorf("%q: got %q, want it to contain %q", path, got[path], sub)
				}
			}
			// The caller prefixes the paths.
			if len(got) > 0 {
				outer := FieldErrors{}
				outer.Merge("conditions", got)
				for p := range outer {
					if !strings.HasPrefix(p, "conditions") {
						t.Errorf("merged path %q lacks the prefix", p)
					}
				}
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		a, b string
		cmp  int
	}{
		{"3", "3.0", 0}, {"10", "9", 1}, {"-1", "1", -1}, {"-0", "0", 0}, {"0.5", ".5", 0},
		{"1e3", "1000", 0}, {"1E-2", "0.01", 0}, {"-2", "-10", 1}, {"007", "7", 0},
		{"12345678901234567891", "12345678901234567890", 1}, {"0.1", "0.10000", 0},
		{"1e999999999999999999", "1e999", 1}, {"-1e-999999999999999", "0", -1},
	}
	for _, tc := range tests {
		a, okA := parseDecimal(tc.a)
		b, okB := parseDecimal(tc.b)
		if !okA || !okB {
			t.Errorf("parseDecimal(%q)=%v, (%q)=%v", tc.a, okA, tc.b, okB)
			continue
		}
		if got := a.cmp(b); got != tc.cmp {
			t.Errorf("cmp(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.cmp)
		}
	}
	for _, s := range []string{"", "-", ".", "+1", "1.2.3", "1e", "1e+", "0x10", "NaN", "Inf", "1 2", "abc"} {
		if _, ok := parseDecimal(s); ok {
			t.Errorf("parseDecimal(%q) accepted a non-number", s)
		}
	}
}

func FuzzMatchConditions(f *testing.F) {
	f.Add([]byte(`{"campaignId":"215","lead":{"totalAttempts":3,"phones":{"1":{"phone":"+61"}}},"tags":["a",1,null]}`), "campaignId", "in", "215, 223")
	f.Add([]byte(`{"a":[1,2,{"b":null}]}`), "a.2.b", "exists", "false")
	f.Add([]byte(`{"n":1e400}`), "n", ">", "1e-400")
	f.Add([]byte(`[]`), "0", "contains", "x")
	f.Add([]byte(`{"a":{"b":"c"}}`), "a", "=", `{"b":"c"}`)
	f.Fuzz(func(t *testing.T, data []byte, ref, op, value string) {
		scope, err := Event{ID: "x", Type: "case.created", Data: data}.Scope()
		if err != nil {
			scope = map[string]any{"raw": string(data)}
		}
		c := Condition{Reference: ref, Operator: op, Value: value}
		got := c.Match(scope)
		// Negations agree with their positives whenever the reference exists.
		if _, found := Lookup(scope, ref); found {
			switch op {
			case OpEqual:
				if (&Condition{Reference: ref, Operator: OpNotEqual, Value: value}).Match(scope) == got {
					t.Errorf("= and != agree for %q %q", ref, value)
				}
			case OpIn:
				if (&Condition{Reference: ref, Operator: OpNotIn, Value: value}).Match(scope) == got {
					t.Errorf("in and not_in agree for %q %q", ref, value)
				}
			}
		}
		_ = ValidateConditions([]Condition{c})
		_ = MatchConditions([]Condition{c, c}, scope)
	})
}

func FuzzConditionUnmarshal(f *testing.F) {
	f.Add(`{"reference":"a","operator":"=","value":3.50}`)
	f.Add(`{"reference":"a","operator":"in","value":"215, 223"}`)
	f.Add(`{"value":true}`)
	f.Add(`{"value":[1]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var c Condition
		if err := json.Unmarshal([]byte(in), &c); err != nil {
			return
		}
		// Whatever was accepted survives a round trip as a string value.
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Condition
		if err := json.Unmarshal(out, &back); err != nil || back != c {
			t.Errorf("round trip %q → %s → %+v (%v)", in, out, back, err)
		}
	})
}

func BenchmarkMatchConditions(b *testing.B) {
	scope := ipscapeScope(b)
	conds := []Condition{
		{Reference: "campaignId", Operator: "in", Value: "101, 102, 215, 223"},
		{Reference: "lead.totalAttempts", Operator: ">=", Value: "3"},
		{Reference: "wrapCode", Operator: "!=", Value: "185"},
		{Reference: "lead.phones.1.completed", Operator: "=", Value: "false"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if !MatchConditions(conds, scope) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	scope := ipscapeScope(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Lookup(scope, "lead.phones.1.phone"); !ok {
			b.Fatal("not found")
		}
	}
}
