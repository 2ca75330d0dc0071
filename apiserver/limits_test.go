//go:build !fuzzsmoke

package apiserver_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// Every input limit, through the real API: a request past a limit is refused
// with a clear answer naming the field (or 413 for the body), and nothing is
// saved or sent.

// fieldError returns the message the error answer gives for path.
func fieldError(t *testing.T, r teststack.Response, path string) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.JSON(t, &e)
	msg, ok := e.Error.Fields[path]
	if !ok {
		t.Fatalf("no field error for %q in %s", path, r.Body)
	}
	return msg
}

func mustRefuse(t *testing.T, s *teststack.Stack, path string, body any, field, want string) {
	t.Helper()
	r := s.Do("POST", path, body)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("POST %s: status %d, want 400: %s", path, r.Status, r.Body)
	}
	if msg := fieldError(t, r, field); !strings.Contains(msg, want) {
		t.Fatalf("POST %s: %s = %q, want it to mention %q", path, field, msg, want)
	}
}

func TestLimitsOnPublishedEvents(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})

	t.Run("body size is 413", func(t *testing.T) {
		big := `{"type": "case.created", "data": {"s": "` + strings.Repeat("x", 5<<20) + `"}}`
		r := s.Do("POST", "/v1/events", big)
		if r.Status != http.StatusRequestEntityTooLarge || !strings.Contains(string(r.Body), "limit") {
			t.Fatalf("status %d, want 413 naming the limit: %.300s", r.Status, r.Body)
		}
	})
	t.Run("batch size", func(t *testing.T) {
		events := make([]map[string]any, 1001)
		for i := range events {
			events[i] = map[string]any{"type": "case.created"}
		}
		mustRefuse(t, s, "/v1/events", map[string]any{"events": events}, "events", "the limit is 1000")
	})
	t.Run("data size", func(t *testing.T) {
		mustRefuse(t, s, "/v1/events", map[string]any{"type": "case.created",
			"data": map[string]any{"s": strings.Repeat("x", 300<<10)}}, "data", "the limit is 262144")
	})
	t.Run("json depth", func(t *testing.T) {
		deep := `{"type": "case.created", "data": ` + strings.Repeat(`{"a": `, 70) + `1` + strings.Repeat(`}`, 70) + `}`
		mustRefuse(t, s, "/v1/events", deep, "body", "the limit is 64")
		// Brackets inside strings are text, not nesting.
		inString := `{"type": "case.created", "data": {"s": "` + strings.Repeat("[{", 100) + `"}}`
		s.MustDo(http.StatusAccepted, "POST", "/v1/events", inString)
	})
	t.Run("invalid utf-8", func(t *testing.T) {
		mustRefuse(t, s, "/v1/events", "{\"type\": \"case.created\", \"data\": {\"s\": \"\xff\xfe\"}}", "body", "not valid UTF-8")
	})
	t.Run("unknown fields", func(t *testing.T) {
		mustRefuse(t, s, "/v1/events", `{"type": "case.created", "colour": "red"}`, "colour", "is not a known field")
		mustRefuse(t, s, "/v1/events", `{"type": "case.created", "": 1}`, "body", "empty name")
		// ("payload" is known: ipSCAPE's name for data.)
		r := s.Do("POST", "/v1/events", `{"events": [{"type": "case.created", "colour": {}}]}`)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "colour") {
			t.Fatalf("unknown field in a batch: status %d: %s", r.Status, r.Body)
		}
	})
	t.Run("id, type, subject, data shape", func(t *testing.T) {
		mustRefuse(t, s, "/v1/events", map[string]any{"id": strings.Repeat("i", 201), "type": "case.created"}, "id", "at most 200")
		mustRefuse(t, s, "/v1/events", map[string]any{"id": "a b", "type": "case.created"}, "id", "spaces")
		mustRefuse(t, s, "/v1/events", map[string]any{"type": "case.created", "subject": strings.Repeat("s", 501)}, "subject", "at most 500")
		mustRefuse(t, s, "/v1/events", map[string]any{"type": "case.created", "data": []int{1}}, "data", "JSON object")
		mustRefuse(t, s, "/v1/events", `{"type": "case.created", "data": {"s": "a\u0000b"}}`, "data", "NUL")
		mustRefuse(t, s, "/v1/events", `{"type": "agent.wrap", "payload": {"s": "a\u0000b"}}`, "data", "NUL")
		mustRefuse(t, s, "/v1/events", `{"type": "agent.wrap", "payload": [1]}`, "data", "JSON object")
		mustRefuse(t, s, "/v1/events", map[string]any{"events": []map[string]any{{"type": "case.created"}, {"type": ""}}}, "events[1].type", "is required")
	})
	t.Run("text PostgreSQL cannot store is refused, not a 500", func(t *testing.T) {
		// jsonb refuses lone UTF-16 surrogates and numbers beyond numeric's range.
		mustRefuse(t, s, "/v1/events", `{"type": "case.created", "data": {"s": "\ud800"}}`, "data", "surrogate")
		mustRefuse(t, s, "/v1/events", `{"type": "case.created", "data": {"n": 1e999999}}`, "data", "number")
		mustRefuse(t, s, "/v1/events", `{"type": "case.created", "data": {"s": "\udc00x"}}`, "data", "surrogate")
		// NUL in any text, not only in data (PostgreSQL's text refuses it too).
		mustRefuse(t, s, "/v1/events", `{"type": "case.created", "subject": "a\u0000"}`, "subject", "NUL")
		mustRefuse(t, s, "/v1/events", `{"events": [{"type": "case.created"}, {"type": "case.created", "id": "\u0000"}]}`, "events[1].id", "NUL")
		// An escaped backslash before "u0000" is text, not NUL.
		s.MustDo(http.StatusAccepted, "POST", "/v1/events", `{"type": "case.created", "data": {"path": "C:\\u0000"}}`)
		// A proper surrogate pair is an ordinary character.
		s.MustDo(http.StatusAccepted, "POST", "/v1/events", `{"id": "pair", "type": "case.created", "data": {"s": "\ud83d\ude00", "n": 1e300}}`)
		if got := s.MustDo(200, "GET", "/v1/events/pair", nil).Map(t)["data"].(map[string]any)["s"]; got != "😀" {
			t.Fatalf("surrogate pair read back as %q", got)
		}
	})
}

func TestLimitsOnWebhookDefinitions(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	base := func() map[string]any {
		return map[string]any{"name": "limits", "url": "https://example.com/hook", "event_types": []string{"case.created"}}
	}
	with := func(k string, v any) map[string]any { b := base(); b[k] = v; return b }

	t.Run("url length", func(t *testing.T) {
		long := "https://example.com/" + strings.Repeat("a", domain.MaxURLLength)
		mustRefuse(t, s, "/v1/webhooks", with("url", long), "url", fmt.Sprintf("at most %d characters", domain.MaxURLLength))
		ok := "https://example.com/" + strings.Repeat("a", domain.MaxURLLength-len("https://example.com/"))
		s.MustDo(http.StatusCreated, "POST", "/v1/webhooks", with("url", ok))
		s.MustDo(http.StatusNoContent, "DELETE", "/v1/webhooks/limits", nil)
	})
	t.Run("header count", func(t *testing.T) {
		headers := map[string]string{}
		for i := 0; i <= domain.MaxHeaders; i++ {
			headers[fmt.Sprintf("X-H%d", i)] = "v"
		}
		mustRefuse(t, s, "/v1/webhooks", with("headers", headers), "headers", fmt.Sprintf("at most %d entries", domain.MaxHeaders))
	})
	t.Run("header value size", func(t *testing.T) {
		mustRefuse(t, s, "/v1/webhooks", with("headers", map[string]string{"X-Big": strings.Repeat("v", domain.MaxHeaderValue+1)}),
			`headers["X-Big"]`, fmt.Sprintf("at most %d characters", domain.MaxHeaderValue))
	})
	t.Run("header names", func(t *testing.T) {
		mustRefuse(t, s, "/v1/webhooks", with("headers", map[string]string{"Bad Name": "v"}), `headers["Bad Name"]`, "not a valid HTTP header name")
		mustRefuse(t, s, "/v1/webhooks", with("headers", map[string]string{"webhook-signature": "v"}), `headers["webhook-signature"]`, "cannot be overridden")
	})
	t.Run("event types", func(t *testing.T) {
		types := make([]string, domain.MaxEventTypes+1)
		for i := range types {
			types[i] = fmt.Sprintf("obj%d.created", i)
		}
		mustRefuse(t, s, "/v1/webhooks", with("event_types", types), "event_types", fmt.Sprintf("at most %d", domain.MaxEventTypes))
	})
	t.Run("json depth, utf-8 and unknown fields", func(t *testing.T) {
		deep := `{"name": "d", "url": "https://example.com", "event_types": ["*"], "headers": ` + strings.Repeat(`{"a": `, 70) + `1` + strings.Repeat(`}`, 70) + `}`
		mustRefuse(t, s, "/v1/webhooks", deep, "body", "the limit is 64")
		mustRefuse(t, s, "/v1/webhooks", "{\"name\": \"\xc3\x28\", \"url\": \"https://example.com\", \"event_types\": [\"*\"]}", "body", "not valid UTF-8")
		mustRefuse(t, s, "/v1/webhooks", with("retries", 3), "retries", "is not a known field")
	})
	t.Run("NUL in text fields", func(t *testing.T) {
		mustRefuse(t, s, "/v1/webhooks", `{"name": "a\u0000b", "url": "https://example.com", "event_types": ["*"]}`, "name", "NUL")
		mustRefuse(t, s, "/v1/webhooks", `{"name": "n", "url": "https://example.com", "event_types": ["*"], "headers": {"X-A": "\u0000"}}`, `headers["X-A"]`, "NUL")
		mustRefuse(t, s, "/v1/flows", `{"name": "f", "steps": [{"name": "a", "action": "log", "params": {"message": "x\u0000"}}]}`, `steps[0].params["message"]`, "NUL")
	})
	var list struct{ Total int }
	s.MustDo(200, "GET", "/v1/webhooks", nil).JSON(t, &list)
	if list.Total != 0 {
		t.Fatalf("%d webhooks saved by refused requests", list.Total)
	}
}

// A body template that renders past domain.MaxTemplateOutput fails the
// delivery at once (retrying cannot help) with a message that says why, and
// sends nothing.
func TestTemplateOutputLimitFailsTheDelivery(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "huge body", "url": rc.URL, "event_types": []string{"case.created"},
		"body": `{% for i in (1..400) %}{{ chunk }}{% endfor %}`, "retry": fastRetry})
	publish(t, s, "evt-huge", "case.created", map[string]any{"chunk": strings.Repeat("x", 1024)})
	d := s.DeliveryOf(t, "evt-huge", "failed")
	atts := attemptsOf(d)
	if len(atts) != 1 {
		t.Fatalf("attempts = %v, want exactly one (the failure is permanent)", atts)
	}
	if msg, _ := atts[0]["error"].(string); !strings.Contains(msg, "body") || !strings.Contains(msg, "256 KiB") {
		t.Fatalf("attempt error = %q, want it to name the body and the 256 KiB limit", msg)
	}
	time.Sleep(1500 * time.Millisecond) // a retry would have come by now (fastRetry: 1s)
	if rc.Count() != 0 {
		t.Fatalf("receiver got %d requests for a body that could not be built", rc.Count())
	}
	// The same template within the limit is sent.
	publish(t, s, "evt-small", "case.created", map[string]any{"chunk": "y"})
	s.DeliveryOf(t, "evt-small", "succeeded")
	if got := rc.WaitFor(t, 1, 30*time.Second)[0]; len(got.Body) != 400 {
		t.Fatalf("body of %d bytes, want 400", len(got.Body))
	}
}
