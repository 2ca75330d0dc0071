package apiserver

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/triggerflow/triggerflow/schemas"
)

// TestEveryRouteIsInTheOpenAPIDocument keeps /openapi.json true: a route
// added without documentation (or documented but gone) fails the build.
func TestEveryRouteIsInTheOpenAPIDocument(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(schemas.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	param := regexp.MustCompile(`[:*]([a-z_]+)`)
	served := map[string]bool{}
	for _, r := range New(Options{}).engine.Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		key := strings.ToLower(r.Method) + " " + path
		served[key] = true
		if doc.Paths[path][strings.ToLower(r.Method)] == nil {
			t.Errorf("%s %s is served but not in schemas/openapi.json", r.Method, path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if !served[method+" "+path] {
				t.Errorf("%s %s is documented but not served", strings.ToUpper(method), path)
			}
		}
	}
}
