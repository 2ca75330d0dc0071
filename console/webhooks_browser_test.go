//go:build !fuzzsmoke

package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/triggerflow/triggerflow/internal/testkit"
)

// TestConsoleSignInTakesTheTokenFromTheFragment: the dev banner's link
// signs in, the token leaves the address bar, and every screen's link is
// named as the issue says.
func TestConsoleSignInTakesTheTokenFromTheFragment(t *testing.T) {
	c := startConsole(t)
	c.open("")
	if hash := eval[string](c, "location.hash"); hash != "" {
		t.Errorf("the token stays in the address bar: %q", hash)
	}
	for _, name := range []string{"Overview", "Webhooks", "Triggers", "Flows", "Queue hooks", "Events", "Event types", "API keys"} {
		c.find("link", name)
	}
	c.find("heading", "Overview")
	c.screenshot("overview-empty")
	// Deep links load their screen.
	c.do(chromedp.Navigate(c.stack.URL + "/ui/webhooks"))
	c.find("heading", "Webhooks")
	// A bad key gets the sign-in form with a message.
	c.do(chromedp.Navigate(c.stack.URL + "/ui/#token=nope"))
	c.find("textbox", "API key")
	c.waitText("not valid")
	c.screenshot("sign-in")
}

// TestConsoleWebhookDeliveredRetriedFromTheLog walks the seeds' webhook
// story: create one (code suggested live, locked after saving), publish an
// event from the console, see its SUCCESS row and the request/response
// panel with Copy; make the receiver fail, then Retry from the console.
func TestConsoleWebhookDeliveredRetriedFromTheLog(t *testing.T) {
	c := startConsole(t)
	rc := testkit.NewReceiver(t)
	c.open("webhooks")
	c.waitText("No webhooks yet")
	c.click("button", "New webhook")
	c.find("dialog", "New webhook")
	c.fill("Name", "Case updates")
	code := c.find("textbox", "Code")
	c.waitFor("the code suggested from the name", `document.querySelector('`+code+`').value === 'case_updates'`)
	c.fill("URL", rc.URL+"/hooks/{{ case.id }}")
	c.click("checkbox", "case.created")
	c.click("button", "Add header")
	c.fill("Headers 1 header", "X-Case")
	c.fill("Headers 1 value", "{{ case.number }}")
	c.choose("Retry", "none")
	// The placeholder picker offers the event's paths and inserts one.
	c.fill("Body template", `{"case": `)
	c.choose("Insert placeholder", "event.id")
	if body := eval[string](c, `document.querySelector('`+c.find("textbox", "Body template")+`').value`); body != `{"case": {{ event.id }}` {
		t.Fatalf("body after inserting a placeholder = %q", body)
	}
	c.fill("Body template", "")
	c.screenshot("webhook-form")
	c.click("button", "Save")
	c.find("dialog", "Webhook created")
	secret := c.find("textbox", "Signing secret")
	if v := eval[string](c, `document.querySelector('`+secret+`').value`); !strings.HasPrefix(v, "whsec_") {
		t.Fatalf("secret shown once = %q", v)
	}
	c.find("button", "Copy signing secret")
	c.click("button", "Done")
	row := c.find("row", "Case updates")
	if !strings.Contains(c.text(row), "case_updates") {
		t.Fatalf("row: %s", c.text(row))
	}
	c.screenshot("webhooks")

	// The code is locked once saved.
	c.click("link", "Case updates")
	c.find("heading", "Case updates")
	c.click("button", "Edit")
	c.find("dialog", "Edit webhook Case updates")
	if c.attr(c.find("textbox", "Code"), "readonly") == "" && !eval[bool](c, `document.querySelector('`+c.find("textbox", "Code")+`').readOnly`) {
		t.Fatal("the code can still be edited after saving")
	}
	c.escape()
	c.waitFor("the dialog to close", `!document.querySelector('dialog[open]')`)

	// Publish an event from the Events screen with the type's payload.
	c.click("link", "Events")
	c.click("button", "Publish test event")
	c.choose("Type", "case.created")
	c.fill("Event id", "case-42-created")
	c.fill("Data", `{"case": {"id": 42, "number": "C-42"}}`)
	c.fill("Subject", "case/42")
	eval[bool](c, `(() => { const el = document.querySelector('`+c.find("textbox", "Occurred at")+`'); el.value = '2026-01-02T03:04:05';
		el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	occurred := eval[string](c, `new Date('2026-01-02T03:04:05').toISOString().replace('.000Z', 'Z')`)
	c.click("button", "Publish")
	c.find("heading", "case-42-created")
	if ev := c.api(http.StatusOK, "GET", "/v1/events/case-42-created", nil); ev["subject"] != "case/42" || ev["occurred_at"] != occurred {
		t.Errorf("published subject %v, occurred_at %v; want case/42, %s", ev["subject"], ev["occurred_at"], occurred)
	}
	got := rc.WaitFor(t, 1, 30*time.Second)[0]
	if got.Path != "/hooks/42" || got.Header.Get("X-Case") != "C-42" {
		t.Fatalf("receiver got %s with X-Case %q", got.Path, got.Header.Get("X-Case"))
	}
	// The event page shows what it led to.
	testkit.Eventually(t, 30*time.Second, "the delivery succeeds", func() bool {
		return c.total("/v1/webhooks/case_updates/deliveries?status=succeeded") == 1
	})
	c.click("button", "Refresh")
	c.waitRow("case_updates", "SUCCESS")
	c.screenshot("event")

	// The webhook's log: SUCCESS row with its status code; the panel shows
	// the request and the response, each with Copy.
	c.open("webhooks/case_updates")
	row = c.find("row", "case-42-created")
	if text := c.text(row); !strings.Contains(text, "SUCCESS") || !strings.Contains(text, "200") {
		t.Fatalf("delivery row: %q", text)
	}
	c.screenshot("webhook-deliveries")
	c.do(chromedp.Click(chromedp.CSS(c.findWithin(row, "button", "Details of delivery "+c.attr(row, "data-key")))))
	c.find("dialog", "Delivery "+c.attr(row, "data-key"))
	c.waitText("Attempt 1")
	c.waitText("POST " + rc.URL + "/hooks/42")
	c.waitText("HTTP 200")
	c.find("link", "Open in Temporal UI")
	c.click("button", "Copy request of attempt 1")
	c.waitFor("the copy to be confirmed", `document.querySelector('[aria-label="Copy request of attempt 1"]').dataset.copied === 'true'`)
	if clip := eval[string](c, `navigator.clipboard.readText().catch(() => '')`); clip != "" && !strings.HasPrefix(clip, "POST "+rc.URL+"/hooks/42") {
		t.Errorf("clipboard after Copy request = %.80q", clip)
	}
	c.find("button", "Copy response of attempt 1")
	c.screenshot("delivery-panel")
	c.escape()

	// The receiver starts failing: the delivery is FAILED (no retries), and
	// Retry from the panel sends it again once the receiver is back.
	rc.FailFirst(1000, http.StatusInternalServerError)
	c.api(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "case-43-created", "type": "case.created",
		"data": map[string]any{"case": map[string]any{"id": 43, "number": "C-43"}}})
	testkit.Eventually(t, 30*time.Second, "the delivery fails", func() bool {
		return c.total("/v1/webhooks/case_updates/deliveries?status=failed") == 1
	})
	c.click("button", "Refresh")
	c.choose("Result", "failed")
	row = c.waitRow("case-43-created", "FAILED", "500")
	rc.Script(nil)                                              // answers 200 again
	c.do(chromedp.Click(chromedp.CSS(row + " td:first-child"))) // the row itself opens the panel
	c.waitText("HTTP 500")
	c.click("button", "Retry")
	c.waitText("Attempt 2")
	c.waitFor("the retried delivery's SUCCESS", `document.querySelector('dialog[open] .facts .badge').textContent === 'SUCCESS'`)
	if n := rc.Count(); n != 3 {
		t.Errorf("receiver got %d requests, want 3 (delivered, failed, retried)", n)
	}
	c.escape()

	// Send test sends an event of a type the webhook takes, its example
	// (or what the admin writes) as the data, and shows the answer.
	c.click("button", "Send test")
	c.find("dialog", "Send a test event")
	if v := eval[string](c, `document.querySelector('`+c.find("combobox", "Event type")+`').value`); v != "case.created" {
		t.Errorf("test event type = %q", v)
	}
	before := rc.Count()
	c.fill("Event data", `{"case": `)
	c.click("button", "Send")
	data := c.find("textbox", "Event data")
	c.waitFor("the broken JSON marked", `document.querySelector('`+data+`').getAttribute('aria-invalid') === 'true'`)
	if msg := c.errorOf(data); !strings.HasPrefix(msg, "is not valid JSON") || rc.Count() != before {
		t.Errorf("broken test data: message %q, %d requests sent", msg, rc.Count()-before)
	}
	c.fill("Event data", `{"case": {"id": 7, "number": "C-7"}}`)
	c.click("button", "Send")
	c.find("dialog", "Test sent")
	c.waitText("HTTP 200")
	if reqs := rc.Requests(); reqs[len(reqs)-1].Path != "/hooks/7" {
		t.Errorf("the test went to %s, want /hooks/7 (the data given)", reqs[len(reqs)-1].Path)
	}
	c.escape()
	// Rotating the secret asks first and shows the new one once.
	c.click("button", "Rotate secret")
	c.click("button", "Rotate secret") // the confirmation's
	c.find("dialog", "Secret rotated")
	if v := eval[string](c, `document.querySelector('[aria-label="Signing secret"]').value`); !strings.HasPrefix(v, "whsec_") {
		t.Fatalf("rotated secret shown = %q", v)
	}
	c.click("button", "Done")
}

// TestConsoleBadWebhookInputShowsFieldErrorsAndSavesNothing: the API's
// field errors land next to their fields; nothing is saved.
func TestConsoleBadWebhookInputShowsFieldErrorsAndSavesNothing(t *testing.T) {
	c := startConsole(t)
	c.open("webhooks")
	c.click("button", "New webhook")
	c.fill("Name", "Broken")
	c.fill("URL", "ftp://example.com/x")
	c.fill("Timeout", "90s")
	c.click("button", "Save")
	url := c.find("textbox", "URL")
	c.waitFor("URL marked invalid", `document.querySelector('`+url+`').getAttribute('aria-invalid') === 'true'`)
	for _, f := range []string{"URL", "Timeout"} {
		sel := c.find("textbox", f)
		if c.attr(sel, "aria-invalid") != "true" {
			t.Errorf("%s not marked invalid", f)
		}
		msg := eval[string](c, `document.getElementById(document.querySelector('`+sel+`').id + '-err').textContent`)
		if msg == "" {
			t.Errorf("%s has no message next to it", f)
		}
	}
	c.waitFor("the event types' message next to them", `[...document.querySelectorAll('fieldset')].some((f) =>
		f.querySelector('legend').textContent === 'Event types' && !f.querySelector(':scope > .field-error').hidden)`)
	c.screenshot("webhook-errors")
	if n := c.total("/v1/webhooks"); n != 0 {
		t.Fatalf("%d webhooks saved from bad input", n)
	}
}

// TestConsoleCotalkerBulkDisable: select webhooks, Disable; Delete asks
// first and Cancel keeps them.
func TestConsoleCotalkerBulkDisable(t *testing.T) {
	c := startConsole(t)
	for _, name := range []string{"Cotalker tasks", "Cotalker surveys", "Cotalker users"} {
		c.api(http.StatusCreated, "POST", "/v1/webhooks", map[string]any{"name": name, "url": "https://example.com/" + name[9:],
			"event_types": []string{"task.created"}})
	}
	c.open("webhooks")
	for _, name := range []string{"Cotalker tasks", "Cotalker surveys"} {
		c.click("checkbox", "Select "+name)
	}
	c.click("button", "Disable")
	testkit.Eventually(t, 10*time.Second, "two webhooks disabled", func() bool {
		return c.total("/v1/webhooks?enabled=false") == 2
	})
	c.waitFor("switches to follow", `[...document.querySelectorAll('[role=switch]')].filter((s) => s.getAttribute('aria-checked') === 'false').length === 2`)
	if on := c.api(http.StatusOK, "GET", "/v1/webhooks/cotalker_users", nil)["enabled"]; on != true {
		t.Fatalf("an unselected webhook was disabled")
	}
	c.screenshot("webhooks-bulk-disabled")
	// "Show disabled" off hides them (a server-side filter), on shows them again.
	c.click("checkbox", "Show disabled")
	c.waitFor("only the enabled webhook listed", `!document.querySelector('table[aria-busy]') && document.querySelectorAll('tbody tr').length === 1`)
	c.waitRow("Cotalker users")
	c.click("checkbox", "Show disabled")
	c.waitFor("all three listed again", `!document.querySelector('table[aria-busy]') && document.querySelectorAll('tbody tr').length === 3`)
	c.click("checkbox", "Select Cotalker users")
	c.click("button", "Delete")
	c.find("dialog", "Delete “Cotalker users”?")
	c.click("button", "Cancel")
	if n := c.total("/v1/webhooks"); n != 3 {
		t.Fatalf("Cancel deleted: %d left", n)
	}
	// The switch in a row works alone too.
	row := c.find("row", "Cotalker users")
	c.do(chromedp.Click(chromedp.CSS(c.findWithin(row, "switch", "Enabled: Cotalker users"))))
	testkit.Eventually(t, 10*time.Second, "the switch disables", func() bool {
		return c.api(http.StatusOK, "GET", "/v1/webhooks/cotalker_users", nil)["enabled"] == false
	})
}

// TestConsoleWebhookSeedFields sets every seed field of a webhook from the
// form: a use case (Webhook scripts) that narrows the Event types list and
// is locked once saved, Cotalker's success status 200-209, a per-type
// filter and a CEL filter expression (its API error shown next to it) —
// then shows they work: a 210 answer is FAILED, and an event the filter
// refuses is not delivered.
func TestConsoleWebhookSeedFields(t *testing.T) {
	c := startConsole(t)
	rc := testkit.NewReceiver(t)
	rc.FailFirst(1000, 210)
	c.open("webhooks")
	c.click("button", "New webhook")
	c.fill("Name", "Cotalker tasks")
	c.fill("URL", rc.URL+"/cotalker")
	c.click("checkbox", "case.created")
	c.choose("Use case", "task")
	// Only the task's types are offered now, and case.created is dropped.
	visible := eval[string](c, `[...document.querySelectorAll('dialog[open] label.type')].filter((l) => l.getClientRects().length).map((l) => l.dataset.type).join(',')`)
	if visible != "task.*,task.created,task.updated,task.deleted" {
		t.Errorf("event types offered for the task use case: %s", visible)
	}
	c.click("checkbox", "task.created")
	c.fill("Success status", "200-209")
	c.choose("Retry", "none")
	c.click("button", "Add filter")
	c.choose("Filter 1 event type", "task.created")
	c.click("button", "Add condition to filter 1")
	c.fill("Filter 1 condition 1 reference", "task.priority")
	c.choose("Filter 1 condition 1 operator", ">=")
	c.fill("Filter 1 condition 1 value", "2")
	c.fill("Filter expression (CEL)", "data.task.status ==")
	c.click("button", "Save")
	expr := c.find("textbox", "Filter expression (CEL)")
	c.waitFor("the expression marked", `document.querySelector('`+expr+`').getAttribute('aria-invalid') === 'true'`)
	if msg := c.errorOf(expr); msg == "" {
		t.Error("no message next to the filter expression")
	}
	if n := c.total("/v1/webhooks"); n != 0 {
		t.Fatalf("saved with a bad expression: %d", n)
	}
	c.screenshotShowing("webhook-form-filters", `dialog[open] .filters-editor`)
	c.fill("Filter expression (CEL)", `data.task.status != "draft"`)
	c.click("button", "Save")
	c.find("dialog", "Webhook created")
	c.click("button", "Done")
	w := c.api(http.StatusOK, "GET", "/v1/webhooks/cotalker_tasks", nil)
	if w["use_case"] != "task" || w["success_status"] != "200-209" || fmt.Sprint(w["event_types"]) != "[task.created]" ||
		fmt.Sprint(w["filters"]) != "map[task.created:[map[operator:>= reference:task.priority value:2]]]" ||
		w["expression"] != `data.task.status != "draft"` {
		t.Fatalf("saved webhook: %v", w)
	}
	// They work: priority 1 is filtered out; the 210 answer is FAILED.
	for i, p := range []int{1, 3} {
		c.api(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": fmt.Sprintf("task-%d", i), "type": "task.created",
			"data": map[string]any{"task": map[string]any{"priority": p, "status": "open"}}})
	}
	testkit.Eventually(t, 30*time.Second, "the delivery fails on 210", func() bool {
		return c.total("/v1/webhooks/cotalker_tasks/deliveries?status=failed") == 1
	})
	c.open("webhooks/cotalker_tasks")
	c.waitRow("task-1", "FAILED", "210")
	if n := c.total("/v1/webhooks/cotalker_tasks/deliveries"); n != 1 || rc.Count() != 1 {
		t.Errorf("deliveries %d, requests %d: the filter let priority 1 through", n, rc.Count())
	}
	c.waitText("200-209")
	// The use case is locked once saved, and still narrows the list.
	c.click("button", "Edit")
	if !eval[bool](c, `document.querySelector('`+c.find("combobox", "Use case")+`').disabled`) {
		t.Error("the use case can be changed after saving")
	}
	c.absent("checkbox", "case.created")
	c.find("checkbox", "task.updated")
}

// TestConsoleWebhookEditKeepsEveryField: a webhook made through the API
// with every field set comes back unchanged but for its name after an edit
// in the console that changes only the name.
func TestConsoleWebhookEditKeepsEveryField(t *testing.T) {
	c := startConsole(t)
	c.api(http.StatusCreated, "POST", "/v1/webhooks", map[string]any{
		"name": "Contact sync", "description": "To the CRM", "url": "https://example.com/c/{{ contact.id }}", "method": "PUT",
		"headers": map[string]string{"X-Contact": "{{ contact.id }}"}, "params": map[string]string{"src": "tf"},
		"body":        `{"id": {{ contact.id }}}`,
		"event_types": []string{"contact.created", "contact.updated"}, "use_case": "contact",
		"conditions": []map[string]string{{"reference": "contact.name", "operator": "exists"}},
		"filters":    map[string]any{"contact.updated": []map[string]string{{"reference": "contact.vip", "operator": "=", "value": "true"}}},
		"expression": "has(data.contact.id)", "success_status": "200,202-204",
		"retry":   map[string]any{"initial_interval": "15s", "backoff": 2, "expire_after": "1h", "retry_all": true},
		"timeout": "5s", "ordered": true, "enabled": false,
	})
	before := c.api(http.StatusOK, "GET", "/v1/webhooks/contact_sync", nil)
	c.open("webhooks/contact_sync")
	c.find("heading", "Contact sync")
	c.waitText("has(data.contact.id)")
	c.click("button", "Edit")
	c.find("dialog", "Edit webhook Contact sync")
	c.fill("Name", "Contact sync (CRM)")
	c.click("button", "Save")
	c.find("heading", "Contact sync (CRM)")
	after := c.api(http.StatusOK, "GET", "/v1/webhooks/contact_sync", nil)
	for k, v := range before {
		if k == "name" || k == "updated_at" {
			continue
		}
		if fmt.Sprint(after[k]) != fmt.Sprint(v) {
			t.Errorf("%s changed by an edit of the name: %v → %v", k, v, after[k])
		}
	}
	c.screenshot("webhook")
}
