//go:build !fuzzsmoke

package apiserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/openapicheck"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// storeKey creates an API key with scopes directly in the store and returns
// the key itself.
func storeKey(t *testing.T, keys *store.APIKeys, scopes ...string) string {
	t.Helper()
	key, err := newAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	hash := hashAPIKey(key)
	k := &domain.APIKey{Name: strings.Join(scopes, "+"), Prefix: key[:keyShownChars], Scopes: scopes}
	if err := keys.Create(context.Background(), k, hash[:]); err != nil {
		t.Fatal(err)
	}
	return key
}

// requiredScope is the scope each route must demand, by rule. A route no
// rule covers fails the test, so every new route gets classified here.
func requiredScope(method, path string) string {
	under := func(prefixes ...string) bool {
		for _, p := range prefixes {
			if path == p || strings.HasPrefix(path, p+"/") {
				return true
			}
		}
		return false
	}
	switch {
	case path == "/v1/me":
		return anyScope
	case under("/v1/api-keys"), method == http.MethodDelete && path == "/v1/events/:id":
		return ScopeAdmin
	case method == http.MethodPost && path == "/v1/cron/preview":
		return ScopeRead // a preview saves nothing
	case method != http.MethodGet && under("/v1/event-types"):
		return ScopeAdmin
	case method == http.MethodGet:
		return ScopeRead
	case method == http.MethodPost && path == "/v1/events":
		return ScopePublish
	case under("/v1/webhooks", "/v1/deliveries"):
		return ScopeWebhooksWrite
	case under("/v1/triggers", "/v1/flows", "/v1/queues"):
		return ScopeTriggersWrite
	}
	return ""
}

// anyScope marks routes every valid key may call.
const anyScope = "any"

// TestEveryRouteChecksItsScope calls every served /v1 route with a key of
// each scope: a key without the route's scope gets 403, one with it (or
// admin) gets past the check, and no key gets 401.
func TestEveryRouteChecksItsScope(t *testing.T) {
	db := testkit.DB(t)
	srv := New(Options{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	hs := httptest.NewServer(openapicheck.Handler(t, srv.Handler()))
	t.Cleanup(hs.Close)
	keys := map[string]string{}
	for _, sc := range allScopes {
		keys[sc] = storeKey(t, srv.apiKeys, sc)
	}
	param := regexp.MustCompile(`:[a-z_]+`)
	call := func(key, method, path string) int {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
			body = strings.NewReader("{}")
		}
		req, _ := http.NewRequest(method, hs.URL+path, body)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	routes := 0
	for _, r := range srv.engine.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		routes++
		need := requiredScope(r.Method, r.Path)
		if need == "" {
			t.Errorf("%s %s: no scope rule covers this route; add it to requiredScope", r.Method, r.Path)
			continue
		}
		path := param.ReplaceAllString(r.Path, "x")
		if got := call("", r.Method, path); got != http.StatusUnauthorized {
			t.Errorf("%s %s without a key: %d, want 401", r.Method, r.Path, got)
		}
		for _, sc := range allScopes {
			got := call(keys[sc], r.Method, path)
			allowed := sc == need || sc == ScopeAdmin || need == anyScope
			switch {
			case !allowed && got != http.StatusForbidden:
				t.Errorf("%s %s with a %q key: %d, want 403 (needs %q)", r.Method, r.Path, sc, got, need)
			case allowed && (got == http.StatusForbidden || got == http.StatusUnauthorized):
				t.Errorf("%s %s with a %q key: %d, want it allowed", r.Method, r.Path, sc, got)
			case allowed && sc == ScopeRead && r.Method == http.MethodGet && !strings.Contains(r.Path, ":") && got != http.StatusOK:
				t.Errorf("%s %s with a read key: %d, want 200", r.Method, r.Path, got)
			}
		}
	}
	if routes < 40 {
		t.Fatalf("only %d /v1 routes found", routes)
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestKeysNeverReachTheLog makes requests with good, bad and revoked keys
// (also in the query string) at the most verbose level and checks that no
// key appears in the log.
func TestKeysNeverReachTheLog(t *testing.T) {
	db := testkit.DB(t)
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const bootstrap = "tf_admin_bootstrap_secret_value"
	srv := New(Options{DB: db, Logger: log, AdminToken: bootstrap})
	hs := httptest.NewServer(openapicheck.Handler(t, srv.Handler()))
	t.Cleanup(hs.Close)
	good := storeKey(t, srv.apiKeys, ScopeAdmin)
	bad := KeyPrefix + strings.Repeat("0f", 32)
	other := "not-a-tfk-key-0123456789"

	do := func(key, method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Api-Key", key)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := do(good, "GET", "/v1/webhooks?api_key="+good, ""); r.StatusCode != 200 {
		t.Fatalf("good key: %d", r.StatusCode)
	}
	if r := do(bootstrap, "GET", "/v1/api-keys?token="+bootstrap, ""); r.StatusCode != 200 {
		t.Fatalf("bootstrap key: %d", r.StatusCode)
	}
	for _, k := range []string{bad, other} {
		if r := do(k, "GET", "/v1/webhooks?api_key="+k, ""); r.StatusCode != 401 {
			t.Fatalf("bad key %q: %d", k, r.StatusCode)
		}
	}
	// A created key is in the answer, never in the log.
	req, _ := http.NewRequest("POST", hs.URL+"/v1/api-keys", strings.NewReader(`{"name":"ci","scopes":["read"]}`))
	req.Header.Set("Authorization", "Bearer "+good)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	created, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`"key":"(tfk_[0-9a-f]+)"`).FindStringSubmatch(string(created))
	if resp.StatusCode != 201 || m == nil {
		t.Fatalf("create: %d %s", resp.StatusCode, created)
	}

	out := logs.String()
	if !strings.Contains(out, `"msg":"http request"`) || !strings.Contains(out, `"msg":"api key created"`) {
		t.Fatalf("expected access and audit lines, got:\n%s", out)
	}
	for _, k := range []string{good, bad, other, bootstrap, m[1], good[keyShownChars:], m[1][keyShownChars:]} {
		if strings.Contains(out, k) {
			t.Errorf("the log contains a key (%q):\n%s", k, out)
		}
	}
}
