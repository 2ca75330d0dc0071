//go:build !fuzzsmoke

package apiserver_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// fastRetry is a custom policy that retries quickly enough for real-stack tests.
var fastRetry = map[string]any{"initial_interval": "1s", "backoff": 1.0, "max_attempts": 3}

func publish(t *testing.T, s *teststack.Stack, id, typ string, data map[string]any) {
	t.Helper()
	s.Publish(t, id, typ, data)
}

func attemptsOf(d map[string]any) []map[string]any {
	var out []map[string]any
	for _, a := range d["attempts"].([]any) {
		out = append(out, a.(map[string]any))
	}
	return out
}

func TestRetriesUntilSuccessWithStableWebhookID(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.FailFirst(2, 503)
	createWebhook(t, s, map[string]any{"name": "flaky", "url": rc.URL, "event_types": []string{"task.*"}, "retry": fastRetry})
	publish(t, s, "evt-retry", "task.created", map[string]any{"workflow": "w1"})
	d := s.DeliveryOf(t, "evt-retry", "succeeded")
	atts := attemptsOf(d)
	if len(atts) != 3 || atts[0]["result"] != "SUCCESS" || atts[2]["result"] != "FAILED" || atts[2]["response_status"].(float64) != 503 {
		t.Fatalf("attempts (newest first) = %v", atts)
	}
	reqs := rc.Requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get("webhook-id") != d["id"] {
			t.Fatalf("webhook-id %q changed across retries (delivery %v)", r.Header.Get("webhook-id"), d["id"])
		}
	}
	if !strings.HasPrefix(d["workflow_id"].(string), "delivery-") {
		t.Fatalf("a retried delivery runs in its own delivery- workflow, got %v", d["workflow_id"])
	}
}

func TestPermanentStatusEndsDeliveryAtOnce(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 410, 422} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := teststack.Start(t, teststack.Options{})
			rc := testkit.NewReceiver(t)
			rc.Script(func(int, testkit.Received) testkit.Response { return testkit.Response{Status: code} })
			createWebhook(t, s, map[string]any{"name": "gone", "url": rc.URL, "event_types": []string{"*"}, "retry": fastRetry})
			publish(t, s, "evt-perm", "user.created", nil)
			d := s.DeliveryOf(t, "evt-perm", "failed")
			if n := len(attemptsOf(d)); n != 1 {
				t.Fatalf("%d attempts for a %d, want 1", n, code)
			}
			time.Sleep(1500 * time.Millisecond) // a retry would have come by now
			if rc.Count() != 1 {
				t.Fatalf("receiver got %d requests", rc.Count())
			}
		})
	}
}

func TestRetryAllRetriesPermanentStatuses(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.FailFirst(1, 404)
	createWebhook(t, s, map[string]any{"name": "retry all", "url": rc.URL, "event_types": []string{"*"},
		"retry": map[string]any{"initial_interval": "1s", "max_attempts": 3, "retry_all": true}})
	publish(t, s, "evt-ra", "user.created", nil)
	d := s.DeliveryOf(t, "evt-ra", "succeeded")
	if n := len(attemptsOf(d)); n != 2 {
		t.Fatalf("attempts = %d, want 2", n)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(n int, _ testkit.Received) testkit.Response {
		if n == 1 {
			return testkit.Response{Status: 429, RetryAfter: "3"}
		}
		return testkit.Response{Status: 200}
	})
	createWebhook(t, s, map[string]any{"name": "limited", "url": rc.URL, "event_types": []string{"*"}, "retry": fastRetry})
	publish(t, s, "evt-ra2", "user.created", nil)
	s.DeliveryOf(t, "evt-ra2", "succeeded")
	reqs := rc.Requests()
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 2900*time.Millisecond {
		t.Fatalf("second try came %s after the first; Retry-After asked for 3s (policy says 1s)", gap)
	}
}

func TestTimeoutIsAFailedAttempt(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(n int, _ testkit.Received) testkit.Response {
		if n == 1 {
			return testkit.Response{Status: 200, Delay: 3 * time.Second}
		}
		return testkit.Response{Status: 200}
	})
	createWebhook(t, s, map[string]any{"name": "slow", "url": rc.URL, "event_types": []string{"*"}, "retry": fastRetry, "timeout": "1s"})
	publish(t, s, "evt-slow", "user.created", nil)
	d := s.DeliveryOf(t, "evt-slow", "succeeded")
	atts := attemptsOf(d)
	if len(atts) != 2 || !strings.Contains(atts[1]["error"].(string), "timed out") || atts[1]["response_status"] != nil {
		t.Fatalf("attempts = %v", atts)
	}
}

func TestResponseBodyIsCutAt10KB(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	big := strings.Repeat("x", 50*1024)
	rc.Script(func(int, testkit.Received) testkit.Response { return testkit.Response{Status: 200, Body: []byte(big)} })
	createWebhook(t, s, map[string]any{"name": "big", "url": rc.URL, "event_types": []string{"*"}})
	publish(t, s, "evt-big", "user.created", nil)
	a := attemptsOf(s.DeliveryOf(t, "evt-big", "succeeded"))[0]
	if a["truncated"] != true || len(a["response_body"].(string)) != 10*1024 {
		t.Fatalf("truncated=%v body length=%d", a["truncated"], len(a["response_body"].(string)))
	}
}

func TestRotationSignsWithBothSecrets(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	wh := createWebhook(t, s, map[string]any{"name": "rot", "url": rc.URL, "event_types": []string{"*"}})
	oldSecret := wh["secret"].(string)
	rot := s.MustDo(200, "POST", "/v1/webhooks/rot/rotate-secret", nil).Map(t)
	newSecret := rot["secret"].(string)
	if newSecret == oldSecret || !strings.HasPrefix(newSecret, "whsec_") || rot["previous_secret_expires_at"] == nil {
		t.Fatalf("rotation answer = %v", rot)
	}
	if got := s.MustDo(200, "GET", "/v1/webhooks/rot", nil).Map(t)["secret"].(string); got == newSecret || !strings.HasSuffix(newSecret, got[len(got)-4:]) {
		t.Fatalf("reads must mask the secret, got %q", got)
	}
	publish(t, s, "evt-rot", "user.created", nil)
	req := rc.WaitFor(t, 1, 30*time.Second)[0]
	if sigs := strings.Fields(req.Header.Get("webhook-signature")); len(sigs) != 2 {
		t.Fatalf("want two signatures during the overlap, got %q", req.Header.Get("webhook-signature"))
	}
	for _, secret := range []string{oldSecret, newSecret} {
		v, _ := standardwebhooks.NewWebhook(secret)
		if err := v.Verify(req.Body, req.Header); err != nil {
			t.Fatalf("does not verify with %s…: %v", secret[:10], err)
		}
	}
}

func TestPublishIsIdempotent(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "once", "url": rc.URL, "event_types": []string{"*"}})
	for i := 0; i < 3; i++ {
		publish(t, s, "evt-same", "user.created", map[string]any{"n": i})
	}
	s.MustDo(202, "POST", "/v1/events", map[string]any{"events": []map[string]any{
		{"id": "evt-same", "type": "user.created"}, {"id": "evt-other", "type": "user.created"}, {"id": "evt-other", "type": "user.created"},
	}})
	rc.WaitFor(t, 2, 30*time.Second)
	time.Sleep(time.Second)
	if rc.Count() != 2 {
		t.Fatalf("receiver got %d requests for 2 distinct ids", rc.Count())
	}
	ev := s.MustDo(200, "GET", "/v1/events/evt-same", nil).Map(t)
	if ev["data"].(map[string]any)["n"].(float64) != 0 {
		t.Fatalf("a repeated id must not overwrite the event: %v", ev["data"])
	}
}

func TestDisabledWebhookPausesAndResumes(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	var fail atomic.Bool
	fail.Store(true)
	rc.Script(func(int, testkit.Received) testkit.Response {
		if fail.Load() {
			return testkit.Response{Status: 500}
		}
		return testkit.Response{Status: 200}
	})
	createWebhook(t, s, map[string]any{"name": "pausable", "url": rc.URL, "event_types": []string{"*"},
		"retry": map[string]any{"initial_interval": "2s", "max_attempts": 10}})
	publish(t, s, "evt-p1", "user.created", nil)
	rc.WaitFor(t, 1, 30*time.Second)
	s.MustDo(200, "PATCH", "/v1/webhooks/pausable", map[string]any{"enabled": false})
	n := rc.Count()
	// A disabled webhook matches no new events and makes no attempts.
	publish(t, s, "evt-p2", "user.created", nil)
	time.Sleep(5 * time.Second)
	if rc.Count() > n+1 { // one try may have been in flight when we disabled
		t.Fatalf("attempts continued while disabled: %d -> %d", n, rc.Count())
	}
	if ds := s.MustDo(200, "GET", "/v1/events/evt-p2", nil).Map(t)["deliveries"].([]any); len(ds) != 0 {
		t.Fatalf("an event published while disabled must not be matched: %v", ds)
	}
	fail.Store(false)
	s.MustDo(200, "PATCH", "/v1/webhooks/pausable", map[string]any{"enabled": true})
	s.DeliveryOf(t, "evt-p1", "succeeded")
}

func TestManualRetryOfFailedDelivery(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.FailFirst(1, 500)
	createWebhook(t, s, map[string]any{"name": "manual", "url": rc.URL, "event_types": []string{"*"}, "retry": map[string]any{"preset": "none"}})
	publish(t, s, "evt-m", "user.created", nil)
	d := s.DeliveryOf(t, "evt-m", "failed")
	if r := s.Do("POST", "/v1/deliveries/"+d["id"].(string)+"/retry", nil); r.Status != 202 {
		t.Fatalf("retry: %d %s", r.Status, r.Body)
	}
	d = s.DeliveryOf(t, "evt-m", "succeeded")
	if n := len(attemptsOf(d)); n != 2 {
		t.Fatalf("attempts = %d", n)
	}
	if r := s.Do("POST", "/v1/deliveries/"+d["id"].(string)+"/retry", nil); r.Status != 422 {
		t.Fatalf("retrying a succeeded delivery: %d %s", r.Status, r.Body)
	}
}

func TestTestSendReturnsTheAttempt(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "tester", "url": rc.URL, "event_types": []string{"case.*"}})
	r := s.MustDo(200, "POST", "/v1/webhooks/tester/test", nil).Map(t)
	a := r["attempt"].(map[string]any)
	if a["result"] != "SUCCESS" || a["response_status"].(float64) != 200 {
		t.Fatalf("test attempt = %v", a)
	}
	if rc.Count() != 1 || !strings.Contains(string(rc.Requests()[0].Body), `"type":"case.`) {
		t.Fatalf("receiver got %v", rc.Requests())
	}
}

func TestEgressToPrivateAddressesIsRefused(t *testing.T) {
	s := teststack.Start(t, teststack.Options{EgressAllow: []string{}})
	rc := testkit.NewReceiver(t) // on 127.0.0.1, which is not allowed here
	createWebhook(t, s, map[string]any{"name": "ssrf", "url": rc.URL, "event_types": []string{"*"}, "retry": fastRetry})
	publish(t, s, "evt-ssrf", "user.created", nil)
	d := s.DeliveryOf(t, "evt-ssrf", "failed")
	atts := attemptsOf(d)
	if len(atts) != 1 || !strings.Contains(atts[0]["error"].(string), "not allowed") || rc.Count() != 0 {
		t.Fatalf("attempts = %v, receiver got %d", atts, rc.Count())
	}
}
