//go:build !fuzzsmoke

package apiserver_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/triggerflow/triggerflow/internal/teststack"
)

// createWebhook creates a webhook and returns its JSON.
func createWebhook(t *testing.T, s *teststack.Stack, body map[string]any) map[string]any {
	t.Helper()
	return s.CreateWebhook(t, body)
}

func TestPublishDeliversSignedRequestAndLogsIt(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkitReceiver(t)
	wh := createWebhook(t, s, map[string]any{
		"name": "Case updates", "url": rc.URL + "/hook?x=1", "event_types": []string{"case.created"},
		"headers": map[string]string{"X-Case": "{{ case.number }}"},
	})
	if wh["code"] != "case_updates" {
		t.Fatalf("code = %v, want suggested case_updates", wh["code"])
	}
	secret := wh["secret"].(string)

	r := s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{
		"id": "evt-1", "type": "case.created", "data": map[string]any{"case": map[string]any{"number": "C-42"}},
	})
	if got := r.Map(t)["ids"].([]any)[0]; got != "evt-1" {
		t.Fatalf("ids = %v", got)
	}
	got := rc.WaitFor(t, 1, 20*time.Second)[0]
	if got.Header.Get("X-Case") != "C-42" || got.Query != "x=1" {
		t.Fatalf("templated header/query not applied: %v %q", got.Header, got.Query)
	}
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil || body["id"] != "evt-1" || body["type"] != "case.created" {
		t.Fatalf("default body = %s (%v)", got.Body, err)
	}
	// The reference Standard Webhooks library verifies our signature.
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("signature does not verify: %v (headers %v)", err, got.Header)
	}
	msgID := got.Header.Get("webhook-id")

	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	waitFor(t, func() bool {
		s.MustDo(200, "GET", "/v1/webhooks/case_updates/deliveries?status=succeeded", nil).JSON(t, &list)
		return list.Total == 1
	})
	if list.Items[0]["id"] != msgID {
		t.Fatalf("delivery id %v != webhook-id header %v", list.Items[0]["id"], msgID)
	}
	d := s.MustDo(200, "GET", "/v1/deliveries/"+msgID, nil).Map(t)
	atts := d["attempts"].([]any)
	if len(atts) != 1 {
		t.Fatalf("attempts = %v", atts)
	}
	a := atts[0].(map[string]any)
	if a["result"] != "SUCCESS" || a["response_status"].(float64) != 200 || a["response_body"] != "ok" {
		t.Fatalf("attempt = %v", a)
	}
	if d["workflow_id"] == "" {
		t.Fatalf("delivery has no workflow_id: %v", d)
	}
	ev := s.MustDo(200, "GET", "/v1/events/evt-1", nil).Map(t)
	if ds := ev["deliveries"].([]any); len(ds) != 1 || ds[0].(map[string]any)["status"] != "succeeded" {
		t.Fatalf("event deliveries = %v", ev["deliveries"])
	}
}
