//go:build !fuzzsmoke

package apiserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/triggerflow/triggerflow/internal/teststack"
)

// TestActionSchemasAcceptWhatTheServerAccepts compiles every parameter
// schema GET /v1/actions serves with a real JSON Schema (2020-12) validator,
// formats asserted, and checks it against the server on the same params: a
// flow step the server saves must pass the schema and one it refuses must
// fail it. The cases name the forms clients write (templates in every
// parameter, "30s", comma lists of addresses) and the mistakes.
func TestActionSchemasAcceptWhatTheServerAccepts(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	var list struct {
		Items []struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"items"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/actions?per_page=500", nil).JSON(t, &list)
	schemas := map[string]*jsonschema.Schema{}
	for _, a := range list.Items {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(a.Schema)))
		if err != nil {
			t.Fatal(err)
		}
		url := "https://triggerflow.invalid/actions/" + a.Name
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		if schemas[a.Name], err = c.Compile(url); err != nil {
			t.Fatalf("%s: schema does not compile: %v", a.Name, err)
		}
	}

	type params = map[string]any
	cases := []struct {
		action string
		params params
		valid  bool
	}{
		// delay: a Go duration, or a template.
		{"delay", params{"duration": "30s"}, true},
		{"delay", params{"duration": "1h30m"}, true},
		{"delay", params{"duration": " 1.5h "}, true},
		{"delay", params{"duration": "{{ wait }}"}, true},
		{"delay", params{"duration": "0s"}, false},
		{"delay", params{"duration": "-5m"}, false},
		{"delay", params{"duration": "PT30S"}, false},
		{"delay", params{"duration": "soon"}, false},
		{"delay", params{"duration": 30}, false},
		{"delay", params{}, false},
		{"delay", params{"duration": "30s", "extra": 1}, false},
		// email.send: addresses as a list, a comma text or a template; html
		// as a boolean, its text or a template.
		{"email.send", params{"to": []any{"ann@example.com"}, "subject": "s", "body": "b"}, true},
		{"email.send", params{"to": "ann@example.com, Bob <bob@example.com>", "subject": "s", "body": "b"}, true},
		{"email.send", params{"to": "{{ contact.email }}", "subject": "s", "body": "b", "html": "{{ is_html }}"}, true},
		{"email.send", params{"to": []any{"{{ contact.email }}"}, "subject": "Case {{ case.id }}", "body": "b", "html": true}, true},
		{"email.send", params{"to": "ann@example.com", "subject": "s", "body": "b", "html": "false"}, true},
		{"email.send", params{"to": "ann@example.com", "subject": "s", "body": "b", "html": nil}, true},
		{"email.send", params{"to": "not an address", "subject": "s", "body": "b"}, false},
		{"email.send", params{"to": []any{"ann@"}, "subject": "s", "body": "b"}, false},
		{"email.send", params{"to": "ann@example.com", "subject": "s", "body": "b", "html": "maybe"}, false},
		{"email.send", params{"to": "ann@example.com", "subject": "  ", "body": "b"}, false},
		{"email.send", params{"to": "ann@example.com", "body": "b"}, false},
		{"email.send", params{"to": map[string]any{"a": 1}, "subject": "s", "body": "b"}, false},
		// http.request: URL with placeholders, methods in any case, header
		// names, durations.
		{"http.request", params{"url": "https://crm.example.com/cases/{{ case.id }}?x={{ q }}"}, true},
		{"http.request", params{"url": "http://{{ host }}:8080/x", "method": "post", "timeout": "5s"}, true},
		{"http.request", params{"url": "http://[::1]:9000/x", "headers": params{"Authorization": "Bearer {{ token }}", "X-N": 5}}, true},
		{"http.request", params{"url": "https://a.example.com", "params": params{"q": "{{ case.id }}"}, "body": params{"id": "{{ case.id }}"}}, true},
		{"http.request", params{"url": "https://a.example.com", "method": nil, "timeout": "{{ t }}"}, true},
		{"http.request", params{"url": "ftp://a.example.com/x"}, false},
		{"http.request", params{"url": "https://user:pw@a.example.com/"}, false},
		{"http.request", params{"url": "https://a.example.com:port/"}, false},
		{"http.request", params{"url": "https://a.example.com/%zz"}, false},
		{"http.request", params{"url": "{{ url }}"}, false},
		{"http.request", params{"url": "https:///path"}, false},
		{"http.request", params{"url": "https://a.example.com", "method": "FETCH"}, false},
		{"http.request", params{"url": "https://a.example.com", "headers": params{"Bad Name": "x"}}, false},
		{"http.request", params{"url": "https://a.example.com", "headers": params{"Webhook-Signature": "x"}}, false},
		{"http.request", params{"url": "https://a.example.com", "headers": params{"X": params{"nested": 1}}}, false},
		{"http.request", params{"url": "https://a.example.com", "timeout": "ten seconds"}, false},
		// log: enum values compared without regard to case.
		{"log", params{"message": "case {{ case.id }}", "level": "WARN", "fields": params{"id": "{{ case.id }}"}}, true},
		{"log", params{"message": 42}, true},
		{"log", params{"message": "m", "level": "{{ level }}"}, true},
		{"log", params{"message": "m", "level": "loud"}, false},
		{"log", params{"message": "m", "fields": []any{"a"}}, false},
		// notify: a list or a comma text of user ids.
		{"notify", params{"text": "New case {{ case.number }}", "user_ids": []any{"101", "102"}}, true},
		{"notify", params{"text": "t", "user_ids": "101,102"}, true},
		{"notify", params{"text": "t", "user_ids": 101}, false},
		{"notify", params{"text": "t"}, false},
		// lead.update.list: listId under either of its names, not both.
		{"lead.update.list", params{"listId": "354"}, true},
		{"lead.update.list", params{"lead.listId": "354"}, true},
		{"lead.update.list", params{"listId": 354, "leadId": "{{ lead.id }}"}, true},
		{"lead.update.list", params{"listId": "354", "lead.listId": "355"}, false},
		{"lead.update.list", params{"leadId": "1"}, false},
		// webhook: ipSCAPE's action.
		{"webhook", params{"url": "https://crm.example.com/hook", "method": "PUT", "payload": params{"id": "{{ event.id }}"}}, true},
		{"webhook", params{"url": "https://crm.example.com/hook", "method": "GET"}, false},
	}
	checked := map[string]bool{}
	for i, c := range cases {
		schema := schemas[c.action]
		if schema == nil {
			t.Fatalf("no schema for %s", c.action)
		}
		checked[c.action] = true
		raw, _ := json.Marshal(c.params)
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		schemaErr := schema.Validate(inst)
		flow := map[string]any{
			"name":  fmt.Sprintf("schema-case-%d", i),
			"steps": []any{map[string]any{"name": "s", "action": c.action, "params": c.params}},
		}
		r := s.Do("POST", "/v1/flows", flow)
		server := r.Status == http.StatusCreated
		if r.Status != http.StatusCreated && r.Status != http.StatusBadRequest {
			t.Fatalf("%s %s: status %d: %s", c.action, raw, r.Status, r.Body)
		}
		if server != c.valid {
			t.Errorf("%s %s: server saved it = %v, want %v: %s", c.action, raw, server, c.valid, r.Body)
		}
		if (schemaErr == nil) != server {
			t.Errorf("%s %s: the schema says valid = %v, the server %v (%s): %v", c.action, raw, schemaErr == nil, server, r.Body, schemaErr)
		}
	}
	for name := range schemas {
		// Actions registered by other tests (TestAddingAnActionIsOneRegistration's
		// test.shout) are not the product's: whether they are listed depends
		// on the order tests run in.
		if !checked[name] && !strings.HasPrefix(name, "test.") {
			t.Errorf("action %s has no cases", name)
		}
	}
}
