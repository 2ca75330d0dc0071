//go:build !fuzzsmoke

package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/triggerflow/triggerflow/internal/teststack"
)

func TestWebhookValidationRefusesWithFieldErrorsAndSavesNothing(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	base := func() map[string]any {
		return map[string]any{"name": "Valid", "url": "https://example.com/hook", "event_types": []string{"case.created"}}
	}
	with := func(k string, v any) map[string]any { b := base(); b[k] = v; return b }
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"invalid JSON", `{"name": "x",`, "body"},
		{"not an object", `[1,2]`, "body"},
		{"unknown field", with("colour", "red"), "colour"},
		{"wrong type", with("ordered", "yes"), "ordered"},
		{"missing name", with("name", ""), "name"},
		{"bad code", with("code", "Bad-Code"), "code"},
		{"empty event types", with("event_types", []string{}), "event_types"},
		{"unknown event type", with("event_types", []string{"case.exploded"}), "event_types[0]"},
		{"url not http", with("url", "ftp://example.com"), "url"},
		{"url missing", with("url", ""), "url"},
		{"url with credentials", with("url", "https://u:p@example.com"), "url"},
		{"bad method", with("method", "TRACE"), "method"},
		{"timeout too long", with("timeout", "31s"), "timeout"},
		{"timeout too short", with("timeout", "500ms"), "timeout"},
		{"timeout not a duration", with("timeout", "soon"), "timeout"},
		{"unknown preset", with("retry", map[string]any{"preset": "forever"}), "retry.preset"},
		{"custom retry without bound", with("retry", map[string]any{"initial_interval": "1s"}), "retry.max_attempts"},
		{"bad operator", with("conditions", []map[string]any{{"reference": "campaignId", "operator": "~", "value": "1"}}), "conditions[0].operator"},
		{"empty reference", with("conditions", []map[string]any{{"reference": "", "operator": "=", "value": "1"}}), "conditions[0].reference"},
		{"template does not parse", with("body", "{{ contact.first_name "), "body"},
		{"header template does not parse", with("headers", map[string]string{"X-A": "{% if %}"}), `headers["X-A"]`},
		{"reserved header", with("headers", map[string]string{"webhook-signature": "x"}), `headers["webhook-signature"]`},
		{"bad CEL", with("expression", "data.x >"), "expression"},
		{"filter outside event types", with("filters", map[string]any{"task.*": []map[string]any{{"reference": "workflow", "operator": "=", "value": "1"}}}), `filters["task.*"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do("POST", "/v1/webhooks", tc.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
			var e struct {
				Error struct {
					Code   string            `json:"code"`
					Fields map[string]string `json:"fields"`
				} `json:"error"`
			}
			r.JSON(t, &e)
			if e.Error.Code != "invalid" || e.Error.Fields[tc.field] == "" {
				t.Fatalf("want a field error on %q, got %s", tc.field, r.Body)
			}
		})
	}
	var list struct{ Total int }
	s.MustDo(200, "GET", "/v1/webhooks", nil).JSON(t, &list)
	if list.Total != 0 {
		t.Fatalf("%d webhooks saved by refused requests", list.Total)
	}
}

func TestWebhookCodeRules(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	body := map[string]any{"name": "Órden Créée!  2", "url": "https://example.com", "event_types": []string{"*"}}
	wh := s.MustDo(201, "POST", "/v1/webhooks", body).Map(t)
	if wh["code"] != "orden_creee_2" {
		t.Fatalf("suggested code = %v", wh["code"])
	}
	r := s.Do("POST", "/v1/webhooks", body)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), `"code"`) {
		t.Fatalf("duplicate code: %d %s", r.Status, r.Body)
	}
	r = s.Do("PATCH", "/v1/webhooks/orden_creee_2", map[string]any{"code": "other"})
	if r.Status != 400 || !strings.Contains(string(r.Body), "cannot be changed") {
		t.Fatalf("changing the code: %d %s", r.Status, r.Body)
	}
	// The same code is fine in a PATCH, and the id works as well as the code.
	s.MustDo(200, "PATCH", "/v1/webhooks/"+wh["id"].(string), map[string]any{"code": "orden_creee_2", "description": "d"})
}

func TestWebhookCRUDListFiltersAndBulk(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	mk := func(name string, types []string, enabled bool) {
		s.MustDo(201, "POST", "/v1/webhooks", map[string]any{"name": name, "url": "https://example.com/" + name,
			"event_types": types, "enabled": enabled, "method": "put",
			"headers": map[string]string{"Authorization": "Bearer abc"}})
	}
	mk("alpha", []string{"case.created"}, true)
	mk("beta", []string{"task.*"}, true)
	mk("gamma", []string{"*"}, false)

	var list struct {
		Items   []map[string]any `json:"items"`
		Page    int              `json:"page"`
		PerPage int              `json:"per_page"`
		Total   int              `json:"total"`
	}
	s.MustDo(200, "GET", "/v1/webhooks?per_page=2", nil).JSON(t, &list)
	if list.Total != 3 || len(list.Items) != 2 || list.Items[0]["code"] != "gamma" || list.PerPage != 2 {
		t.Fatalf("newest first, paged: %+v", list)
	}
	if list.Items[0]["method"] != "PUT" || list.Items[0]["headers"].(map[string]any)["Authorization"] != "***" {
		t.Fatalf("method normalized and credentials masked in reads: %v", list.Items[0])
	}
	s.MustDo(200, "GET", "/v1/webhooks?page=2&per_page=2", nil).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0]["code"] != "alpha" {
		t.Fatalf("page 2: %+v", list.Items)
	}
	s.MustDo(200, "GET", "/v1/webhooks?enabled=false", nil).JSON(t, &list)
	if list.Total != 1 || list.Items[0]["code"] != "gamma" {
		t.Fatalf("enabled filter: %+v", list.Items)
	}
	s.MustDo(200, "GET", "/v1/webhooks?event_type=task.created&sort=name", nil).JSON(t, &list)
	if list.Total != 2 || list.Items[0]["code"] != "beta" || list.Items[1]["code"] != "gamma" {
		t.Fatalf("event type filter (pattern and *): %+v", list.Items)
	}
	s.MustDo(200, "GET", "/v1/webhooks?q=ALP", nil).JSON(t, &list)
	if list.Total != 1 {
		t.Fatalf("text filter: %+v", list.Items)
	}
	for _, bad := range []string{"per_page=501", "page=0", "sort=secret", "enabled=maybe"} {
		if r := s.Do("GET", "/v1/webhooks?"+bad, nil); r.Status != 400 {
			t.Fatalf("%s: %d", bad, r.Status)
		}
	}

	r := s.MustDo(200, "POST", "/v1/webhooks/bulk-disable", map[string]any{"ids": []string{"alpha", "beta"}}).Map(t)
	if r["count"].(float64) != 2 {
		t.Fatalf("bulk disable: %v", r)
	}
	s.MustDo(200, "GET", "/v1/webhooks?enabled=false", nil).JSON(t, &list)
	if list.Total != 3 {
		t.Fatalf("all disabled now: %+v", list)
	}
	s.MustDo(200, "POST", "/v1/webhooks/bulk-delete", map[string]any{"ids": []string{"alpha", "gamma"}})
	s.MustDo(404, "GET", "/v1/webhooks/alpha", nil)
	s.MustDo(204, "DELETE", "/v1/webhooks/beta", nil)
	s.MustDo(404, "DELETE", "/v1/webhooks/beta", nil)
	if r := s.Do("POST", "/v1/webhooks/bulk-delete", map[string]any{"ids": []string{}}); r.Status != 400 {
		t.Fatalf("empty bulk: %d", r.Status)
	}
}

func TestPublishValidation(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"no type", map[string]any{"data": map[string]any{}}, "type"},
		{"bad type", map[string]any{"type": "Case Created"}, "type"},
		{"data not object", map[string]any{"type": "case.created", "data": []int{1}}, "data"},
		{"bad time", map[string]any{"type": "case.created", "occurred_at": "yesterday"}, "occurred_at"},
		{"batch item", map[string]any{"events": []map[string]any{{"type": "case.created"}, {"type": ""}}}, "events[1].type"},
		{"empty batch", map[string]any{"events": []map[string]any{}}, "events"},
		{"both forms", map[string]any{"type": "case.created", "events": []map[string]any{{"type": "case.created"}}}, "events"},
		{"NUL in data", `{"type":"case.created","data":{"a":"\u0000"}}`, "data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do("POST", "/v1/events", tc.body)
			if r.Status != 400 || !strings.Contains(string(r.Body), `"`+tc.field+`"`) {
				t.Fatalf("status %d body %s; want 400 naming %s", r.Status, r.Body, tc.field)
			}
		})
	}
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = map[string]any{"type": "case.created"}
	}
	if r := s.Do("POST", "/v1/events", map[string]any{"events": many}); r.Status != 400 {
		t.Fatalf("1001 events: %d", r.Status)
	}
	huge := strings.Repeat("a", 5<<20)
	if r := s.Do("POST", "/v1/events", `{"type":"case.created","data":{"x":"`+huge+`"}}`); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("5 MiB body: %d", r.Status)
	}
}
