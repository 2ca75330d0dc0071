//go:build !fuzzsmoke

package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/triggerflow/triggerflow/internal/teststack"
)

func TestEveryV1RouteNeedsAKey(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	for _, path := range []string{"/v1/webhooks", "/v1/events/x", "/v1/deliveries", "/v1/nothing-here"} {
		for _, token := range []string{"", "wrong", teststack.Token + "x"} {
			r := s.DoAs(token, "GET", path, nil)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("GET %s with %q: %d, want 401", path, token, r.Status)
			}
			if !strings.Contains(string(r.Body), `"code":"unauthorized"`) {
				t.Fatalf("error shape: %s", r.Body)
			}
		}
	}
	r := s.DoAs("", "GET", "/healthz", nil)
	if r.Status != 200 {
		t.Fatalf("healthz needs no key: %d", r.Status)
	}
	for _, path := range []string{"/readyz", "/metrics", "/openapi.json"} {
		if r := s.DoAs("", "GET", path, nil); r.Status != 200 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
	}
}

func TestErrorsCarryTheRequestID(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	r := s.Do("GET", "/v1/webhooks/nope", nil)
	if r.Status != 404 || r.Header.Get("X-Request-ID") == "" || !strings.Contains(string(r.Body), `"code":"not_found"`) {
		t.Fatalf("%d %v %s", r.Status, r.Header, r.Body)
	}
	if r := s.Do("PUT", "/v1/webhooks", nil); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT /v1/webhooks: %d", r.Status)
	}
	if r := s.Do("GET", "/v2/anything", nil); r.Status != 404 {
		t.Fatalf("unknown route: %d", r.Status)
	}
}
