//go:build !fuzzsmoke

package apiserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/triggerflow/triggerflow/internal/teststack"
)

// twoStepFlow is a flow whose second step reads the first one's output.
func twoStepFlow(name, baseURL string) map[string]any {
	return map[string]any{
		"name": name, "description": "looks the case up, then tells the assignee",
		"steps": []any{
			map[string]any{"name": "lookup", "action": "http.request",
				"params": map[string]any{"url": baseURL + "/cases/{{ case.id }}", "headers": map[string]any{"X-Case": "{{ case.id }}"}}},
			map[string]any{"name": "create_task", "action": "http.request", "timeout": "20s",
				"retry": map[string]any{"max_attempts": 2, "initial_interval": "1s"},
				"if":    []any{map[string]any{"reference": "steps.lookup.response.status", "operator": "=", "value": "200"}},
				"params": map[string]any{"url": baseURL + "/tasks", "method": "POST",
					"body": map[string]any{"case": "{{ steps.lookup.response.json.id }}", "title": "Call {{ contact }}"}}},
		},
	}
}

func TestFlowCRUDAndVersions(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	created := s.MustDo(http.StatusCreated, "POST", "/v1/flows", twoStepFlow("Case created", "https://crm.example.com")).Map(t)
	id := created["id"].(string)
	if created["type"] != "service" || created["version"].(float64) != 1 || created["usable_by_triggers"] != true ||
		len(created["steps"].([]any)) != 2 {
		t.Fatalf("created = %v", created)
	}
	step := created["steps"].([]any)[1].(map[string]any)
	if step["timeout"] != "20s" || step["retry"].(map[string]any)["max_attempts"].(float64) != 2 {
		t.Fatalf("step 2 = %v", step)
	}

	byName := s.MustDo(http.StatusOK, "GET", "/v1/flows/"+url.PathEscape("Case created"), nil).Map(t)
	if byName["id"] != id {
		t.Fatalf("by name = %v", byName)
	}

	// A description change keeps the version; a step change makes version 2.
	p := s.MustDo(http.StatusOK, "PATCH", "/v1/flows/"+id, map[string]any{"description": "new words"}).Map(t)
	if p["version"].(float64) != 1 || p["description"] != "new words" {
		t.Fatalf("patched = %v", p)
	}
	p = s.MustDo(http.StatusOK, "PATCH", "/v1/flows/"+id, map[string]any{"steps": []any{
		map[string]any{"name": "only", "action": "log", "params": map[string]any{"message": "hi"}},
	}}).Map(t)
	if p["version"].(float64) != 2 || len(p["steps"].([]any)) != 1 {
		t.Fatalf("patched steps = %v", p)
	}
	var versions struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/flows/"+id+"/versions", nil).JSON(t, &versions)
	if versions.Total != 2 || versions.Items[0]["version"].(float64) != 2 || len(versions.Items[1]["steps"].([]any)) != 2 {
		t.Fatalf("versions = %+v", versions)
	}

	// Lists: filter by type and text, sort, paginate.
	s.MustDo(http.StatusCreated, "POST", "/v1/flows", map[string]any{"name": "Voice menu", "type": "default",
		"steps": []any{map[string]any{"name": "a", "action": "log", "params": map[string]any{"message": "x"}}}})
	var list struct {
		Items   []map[string]any `json:"items"`
		Total   int              `json:"total"`
		Page    int              `json:"page"`
		PerPage int              `json:"per_page"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/flows?type=service", nil).JSON(t, &list)
	if list.Total != 1 || list.Items[0]["id"] != id {
		t.Fatalf("type filter = %+v", list)
	}
	s.MustDo(http.StatusOK, "GET", "/v1/flows?q=voice", nil).JSON(t, &list)
	if list.Total != 1 || list.Items[0]["usable_by_triggers"] != false {
		t.Fatalf("text filter = %+v", list)
	}
	s.MustDo(http.StatusOK, "GET", "/v1/flows?sort=name&per_page=1&page=2", nil).JSON(t, &list)
	if list.Total != 2 || len(list.Items) != 1 || list.Items[0]["name"] != "Voice menu" || list.Page != 2 || list.PerPage != 1 {
		t.Fatalf("sorted page 2 = %+v", list)
	}
	if r := s.Do("GET", "/v1/flows?sort=colour", nil); r.Status != http.StatusBadRequest {
		t.Fatalf("unknown sort: %d", r.Status)
	}

	// Rename onto a taken name: 409 naming the field.
	r := s.Do("PATCH", "/v1/flows/"+id, map[string]any{"name": "Voice menu"})
	if r.Status != http.StatusConflict || r.Map(t)["error"].(map[string]any)["fields"].(map[string]any)["name"] == nil {
		t.Fatalf("rename to a taken name: %d %s", r.Status, r.Body)
	}

	s.MustDo(http.StatusNoContent, "DELETE", "/v1/flows/"+id, nil)
	s.MustDo(http.StatusNotFound, "GET", "/v1/flows/"+id, nil)
}

func TestFlowInUseCannotBeDeleted(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	f := s.MustDo(http.StatusCreated, "POST", "/v1/flows", twoStepFlow("Used", "https://crm.example.com")).Map(t)
	id := f["id"].(string)
	if _, err := s.DB.Exec(`INSERT INTO queue_hooks (id, queue_id, event, flow_id) VALUES ('qh_t', 'q-5', 'missed', $1)`, id); err != nil {
		t.Fatal(err)
	}
	r := s.Do("DELETE", "/v1/flows/Used", nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "qh_t") {
		t.Fatalf("delete of a used flow: %d %s", r.Status, r.Body)
	}
	// Only service flows may be used by hooks and triggers.
	if r := s.Do("PATCH", "/v1/flows/"+id, map[string]any{"type": "chat"}); r.Status != http.StatusConflict {
		t.Fatalf("retype of a used flow: %d %s", r.Status, r.Body)
	}
	if _, err := s.DB.Exec(`DELETE FROM queue_hooks`); err != nil {
		t.Fatal(err)
	}
	s.MustDo(http.StatusNoContent, "DELETE", "/v1/flows/"+id, nil)
}

func TestFlowValidationRefusesWithFieldErrorsAndSavesNothing(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	s.MustDo(http.StatusCreated, "POST", "/v1/flows", twoStepFlow("Taken", "https://crm.example.com"))

	step := func(kv ...any) map[string]any {
		m := map[string]any{"name": "a", "action": "log", "params": map[string]any{"message": "x"}}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	flow := func(steps ...any) map[string]any { return map[string]any{"name": "F", "steps": steps} }
	cases := []struct {
		name string
		body any
		path string
		want string
	}{
		{"invalid JSON", `{"name": `, "body", "not valid JSON"},
		{"unknown field", map[string]any{"name": "F", "stpes": []any{}}, "stpes", "not a known field"},
		{"name required", map[string]any{"steps": []any{step()}}, "name", "is required"},
		{"steps required", map[string]any{"name": "F"}, "steps", "at least one step"},
		{"steps empty", flow(), "steps", "at least one step"},
		{"step not an object", flow("log"), "steps[0]", "step object"},
		{"unknown step field", flow(step("param", map[string]any{})), "steps[0].param", "not a known field"},
		{"step name style", flow(step("name", "Send Mail")), "steps[0].name", "lowercase"},
		{"duplicate step name", flow(step(), step()), "steps[1].name", "earlier step"},
		{"unknown action", flow(step("action", "fax.send")), "steps[0].action", "not a registered action"},
		{"required param", flow(step("params", map[string]any{})), "steps[0].params.message", "is required"},
		{"unknown param", flow(step("params", map[string]any{"message": "x", "colour": "red"})), "steps[0].params.colour", "not a parameter"},
		{"param type", flow(step("params", map[string]any{"message": []any{}})), "steps[0].params.message", "must be text"},
		{"enum", flow(step("params", map[string]any{"message": "x", "level": "loud"})), "steps[0].params.level", "not allowed"},
		{"template", flow(step(), map[string]any{"name": "b", "action": "http.request", "params": map[string]any{"url": "https://x/{{ case.id"}}),
			"steps[1].params.url", "not closed"},
		{"url", flow(map[string]any{"name": "b", "action": "http.request", "params": map[string]any{"url": "ftp://x"}}),
			"steps[0].params.url", "http"},
		{"http timeout", flow(map[string]any{"name": "b", "action": "http.request", "params": map[string]any{"url": "https://x", "timeout": "1m"}}),
			"steps[0].params.timeout", "between 1s and 30s"},
		{"condition", flow(step("if", []any{map[string]any{"reference": "case.id", "operator": "~", "value": "1"}})),
			"steps[0].if[0].operator", "unknown operator"},
		{"step timeout range", flow(step("timeout", "2h")), "steps[0].timeout", "between 1s and 1h0m0s"},
		{"step timeout zero", flow(step("timeout", "0s")), "steps[0].timeout", "between"},
		{"step timeout text", flow(step("timeout", "soon")), "steps[0].timeout", "not a duration"},
		{"retry", flow(step("retry", map[string]any{"max_attempts": 3})), "steps[0].retry.initial_interval", "is required"},
		{"retry field", flow(step("retry", map[string]any{"tries": 3})), "steps[0].retry.tries", "not a known field"},
		{"delay too long", flow(map[string]any{"name": "w", "action": "delay", "params": map[string]any{"duration": "48h"}}),
			"steps[0].params.duration", "at most 24h"},
		{"email address", flow(map[string]any{"name": "m", "action": "email.send", "params": map[string]any{"to": []any{"nobody"}, "subject": "s", "body": "b"}}),
			"steps[0].params.to[0]", "not an e-mail address"},
		{"bad type", map[string]any{"name": "F", "type": "Big Flow", "steps": []any{step()}}, "type", "lowercase"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do("POST", "/v1/flows", tc.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			fields, _ := r.Map(t)["error"].(map[string]any)["fields"].(map[string]any)
			msg, _ := fields[tc.path].(string)
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("fields = %v; want %s ~ %q", fields, tc.path, tc.want)
			}
		})
	}
	r := s.Do("POST", "/v1/flows", twoStepFlow("Taken", "https://crm.example.com"))
	if r.Status != http.StatusConflict || r.Map(t)["error"].(map[string]any)["fields"].(map[string]any)["name"] == nil {
		t.Fatalf("duplicate name: %d %s", r.Status, r.Body)
	}
	var list struct{ Total int }
	s.MustDo(http.StatusOK, "GET", "/v1/flows", nil).JSON(t, &list)
	if list.Total != 1 {
		t.Fatalf("%d flows saved, want only the first", list.Total)
	}
	// PATCH validates the same way and saves nothing.
	r = s.Do("PATCH", "/v1/flows/Taken", map[string]any{"steps": []any{step("action", "nope")}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "steps[0].action") {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if f := s.MustDo(http.StatusOK, "GET", "/v1/flows/Taken", nil).Map(t); f["version"].(float64) != 1 {
		t.Fatalf("a refused patch changed the flow: %v", f)
	}
}

func TestActionsListSchemas(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/actions?per_page=500", nil).JSON(t, &list)
	byName := map[string]map[string]any{}
	for _, a := range list.Items {
		byName[a["name"].(string)] = a
	}
	for _, n := range []string{"http.request", "webhook", "notify", "email.send", "log", "delay", "lead.update.list"} {
		if byName[n] == nil {
			t.Fatalf("%s missing from %v", n, list.Items)
		}
	}
	if byName["delay"]["runs_in"] != "workflow" || byName["notify"]["runs_in"] != "activity" {
		t.Fatalf("runs_in: %v / %v", byName["delay"]["runs_in"], byName["notify"]["runs_in"])
	}
	schema := byName["delay"]["schema"].(map[string]any)
	if req, _ := schema["required"].([]any); len(req) != 1 || req[0] != "duration" {
		t.Fatalf("delay schema = %v", schema)
	}
	one := s.MustDo(http.StatusOK, "GET", "/v1/actions/http.request", nil).Map(t)
	if len(one["params"].([]any)) == 0 || len(one["outputs"].([]any)) == 0 {
		t.Fatalf("http.request = %v", one)
	}
	s.MustDo(http.StatusNotFound, "GET", "/v1/actions/fax.send", nil)
	if r := s.DoAs("", "GET", "/v1/actions", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("without a key: %d", r.Status)
	}
}
