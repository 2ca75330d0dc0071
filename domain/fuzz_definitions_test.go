package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz targets for the definition validators: webhooks, triggers and flows
// are built from untrusted API input, so Normalize + Validate must never
// panic, must answer quickly, must answer the same way twice, and must either
// accept the definition or name what is wrong field by field. Inputs are
// capped so every iteration stays bounded in time and memory.

// maxFuzzField caps one fuzzed text field; large enough to cross the
// definitions' own length limits (names, URLs, descriptions).
const maxFuzzField = 4 << 10

// fuzzBudget is the longest one validation may take.
const fuzzBudget = time.Second

func fuzzTooBig(fields ...string) bool {
	for _, s := range fields {
		if len(s) > maxFuzzField {
			return true
		}
	}
	return false
}

// checkValidationResult asserts the shape every validator's answer must have:
// nil, or a *ValidationError with at least one field and a message for each,
// whose messages stay valid UTF-8 when the input was.
func checkValidationResult(t *testing.T, err error, inputUTF8 bool) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %T (%v) is not a *ValidationError", err, err)
	}
	if len(ve.Fields) == 0 {
		t.Fatalf("validation error without fields: %v", err)
	}
	for path, msg := range ve.Fields {
		if msg == "" {
			t.Fatalf("field %q has an empty message", path)
		}
		if inputUTF8 && (!utf8.ValidString(msg) || !utf8.ValidString(path)) {
			t.Fatalf("field %q: message is not valid UTF-8: %q", path, msg)
		}
	}
}

func allUTF8(fields ...string) bool {
	for _, s := range fields {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

func timed(t *testing.T, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d > fuzzBudget {
		t.Fatalf("%s took %s (budget %s)", what, d, fuzzBudget)
	}
}

func FuzzWebhookValidate(f *testing.F) {
	f.Add("Case updates", "", "https://crm.example.com/hooks/{{ case.id }}", "post", "X-Case", "{{ case.number }}", 1,
		`{"id": "{{ event.id }}"}`, "case.created,case.updated", "case.priority", ">=", "2", "", int64(10000), 3)
	f.Add("", "bad code!", "ftp://x", "TRACE", "Host", "x", 60, "{{", "", "a..b", "~", "", "event.type ==", int64(-1), -5)
	f.Add("n", "n", "http://user:pw@h/p?q={{ a }}", "GET", "bad header", strings.Repeat("v", 9000), 0,
		"", "task.*", "x", "in", " , ", `data.n > 1 && event.type == "x"`, int64(31000), 0)
	f.Add("Ünïcödé näme", "", "https://{{ host }}/", "", "X-A", "{% for i in (1..3) %}{{ i }}{% endfor %}", 2,
		"{% if x %}", "*", "lead.totalAttempts", "exists", "maybe", "", int64(0), 1)
	f.Add(strings.Repeat("é", 150), "", "https://h/"+strings.Repeat("a", 2100), "patch", "X", "", 51,
		"", "case.created", "", "", "", "", int64(500), 1<<30)
	f.Fuzz(func(t *testing.T, name, code, rawURL, method, headerKey, headerValue string, headerCount int,
		body, eventTypes, condRef, condOp, condValue, expression string, timeoutMs int64, maxAttempts int) {
		if fuzzTooBig(name, code, rawURL, method, headerKey, body, eventTypes, condRef, condOp, condValue, expression) ||
			len(headerValue) > 2*MaxHeaderValue {
			return
		}
		w := &Webhook{Name: name, Code: code, URL: rawURL, Method: method, Expression: expression,
			Timeout: time.Duration(timeoutMs) * time.Millisecond, Headers: map[string]string{}}
		// headerCount extra headers cross MaxHeaders; the fuzzed one is
		// added last so it may replace a generated one.
		for i := 0; i < headerCount%(MaxHeaders+5); i++ {
			w.Headers["X-Gen-"+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
		}
		if headerKey != "" || headerValue != "" {
			w.Headers[headerKey] = headerValue
		}
		if body != "" {
			w.Body = &body
		}
		if eventTypes != "" {
			w.EventTypes = strings.Split(eventTypes, ",")
		}
		if condRef != "" || condOp != "" || condValue != "" {
			w.Conditions = []Condition{{Reference: condRef, Operator: condOp, Value: condValue}}
			// A filter keyed by the first event type exercises the
			// pattern checks with the same conditions.
			if len(w.EventTypes) > 0 {
				w.Filters = map[string][]Condition{w.EventTypes[0]: w.Conditions}
			}
		}
		if maxAttempts != 0 {
			w.Retry = RetryPolicy{InitialInterval: Duration(time.Second), Backoff: 2, MaxAttempts: maxAttempts}
		}
		inputUTF8 := allUTF8(name, code, rawURL, method, headerKey, headerValue, body, eventTypes, condRef, condOp, condValue, expression)

		var err1, err2 error
		timed(t, "webhook validation", func() {
			w.Normalize()
			err1 = w.Validate()
		})
		checkValidationResult(t, err1, inputUTF8)
		// Validation is a pure function of the definition.
		timed(t, "webhook validation (again)", func() { err2 = w.Validate() })
		if errString(err1) != errString(err2) {
			t.Fatalf("validation is not deterministic:\n%v\n%v", err1, err2)
		}
		if err1 != nil {
			return
		}
		// What validation accepts respects the limits the API documents.
		switch {
		case len(w.URL) > MaxURLLength:
			t.Fatalf("accepted a URL of %d characters", len(w.URL))
		case len(w.Headers) > MaxHeaders:
			t.Fatalf("accepted %d headers", len(w.Headers))
		case len(w.EventTypes) == 0 || len(w.EventTypes) > MaxEventTypes:
			t.Fatalf("accepted %d event types", len(w.EventTypes))
		case w.Timeout < MinWebhookTimeout || w.Timeout > MaxWebhookTimeout:
			t.Fatalf("accepted timeout %s", w.Timeout)
		case w.Code == "" || ValidateCode(w.Code) != nil:
			t.Fatalf("accepted code %q", w.Code)
		}
		for k, v := range w.Headers {
			if len(v) > MaxHeaderValue || !validHeaderName(k) || reservedHeader(k) {
				t.Fatalf("accepted header %q (%d bytes)", k, len(v))
			}
		}
		// Normalizing an accepted webhook again changes nothing that matters.
		again := *w
		again.Normalize()
		if again.Method != w.Method || again.Code != w.Code || again.URL != w.URL || again.Timeout != w.Timeout {
			t.Fatalf("Normalize is not idempotent: %+v vs %+v", again, *w)
		}
	})
}

func FuzzTriggerValidate(f *testing.F) {
	f.Add("New case", "on_event", "notify-new-case", "", "", "case", "created", "", "case.priority", ">=", "2", int64(60000), []byte(nil))
	f.Add("Morning digest", "at_time", "digest", "0 9 * * 1-5", "Europe/Kyiv", "", "", "buffer_one", "", "", "", int64(0), []byte(nil))
	f.Add("Every minute", "at_time", "", "0 */1 12 * * *", "America/New_York", "", "", "", "", "", "", int64(1000),
		[]byte(`[{"action": "webhook", "parameters": {"url": "https://x.example.com/{{ leadId }}"}}]`))
	f.Add("Move", "on_event", "", "", "", "lead", "outcome_predictive", "", "campaignId", "=", "53", int64(0),
		[]byte(`[{"action": "lead.update.list", "parameters": {"listId": "354"}}, {"action": "notify", "parameter": {}}]`))
	f.Add("", "sometimes", "f", "* * * * * * * *", "Mars/Olympus", "x", "y", "never", "a..b", "??", "", int64(-1), []byte(`{"not": "a list"}`))
	f.Add(" x ", "at_time", "f", "60 25 32 13 8", "Local", "case", "", "skip", "k", "in", ",", int64(86400001), []byte(`[1, null, {"action": 5, "parameters": []}]`))
	f.Fuzz(func(t *testing.T, name, typ, flow, expression, timezone, object, event, overlap, condRef, condOp, condValue string,
		timeoutMs int64, actions []byte) {
		if fuzzTooBig(name, typ, flow, expression, timezone, object, event, overlap, condRef, condOp, condValue) || len(actions) > maxFuzzField {
			return
		}
		tr := &Trigger{Name: name, Type: typ, Flow: flow, Expression: expression, TimeZone: timezone,
			Object: object, Event: event, OverlapPolicy: overlap, Timeout: time.Duration(timeoutMs) * time.Millisecond}
		if condRef != "" || condOp != "" || condValue != "" {
			tr.Conditions = []Condition{{Reference: condRef, Operator: condOp, Value: condValue}}
		}
		var err1, err2 error
		decoded := true
		timed(t, "trigger validation", func() {
			acts, decodeErrs := DecodeTriggerActions(json.RawMessage(actions))
			for path, msg := range decodeErrs {
				if msg == "" {
					t.Fatalf("decoding actions: empty message for %q", path)
				}
			}
			if len(decodeErrs) > 0 {
				decoded = false // the API answers with these field errors
				return
			}
			tr.Actions = acts
			tr.Normalize()
			err1 = tr.Validate(flowTestActions)
			err2 = tr.Validate(flowTestActions)
		})
		if !decoded {
			return
		}
		checkValidationResult(t, err1, allUTF8(name, typ, flow, expression, timezone, object, event, overlap, condRef, condOp, condValue) && utf8.Valid(actions))
		if errString(err1) != errString(err2) {
			t.Fatalf("validation is not deterministic:\n%v\n%v", err1, err2)
		}
		if err1 != nil {
			return
		}
		switch {
		case tr.Timeout < MinTriggerTimeout || tr.Timeout > MaxTriggerTimeout:
			t.Fatalf("accepted timeout %s", tr.Timeout)
		case tr.Type != TriggerAtTime && tr.Type != TriggerOnEvent:
			t.Fatalf("accepted type %q", tr.Type)
		case tr.Flow == "" && len(tr.Actions) == 0:
			t.Fatal("accepted a trigger with neither flow nor actions")
		}
		// An accepted At Time trigger has a schedule that computes.
		if tr.Type == TriggerAtTime {
			var runs []time.Time
			timed(t, "next runs", func() {
				runs = tr.NextRuns(time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), NextRunsShown)
			})
			for i := 1; i < len(runs); i++ {
				if !runs[i].After(runs[i-1]) {
					t.Fatalf("next runs are not increasing: %v", runs)
				}
			}
		}
		if tr.Type == TriggerOnEvent && ValidEventTypeName(tr.EventType()) != nil {
			t.Fatalf("accepted an on_event trigger whose event type %q is not valid", tr.EventType())
		}
	})
}

func FuzzFlowValidate(f *testing.F) {
	f.Add("Case created", "", []byte(`[{"name": "lookup", "action": "http.request", "params": {"url": "https://crm.example.com/cases/{{ case.id }}"}},
		{"name": "tell", "action": "notify", "params": {"text": "Case {{ steps.lookup.response.json.id }}", "user_ids": ["7", 9]},
		 "if": [{"reference": "steps.lookup.response.status", "operator": "=", "value": 200}]}]`))
	f.Add("x/y", "Voice Flow", []byte(`[{"name": "A", "action": "nope"}, {"name": "a", "action": "calc", "params": {"n": "x", "on": "maybe", "opts": 5, "to": "not-an-email"}, "timeout": "2h", "retry": {"max_attempts": -1, "retry_all": true}}]`))
	f.Add("refs", "service", []byte(`[{"name": "a", "action": "notify", "params": {"text": "{{ steps.b.x }}", "user_ids": "1,2"}}, {"name": "b", "action": "lead.update.list", "params": {"lead.listId": "{% if x %}1{% endif %}"}}]`))
	f.Add("empty", "", []byte(`[]`))
	f.Add("dup", "", []byte(`[{"name": "a", "action": "calc"}, {"name": "a", "action": "calc", "params": null, "timeout": 5}]`))
	f.Add("deep", "", []byte(`[{"name": "a", "action": "http.request", "params": {"url": "http://h", "headers": {"Host": "x", "": 1, "X": [1]}, "body": {"a": [{"b": "{{ c"}]}}}]`))
	f.Fuzz(func(t *testing.T, name, typ string, steps []byte) {
		if fuzzTooBig(name, typ) || len(steps) > 2*maxFuzzField {
			return
		}
		var parsed []Step
		if err := json.Unmarshal(steps, &parsed); err != nil {
			return // the API refuses it while decoding
		}
		fl := &Flow{Name: name, Type: typ, Steps: parsed}
		var err1, err2 error
		timed(t, "flow validation", func() {
			fl.Normalize()
			err1 = fl.Validate(flowTestActions)
			err2 = fl.Validate(flowTestActions)
		})
		checkValidationResult(t, err1, allUTF8(name, typ) && utf8.Valid(steps))
		if errString(err1) != errString(err2) {
			t.Fatalf("validation is not deterministic:\n%v\n%v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if len(fl.Steps) == 0 || len(fl.Steps) > MaxFlowSteps {
			t.Fatalf("accepted %d steps", len(fl.Steps))
		}
		seen := map[string]bool{}
		for _, s := range fl.Steps {
			if seen[s.Name] || !stepNamePattern.MatchString(s.Name) {
				t.Fatalf("accepted step name %q", s.Name)
			}
			seen[s.Name] = true
		}
		// Accepted steps survive storage: encode, decode, validate again.
		raw, err := json.Marshal(fl.Steps)
		if err != nil {
			t.Fatalf("accepted steps do not encode: %v", err)
		}
		back, err := DecodeSteps(raw)
		if err != nil {
			t.Fatalf("accepted steps do not decode after storage: %v\n%s", err, raw)
		}
		if err := ValidateSteps(back, flowTestActions).Err(); err != nil {
			t.Fatalf("accepted steps are refused after storage: %v\n%s", err, raw)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
