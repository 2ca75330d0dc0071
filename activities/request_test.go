package activities

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/triggerflow/triggerflow/domain"
)

func TestRenderRequestFillsPlaceholdersEverywhere(t *testing.T) {
	body := `{"name": "{{ contact.first_name }}", "height": "{{ contact.czCol.15 }}", "event": "{{ event.id }}"}`
	w := &domain.Webhook{
		Code: "crm", Method: "POST", URL: "https://crm.example.com/contacts/{{ contact.id }}",
		Params:  map[string]string{"campaign": "{{ campaignId }}"},
		Headers: map[string]string{"X-Lead": "{{ lead.totalAttempts }}"},
		Body:    &body,
	}
	ev := domain.Event{ID: "evt-9", Type: "contact.updated", OccurredAt: time.Now(),
		Data: json.RawMessage(`{"campaignId": 53, "lead": {"totalAttempts": "3"}, "contact": {"id": 7, "first_name": "Ann", "czCol": {"15": "180cm"}}}`)}
	req, err := renderRequest(w, ev)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL != "https://crm.example.com/contacts/7?campaign=53" {
		t.Errorf("url = %s", req.URL)
	}
	if req.Headers["X-Lead"] != "3" || req.Headers["Content-Type"] != "application/json" {
		t.Errorf("headers = %v", req.Headers)
	}
	if string(req.Body) != `{"name": "Ann", "height": "180cm", "event": "evt-9"}` {
		t.Errorf("body = %s", req.Body)
	}
}

func TestRenderRequestDefaultBodyIsTheEvent(t *testing.T) {
	w := &domain.Webhook{Method: "POST", URL: "https://x.example.com"}
	ev := domain.Event{ID: "e1", Type: "user.logout", Subject: "u1", OccurredAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"a":1}`)}
	req, err := renderRequest(w, ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"e1","type":"user.logout","occurred_at":"2026-05-01T00:00:00Z","subject":"u1","data":{"a":1}}`
	if string(req.Body) != want {
		t.Errorf("body = %s", req.Body)
	}
	w.Method = "GET"
	if req, _ := renderRequest(w, ev); len(req.Body) != 0 {
		t.Errorf("GET sends no default body, got %s", req.Body)
	}
}

func TestRenderRequestRefusesABadRenderedURL(t *testing.T) {
	w := &domain.Webhook{Method: "POST", URL: "{{ target }}"}
	_, err := renderRequest(w, domain.Event{Data: json.RawMessage(`{"target": "file:///etc/passwd"}`)})
	if err == nil || !strings.Contains(err.Error(), "not an absolute http(s) URL") {
		t.Fatalf("err = %v", err)
	}
}

func TestSignatureVerifiesWithReferenceLibrary(t *testing.T) {
	secret := NewSigningSecret()
	body := []byte(`{"hello":"world"}`)
	now := time.Now()
	sig, err := Sign("msg_abc", now, body, secret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string][]string{
		"Webhook-Id": {"msg_abc"}, "Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "Webhook-Signature": {sig},
	}
	if err := v.Verify(body, h); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := v.Verify([]byte(`{"hello":"mallory"}`), h); err == nil {
		t.Fatal("a changed body verified")
	}
}

func TestMaskHeaders(t *testing.T) {
	m := maskHeaders(map[string]string{"Authorization": "Bearer x", "X-Api-Key": "k", "Webhook-Signature": "v1,abc", "Accept": "json"})
	if m["Authorization"] != "***" || m["X-Api-Key"] != "***" || m["Webhook-Signature"] != "v1,abc" || m["Accept"] != "json" {
		t.Fatalf("%v", m)
	}
}

// BenchmarkSign signs a typical 500-byte event body with one secret.
func BenchmarkSign(b *testing.B) {
	secret := NewSigningSecret()
	body := []byte(strings.Repeat(`{"agentInteractionId":"181331","wrapCode":"209"}`, 10))
	now := time.Now()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Sign("msg_01a1ffce63cd704fb5b4576b692b79f8", now, body, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderRequest renders a webhook with templated URL, header and body.
func BenchmarkRenderRequest(b *testing.B) {
	body := `{"name": "{{ contact.first_name }}", "event": "{{ event.id }}"}`
	w := &domain.Webhook{Method: "POST", URL: "https://crm.example.com/contacts/{{ contact.id }}",
		Headers: map[string]string{"X-Lead": "{{ lead.totalAttempts }}"}, Body: &body}
	ev := domain.Event{ID: "evt-9", Type: "contact.updated", OccurredAt: time.Now(),
		Data: json.RawMessage(`{"lead": {"totalAttempts": "3"}, "contact": {"id": 7, "first_name": "Ann"}}`)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := renderRequest(w, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAttemptsMaskCredentialHeadersBothWays: what an attempt records of the
// request it sent and of the answer (a session cookie) is masked.
func TestAttemptsMaskCredentialHeadersBothWays(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=s3cret")
		w.Header().Set("X-Request-Id", "r1")
	}))
	defer srv.Close()
	policy, _ := NewEgressPolicy([]string{"127.0.0.0/8"})
	req := outboundRequest{Method: "POST", URL: srv.URL, Headers: map[string]string{"Authorization": "Bearer s3cret", "Accept": "*/*"}}
	res, sent := send(context.Background(), NewHTTPClient(policy), req, "msg_1", 5*time.Second, time.Now(), NewSigningSecret())
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	if res.ResponseHeaders["Set-Cookie"] != domain.Masked || res.ResponseHeaders["X-Request-Id"] != "r1" {
		t.Fatalf("response headers = %v", res.ResponseHeaders)
	}
	if m := maskHeaders(sent); m["Authorization"] != domain.Masked || m["Accept"] != "*/*" || m["Webhook-Signature"] == domain.Masked {
		t.Fatalf("request headers = %v", m)
	}
}

// The webhooks an event fans out to in one call decode its data once and
// share it, yet each renders with its own top level: one's assign or its
// webhook variable never shows in another's request.
func TestWebhooksOfOneEventShareItsScope(t *testing.T) {
	ev := domain.Event{ID: "evt-1", Type: "case.updated", OccurredAt: time.Now(),
		Data: json.RawMessage(`{"case": {"id": 42}, "note": "from the event"}`)}
	assigning := `{% assign note = "overwritten" %}{{ note }} {{ webhook.code }} {{ case.id }}`
	reading := `{{ note }} {{ webhook.code }} {{ case.id }}`
	a := &domain.Webhook{Code: "a", Method: "POST", URL: "https://a.example.com/", Body: &assigning}
	b := &domain.Webhook{Code: "b", Method: "POST", URL: "https://b.example.com/", Body: &reading}
	scopes := &eventScopes{}
	for range 2 {
		ra, err := renderRequestWith(a, ev, scopes)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := renderRequestWith(b, ev, scopes)
		if err != nil {
			t.Fatal(err)
		}
		if string(ra.Body) != "overwritten a 42" || string(rb.Body) != "from the event b 42" {
			t.Fatalf("bodies %q and %q", ra.Body, rb.Body)
		}
	}
	if len(scopes.m) != 1 {
		t.Fatalf("%d scopes kept for one event", len(scopes.m))
	}
}
