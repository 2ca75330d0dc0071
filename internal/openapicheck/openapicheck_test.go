package openapicheck

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCheckFindsAnswersTheDocumentDoesNotDescribe proves the checker bites:
// a missing required field, an undeclared field, a wrong type and an
// undocumented status all fail; a faithful answer passes.
func TestCheckFindsAnswersTheDocumentDoesNotDescribe(t *testing.T) {
	r, err := Router()
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name, method, path string
		status             int
		body               string
		wantErr            string
	}{
		{"faithful", "GET", "/healthz", 200, `{"status":"ok","version":"1.0"}`, ""},
		{"missing required field", "GET", "/healthz", 200, `{"status":"ok"}`, "version"},
		{"undeclared field", "GET", "/healthz", 200, `{"status":"ok","version":"1","uptime":3}`, "uptime"},
		{"wrong type", "GET", "/v1/webhooks", 200, `{"items":[],"page":"1","per_page":50,"total":0}`, "page"},
		{"undocumented status", "GET", "/v1/catalog", 418, `{}`, "status is not supported"},
		{"error shape", "GET", "/v1/webhooks/x", 404, `{"error":{"code":"not_found","message":"no"}}`, ""},
		{"bad error shape", "GET", "/v1/webhooks/x", 404, `{"message":"no"}`, "error"},
		{"nested required field", "GET", "/v1/api-keys/key_1", 200, `{"id":"key_1","name":"n","prefix":"tfk_","scopes":["read"]}`, "created_at"},
		{"route the document lacks", "GET", "/ui/app.js", 200, `x`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "http://127.0.0.1:4242"+c.path, nil)
			err := Check(r, req, c.status, json, []byte(c.body))
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected mismatch: %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("mismatch not found (want one about %q)", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("mismatch %v does not mention %q", err, c.wantErr)
			}
		})
	}
}
