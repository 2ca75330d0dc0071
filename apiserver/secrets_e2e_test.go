//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/triggerflow/triggerflow/internal/teststack"
)

// TestSigningSecretsSealedAndNeverShownAgain checks that secrets are
// encrypted in the database, still sign deliveries the reference library
// verifies (after a rotation too), and appear in no read after the answers
// that hand them out: not the webhook, not the list, not the attempt log.
func TestSigningSecretsSealedAndNeverShownAgain(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkitReceiver(t)
	wh := createWebhook(t, s, map[string]any{
		"name": "Sealed", "url": rc.URL + "/hook", "event_types": []string{"case.created"},
	})
	id, first := wh["id"].(string), wh["secret"].(string)
	rotated := s.MustDo(http.StatusOK, "POST", "/v1/webhooks/"+id+"/rotate-secret", nil).Map(t)
	second := rotated["secret"].(string)
	if !strings.HasPrefix(first, "whsec_") || !strings.HasPrefix(second, "whsec_") || first == second {
		t.Fatalf("secrets %q, %q", first, second)
	}
	// What must never show up: the whole secrets and their key material.
	leaks := []string{first, second, strings.TrimPrefix(first, "whsec_"), strings.TrimPrefix(second, "whsec_")}
	assertNoSecret := func(what string, body []byte) {
		t.Helper()
		for _, l := range leaks {
			if strings.Contains(string(body), l) {
				t.Fatalf("%s shows a signing secret: %s", what, body)
			}
		}
	}

	var col, prev string
	if err := s.DB.QueryRowContext(context.Background(), `SELECT secret, previous_secret FROM webhooks WHERE id = $1`, id).Scan(&col, &prev); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(col, "v2:") || !strings.HasPrefix(prev, "v2:") {
		t.Fatalf("stored secrets are not sealed: %q, %q", col, prev)
	}
	assertNoSecret("the webhooks table", []byte(col+prev))

	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "evt-sealed", "type": "case.created", "data": map[string]any{}})
	got := rc.WaitFor(t, 1, 20*time.Second)[0]
	for _, secret := range []string{second, first} {
		v, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(got.Body, got.Header); err != nil {
			t.Fatalf("signature does not verify with %s…: %v", secret[:10], err)
		}
	}

	msgID := got.Header.Get("webhook-id")
	var d struct {
		Attempts []struct {
			Request struct {
				Headers map[string]string `json:"headers"`
			} `json:"request"`
		} `json:"attempts"`
	}
	waitFor(t, func() bool {
		r := s.Do("GET", "/v1/deliveries/"+msgID, nil)
		if r.Status != 200 {
			return false
		}
		r.JSON(t, &d)
		return len(d.Attempts) == 1
	})
	headers, _ := json.Marshal(d.Attempts[0].Request.Headers)
	if !strings.Contains(string(headers), "v1,") {
		t.Fatalf("attempt log has no signature header: %s", headers)
	}
	assertNoSecret("the attempt log", s.MustDo(200, "GET", "/v1/deliveries/"+msgID, nil).Body)
	assertNoSecret("GET webhook", s.MustDo(200, "GET", "/v1/webhooks/"+id, nil).Body)
	assertNoSecret("the webhook list", s.MustDo(200, "GET", "/v1/webhooks", nil).Body)
	assertNoSecret("the webhook's deliveries", s.MustDo(200, "GET", "/v1/webhooks/"+id+"/deliveries", nil).Body)
	assertNoSecret("the event", s.MustDo(200, "GET", "/v1/events/evt-sealed", nil).Body)
	if masked := s.MustDo(200, "GET", "/v1/webhooks/"+id, nil).Map(t)["secret"]; masked != "whsec_…"+second[len(second)-4:] {
		t.Fatalf("masked secret = %v", masked)
	}
}
