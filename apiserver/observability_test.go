//go:build !fuzzsmoke

package apiserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triggerflow/triggerflow/apiserver"
	"github.com/triggerflow/triggerflow/internal/openapicheck"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// TestMetricsLabelsAreBoundedAndRateLimitsCounted calls the API with made-up
// methods (each would have been a series of its own) and over a key's
// publish limit, then reads /metrics: methods outside the HTTP set are
// "other", and refused events are counted.
func TestMetricsLabelsAreBoundedAndRateLimitsCounted(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true, PublishRate: 1, PublishBurst: 2, Metrics: prometheus.NewRegistry()})
	do := func(method, path, body string) *http.Response {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+teststack.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, m := range []string{"PROPFIND", "BREW", "X-INVENTED-1", "X-INVENTED-2"} {
		do(m, "/v1/webhooks", "")
	}
	if r := do("POST", "/v1/events", `{"events": [{"type": "case.created"}, {"type": "case.created"}]}`); r.StatusCode != http.StatusAccepted {
		t.Fatalf("a batch within the burst: %d", r.StatusCode)
	}
	batch := `{"events": [{"type": "case.created"}, {"type": "case.created"}, {"type": "case.created"}]}`
	if r := do("POST", "/v1/events", batch); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a batch over the burst: %d", r.StatusCode)
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(raw)
	for _, bad := range []string{"PROPFIND", "BREW", "X-INVENTED"} {
		if strings.Contains(text, bad) {
			t.Errorf("/metrics has a series for method %s", bad)
		}
	}
	for _, want := range []string{`triggerflow_http_requests_total{method="other",route="unmatched"`, "triggerflow_publish_rate_limited_events_total 3"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestReadyzHidesErrorsFromCallersWithoutAKey: a dependency that fails shows
// as "unavailable" to anyone; the error itself only to a valid key.
func TestReadyzHidesErrorsFromCallersWithoutAKey(t *testing.T) {
	srv := apiserver.New(apiserver.Options{DB: testkit.DB(t), AdminToken: teststack.Token, Logger: testkit.Logger()})
	hs := httptest.NewServer(openapicheck.Handler(t, srv.Handler()))
	defer hs.Close()
	read := func(token string) map[string]any {
		req, _ := http.NewRequest("GET", hs.URL+"/readyz", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("readyz without Temporal: %d", resp.StatusCode)
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return out["checks"].(map[string]any)
	}
	if c := read(""); c["temporal"] != "unavailable" || c["postgres"] != "ok" {
		t.Fatalf("without a key: %v", c)
	}
	if c := read("not-a-key"); c["temporal"] != "unavailable" {
		t.Fatalf("with a bad key: %v", c)
	}
	if c := read(teststack.Token); c["temporal"] != "not configured" {
		t.Fatalf("with the admin key: %v", c)
	}
}

// The delivery path's metrics, read from /metrics by name after real
// deliveries: attempts by webhook and result, their durations, the
// publish→first-attempt latency and the deliveries that ended.
func TestDeliveryMetricsAfterRealDeliveries(t *testing.T) {
	s := teststack.Start(t, teststack.Options{Metrics: prometheus.NewRegistry()})
	rc := testkit.NewReceiver(t)
	rc.FailFirst(1, 503)
	createWebhook(t, s, map[string]any{"name": "Measured", "url": rc.URL, "event_types": []string{"task.created"},
		"retry": map[string]any{"initial_interval": "1s", "max_attempts": 3}})
	publish(t, s, "measured-1", "task.created", nil)
	publish(t, s, "measured-2", "task.created", nil)
	s.DeliveryOf(t, "measured-1", "succeeded")
	s.DeliveryOf(t, "measured-2", "succeeded")
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(raw)
	for _, want := range []string{
		`triggerflow_delivery_attempts_total{result="failure",webhook="measured"} 1`,
		`triggerflow_delivery_attempts_total{result="success",webhook="measured"} 2`,
		`triggerflow_deliveries_total{result="succeeded",webhook="measured"} 2`,
		`triggerflow_delivery_attempt_duration_seconds_count{webhook="measured"} 3`,
		`triggerflow_delivery_first_attempt_latency_seconds_count{webhook="measured"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
