//go:build !fuzzsmoke

package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/internal/testkit"
)

// errorOf is the message shown next to the control of a selector.
func (c *console) errorOf(sel string) string {
	c.t.Helper()
	return eval[string](c, `(() => { const el = document.querySelector('`+sel+`');
		const wrap = el.closest('[data-path]'); const e = wrap && [...wrap.children].find((x) => x.classList.contains('field-error'));
		return e && !e.hidden ? e.textContent : ''; })()`)
}

// TestConsoleEventTypesRegistry walks the Event types screen: the built-in
// catalog paged and filtered; a custom type whose bad JSON is caught before
// anything is sent and whose API errors land on the Example and on the
// alias they name; the type then offered to publishes; a built-in type
// whose aliases and validation change while its schema stays fixed; and a
// delete refused while a webhook subscribes, then done.
func TestConsoleEventTypesRegistry(t *testing.T) {
	c := startConsole(t)
	c.open("event-types")
	c.find("heading", "Event types")
	c.waitRow("case.created", "Built-in")
	// Server-side paging and text filter.
	if total := c.total("/v1/event-types"); total > 25 {
		c.waitText(fmt.Sprintf("Page 1 of %d", (total+24)/25))
		c.click("button", "Next")
		c.waitText(fmt.Sprintf("Page 2 of %d", (total+24)/25))
	}
	c.fill("Search event types", "outcome")
	c.waitRow("lead.outcome_preview", "outbound.lead.outcome.preview")
	c.waitFor("only matching rows", `!document.querySelector('table[aria-busy]') && [...document.querySelectorAll('tbody tr')].every((tr) => tr.innerText.includes('outcome'))`)
	c.choose("Kind filter", "true")
	c.waitText("No event type matches.")
	c.choose("Kind filter", "")
	c.fill("Search event types", "")
	c.waitRow("case.created")
	c.screenshot("event-types")

	// A custom type: broken JSON is marked before anything is sent.
	c.click("button", "New event type")
	c.find("dialog", "New event type")
	c.fill("Name", "invoice.paid")
	c.fill("Description", "An invoice was paid.")
	c.fill("Schema (JSON)", `{"type": "object", "required": ["invoice"]`)
	c.click("button", "Save")
	schema := c.find("textbox", "Schema (JSON)")
	c.waitFor("the schema marked", `document.querySelector('`+schema+`').getAttribute('aria-invalid') === 'true'`)
	if msg := c.errorOf(schema); !strings.HasPrefix(msg, "is not valid JSON") {
		t.Errorf("schema message = %q", msg)
	}
	c.stack.MustDo(http.StatusNotFound, "GET", "/v1/event-types/invoice.paid", nil)
	// The API's own errors: the example does not match, alias 2 is taken.
	c.fill("Schema (JSON)", `{"type": "object", "required": ["invoice"], "properties": {"invoice": {"type": "object", "required": ["number"]}}}`)
	c.fill("Example (JSON)", `{"amount": `)
	example := c.find("textbox", "Example (JSON)")
	c.waitFor("the broken example marked while typing", `document.querySelector('`+example+`').getAttribute('aria-invalid') === 'true'`)
	c.fill("Example (JSON)", `{"amount": 120.5}`)
	c.click("button", "Add alias")
	c.fill("Alias 1", "billing.invoice.paid")
	c.click("button", "Add alias")
	c.fill("Alias 2", "outbound.lead.outcome.preview")
	c.click("button", "Save")
	c.waitFor("the example marked", `document.querySelector('`+example+`').getAttribute('aria-invalid') === 'true'`)
	if msg := c.errorOf(example); !strings.Contains(msg, "does not match the schema") {
		t.Errorf("example message = %q", msg)
	}
	alias2 := c.find("textbox", "Alias 2")
	if c.attr(alias2, "aria-invalid") != "true" || !strings.Contains(c.errorOf(alias2), "lead.outcome_preview") {
		t.Errorf("alias 2: invalid=%q message=%q", c.attr(alias2, "aria-invalid"), c.errorOf(alias2))
	}
	if c.attr(c.find("textbox", "Alias 1"), "aria-invalid") == "true" || c.attr(schema, "aria-invalid") == "true" {
		t.Error("a good field is marked invalid")
	}
	c.screenshotShowing("event-type-form", `dialog[open] .list-editor > button`)
	c.stack.MustDo(http.StatusNotFound, "GET", "/v1/event-types/invoice.paid", nil)
	c.fill("Example (JSON)", `{"invoice": {"number": "INV-7", "amount": 120.5}}`)
	// The JSON is checked live: good JSON clears the mark once typing pauses.
	c.waitFor("the example's mark cleared", `document.querySelector('`+example+`').getAttribute('aria-invalid') !== 'true'`)
	c.click("button", "Remove alias 2")
	c.choose("Validation", "reject")
	c.click("button", "Save")
	c.find("heading", "invoice.paid")
	c.waitText("{{ invoice.number }}")
	got := c.api(http.StatusOK, "GET", "/v1/event-types/invoice.paid", nil)
	if got["custom"] != true || got["description"] != "An invoice was paid." || got["validation"] != "reject" ||
		fmt.Sprint(got["aliases"]) != "[billing.invoice.paid]" || fmt.Sprint(got["example"]) != "map[invoice:map[amount:120.5 number:INV-7]]" ||
		fmt.Sprint(got["schema"].(map[string]any)["required"]) != "[invoice]" {
		t.Fatalf("saved type: %v", got)
	}
	c.screenshot("event-type")
	// Edit keeps the name and changes the description.
	c.click("button", "Edit")
	if !eval[bool](c, `document.querySelector('`+c.find("textbox", "Name")+`').readOnly`) {
		t.Error("the name of a saved type can be edited")
	}
	c.fill("Description", "An invoice was paid in full.")
	c.click("button", "Save")
	c.waitText("An invoice was paid in full.")

	// The new type is offered at once where types are chosen.
	c.click("link", "Events")
	c.click("button", "Publish test event")
	c.choose("Type", "invoice.paid")
	if data := eval[string](c, `document.querySelector('`+c.find("textbox", "Data")+`').value`); !strings.Contains(data, `"INV-7"`) {
		t.Errorf("publish data prefilled with %q, want the new type's example", data)
	}
	c.escape()

	// A built-in type: schema fixed, aliases and validation editable.
	c.open("event-types/lead.outcome_preview")
	c.find("heading", "lead.outcome_preview")
	c.click("button", "Edit")
	c.find("dialog", "Edit event type lead.outcome_preview")
	if !eval[bool](c, `document.querySelector('`+c.find("textbox", "Schema (JSON)")+`').readOnly`) {
		t.Error("a built-in type's schema can be edited")
	}
	c.click("button", "Add alias")
	c.fill("Alias 2", "ips.preview.outcome")
	c.choose("Validation", "warn")
	c.click("button", "Save")
	c.waitText("ips.preview.outcome")
	b := c.api(http.StatusOK, "GET", "/v1/event-types/lead.outcome_preview", nil)
	if b["validation"] != "warn" || !strings.Contains(fmt.Sprint(b["aliases"]), "outbound.lead.outcome.preview") || !strings.Contains(fmt.Sprint(b["aliases"]), "ips.preview.outcome") {
		t.Fatalf("built-in after edit: %v %v", b["validation"], b["aliases"])
	}
	c.absent("button", "Delete") // built-in types cannot be deleted
	// A publish under the new alias with data the schema refuses is kept
	// (warn), and its page says how it arrived and what was wrong.
	c.api(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "ips-warned", "type": "ips.preview.outcome",
		"payload": map[string]any{"campaignId": 20161}})
	c.open("events/ips-warned")
	c.find("heading", "ips-warned")
	c.waitText("Published as")
	c.waitText("ips.preview.outcome")
	c.waitText("Schema warnings")
	c.waitText("campaignId")
	c.screenshot("event-warned")

	// Delete: refused while a webhook subscribes (the API's reason shown),
	// done once it no longer does.
	wh := c.api(http.StatusCreated, "POST", "/v1/webhooks", map[string]any{"name": "Billing", "url": "https://example.com/b", "event_types": []string{"invoice.paid"}})
	c.open("event-types/invoice.paid")
	c.click("button", "Delete")
	c.click("button", "Delete") // the confirmation's
	c.waitText("billing")
	c.api(http.StatusOK, "GET", "/v1/event-types/invoice.paid", nil)
	c.api(http.StatusNoContent, "DELETE", "/v1/webhooks/"+wh["id"].(string), nil)
	c.click("button", "Delete")
	c.click("button", "Delete")
	c.find("heading", "Event types")
	testkit.Eventually(t, 10*time.Second, "the type deleted", func() bool {
		return c.stack.Do("GET", "/v1/event-types/invoice.paid", nil).Status == http.StatusNotFound
	})
}
