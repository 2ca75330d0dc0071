//go:build !fuzzsmoke

package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// serviceFlow creates a one-step service flow through the API.
func serviceFlow(c *console, name string) string {
	c.t.Helper()
	f := c.api(http.StatusCreated, "POST", "/v1/flows", map[string]any{"name": name, "type": "service", "steps": []map[string]any{
		{"name": "note", "action": "log", "params": map[string]any{"message": "ran for {{ event.id }}"}}}})
	return f["id"].(string)
}

// TestConsoleAtTimeTriggerPreviewsBeforeSaving: Webitel's example trigger
// "0 */1 12 * * *" in Europe/Kyiv shows its words and its next five runs
// (12:00–12:04 unless it is noon in Kyiv now) while it is typed; a bad
// expression is marked before saving; Save makes the trigger.
func TestConsoleAtTimeTriggerPreviewsBeforeSaving(t *testing.T) {
	c := startConsole(t)
	flowID := serviceFlow(c, "notify-new-case")
	c.api(http.StatusCreated, "POST", "/v1/flows", map[string]any{"name": "ivr-menu", "type": "default", "steps": []map[string]any{
		{"name": "note", "action": "log", "params": map[string]any{"message": "menu"}}}})
	c.open("triggers")
	c.click("button", "New trigger")
	c.find("dialog", "New trigger")
	c.fill("Name", "Webitel noon digest")
	c.fill("Expression", "61 */1 12 * * *")
	expr := c.find("textbox", "Expression")
	c.waitFor("the bad expression marked while typing", `document.querySelector('`+expr+`').getAttribute('aria-invalid') === 'true'`)
	if msg := eval[string](c, `document.getElementById(document.querySelector('`+expr+`').id + '-err').textContent`); !strings.Contains(msg, "61") {
		t.Errorf("expression message = %q, want it to name 61", msg)
	}
	c.fill("Expression", "0 */1 12 * * *")
	c.fill("Search time zones", "Kyiv")
	before := time.Now()
	c.choose("Time zone", "Europe/Kyiv")
	c.waitFor("the preview in Kyiv", `(document.querySelector('.preview:not([hidden]) .muted') || {}).textContent === 'Next runs in Europe/Kyiv:'`)
	after := time.Now()
	if c.attr(expr, "aria-invalid") == "true" {
		t.Error("the good expression is still marked invalid")
	}
	words := eval[string](c, `document.querySelector('.expression-text').textContent`)
	if !strings.Contains(words, "12:00") || !strings.Contains(words, "12:59") {
		t.Errorf("words = %q, want every minute from 12:00 to 12:59", words)
	}
	runs := eval[[]string](c, `[...document.querySelectorAll('.next-runs time')].map((t) => t.getAttribute('datetime'))`)
	if w1, w2 := testkit.MinutesOfHour(t, "Europe/Kyiv", 12, before, 5), testkit.MinutesOfHour(t, "Europe/Kyiv", 12, after, 5); fmt.Sprint(runs) != fmt.Sprint(w1) && fmt.Sprint(runs) != fmt.Sprint(w2) {
		t.Errorf("next runs = %v, want %v", runs, w1)
	}
	shown := eval[string](c, `document.querySelector('.next-runs').innerText`)
	if !strings.Contains(shown, "12:0") || !(strings.Contains(shown, "(+02:00)") || strings.Contains(shown, "(+03:00)")) {
		t.Errorf("next runs as shown: %q", shown)
	}
	if n := c.total("/v1/triggers"); n != 0 {
		t.Fatalf("the preview saved a trigger (%d)", n)
	}
	// The flow list offers service flows only.
	if opts := eval[string](c, `[...document.querySelector('`+c.find("combobox", "Flow")+`').options].map((o) => o.textContent).join(',')`); strings.Contains(opts, "ivr-menu") {
		t.Errorf("a default flow is offered to a trigger: %s", opts)
	}
	c.choose("Flow", flowID)
	c.choose("Overlap policy", "buffer_one")
	c.screenshot("trigger-form")
	c.click("button", "Save")
	c.waitRow("Webitel noon digest", "At Time")
	c.screenshot("triggers")
	list := c.api(http.StatusOK, "GET", "/v1/triggers", nil)["items"].([]any)
	tr := list[0].(map[string]any)
	if tr["expression"] != "0 */1 12 * * *" || tr["timezone"] != "Europe/Kyiv" || tr["flow"] != flowID || tr["type"] != "at_time" || tr["overlap_policy"] != "buffer_one" {
		t.Fatalf("saved trigger: %v", tr)
	}
	// Its page: Run now starts a run that shows with its status.
	c.click("link", "Webitel noon digest")
	c.find("heading", "Webitel noon digest")
	c.click("button", "Run now")
	testkit.Eventually(t, 30*time.Second, "the manual run finishes", func() bool {
		return c.total("/v1/triggers/"+tr["id"].(string)+"/runs?status=succeeded") == 1
	})
	c.click("button", "Refresh")
	c.waitRow("SUCCESS")
	c.find("link", "Open run "+c.api(http.StatusOK, "GET", "/v1/triggers/"+tr["id"].(string)+"/runs", nil)["items"].([]any)[0].(map[string]any)["id"].(string)+" in Temporal UI")
	c.screenshot("trigger")
	// Stop pauses it (Webitel's Start/Stop).
	c.click("button", "Stop")
	testkit.Eventually(t, 10*time.Second, "the trigger stops", func() bool {
		return c.api(http.StatusOK, "GET", "/v1/triggers/"+tr["id"].(string), nil)["enabled"] == false
	})
}

// TestConsoleOnEventEventDependsOnObject: the Event list is empty and
// disabled with no Object, follows the Object (custom types' objects
// included), and clears when the Object is cleared; a trigger without a
// name is refused next to its field.
func TestConsoleOnEventEventDependsOnObject(t *testing.T) {
	c := startConsole(t)
	flowID := serviceFlow(c, "notify-new-case")
	c.api(http.StatusCreated, "POST", "/v1/event-types", map[string]any{"name": "invoice.paid"})
	c.open("triggers")
	c.click("button", "New trigger")
	c.choose("Type", "on_event")
	event := c.find("combobox", "Event")
	options := func() string {
		return eval[string](c, `[...document.querySelector('`+event+`').options].map((o) => o.value).filter(Boolean).join(',')`)
	}
	if !eval[bool](c, `document.querySelector('`+event+`').disabled`) || options() != "" {
		t.Fatalf("Event without an Object: disabled=%v options=%q", eval[bool](c, `document.querySelector('`+event+`').disabled`), options())
	}
	c.choose("Object", "case")
	if got := options(); got != "created,updated,deleted,planned_resolution_time" {
		t.Fatalf("case events = %q", got)
	}
	c.choose("Event", "created")
	c.choose("Object", "")
	if v := eval[string](c, `document.querySelector('`+event+`').value`); v != "" || !eval[bool](c, `document.querySelector('`+event+`').disabled`) {
		t.Fatalf("clearing the Object left Event = %q", v)
	}
	// An admin's own type's object is offered too, with its events.
	c.choose("Object", "invoice")
	if got := options(); got != "paid" {
		t.Fatalf("invoice events = %q", got)
	}
	c.choose("Object", "case_file")
	if got := options(); got != "created,deleted" {
		t.Fatalf("case file events = %q", got)
	}
	c.choose("Event", "deleted")
	c.choose("Flow", flowID)
	c.click("button", "Add condition")
	c.fill("Condition 1 reference", "case_file.size")
	c.choose("Condition 1 operator", ">")
	c.fill("Condition 1 value", "1000")
	c.screenshot("trigger-on-event-form")
	c.click("button", "Save") // no name
	name := c.find("textbox", "Name")
	c.waitFor("Name marked invalid", `document.querySelector('`+name+`').getAttribute('aria-invalid') === 'true'`)
	if n := c.total("/v1/triggers"); n != 0 {
		t.Fatalf("saved without a name: %d", n)
	}
	c.fill("Name", "Big file removed")
	c.click("button", "Save")
	c.waitRow("Big file removed", "case_file.deleted")
	tr := c.api(http.StatusOK, "GET", "/v1/triggers", nil)["items"].([]any)[0].(map[string]any)
	if tr["object"] != "case_file" || tr["event"] != "deleted" || fmt.Sprint(tr["conditions"]) != "[map[operator:> reference:case_file.size value:1000]]" {
		t.Fatalf("saved: %v", tr)
	}
	// Run now asks for the event, starting from the type's example.
	c.click("link", "Big file removed")
	c.click("button", "Run now")
	c.find("dialog", "Run Big file removed now")
	var shown any
	_ = json.Unmarshal([]byte(eval[string](c, `document.querySelector('`+c.find("textbox", "Event data")+`').value`)), &shown)
	if want := c.api(http.StatusOK, "GET", "/v1/event-types/case_file.deleted", nil)["example"]; fmt.Sprint(shown) != fmt.Sprint(want) {
		t.Errorf("run-now data %v, want case_file.deleted's example %v", shown, want)
	}
	c.fill("Event data", `{"case": {"id": 9}, "file": {"id": "f-9", "size": 5}}`)
	c.click("button", "Run")
	testkit.Eventually(t, 30*time.Second, "the manual run with the given event", func() bool {
		return c.total("/v1/triggers/"+tr["id"].(string)+"/runs?status=succeeded") == 1
	})
}

// TestConsoleQueueHookForMissed adds a Webitel queue hook for "missed" and
// a published queue.missed runs its flow.
func TestConsoleQueueHookForMissed(t *testing.T) {
	c := startConsole(t)
	flowID := serviceFlow(c, "call-back")
	c.open("queues")
	c.fill("Queue id", "sales")
	c.click("button", "Open queue")
	c.find("heading", "Queue sales")
	c.click("button", "New hook")
	c.choose("Event", "missed")
	c.choose("Flow", flowID)
	c.click("button", "Save")
	c.waitRow("missed", "call-back")
	c.screenshot("queue-hooks")
	hooks := c.api(http.StatusOK, "GET", "/v1/queues/sales/hooks", nil)["items"].([]any)
	if len(hooks) != 1 || hooks[0].(map[string]any)["event"] != "missed" || hooks[0].(map[string]any)["flow"] != flowID {
		t.Fatalf("hooks: %v", hooks)
	}
	hookID := hooks[0].(map[string]any)["id"].(string)
	// The queue index lists the queues that have hooks (GET /v1/queues).
	c.click("link", "Queue hooks")
	c.waitRow("sales", "1")
	c.click("link", "sales")
	c.waitRow("missed")
	c.api(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "call-1-missed", "type": "queue.missed", "data": map[string]any{"queue_id": "sales"}})
	testkit.Eventually(t, 30*time.Second, "the hook's run", func() bool {
		return c.total("/v1/queues/sales/hooks/"+hookID+"/runs?status=succeeded") == 1
	})
	// Bulk remove asks first.
	c.click("checkbox", "Select missed → call-back")
	c.click("button", "Delete")
	c.click("button", "Delete") // the confirmation's
	testkit.Eventually(t, 10*time.Second, "the hook removed", func() bool { return c.total("/v1/queues/sales/hooks") == 0 })
}

// TestConsoleReadOnlyKeySeesNoEditControls signs in with a read key by
// typing it and finds no control that would change anything.
func TestConsoleReadOnlyKeySeesNoEditControls(t *testing.T) {
	c := startConsole(t)
	flowID := serviceFlow(c, "notify-new-case")
	c.api(http.StatusCreated, "POST", "/v1/webhooks", map[string]any{"name": "Case updates", "url": "https://example.com/h", "event_types": []string{"case.created"}})
	c.api(http.StatusCreated, "POST", "/v1/triggers", map[string]any{"name": "Morning", "type": "at_time", "expression": "0 9 * * *", "flow": flowID})
	c.api(http.StatusCreated, "POST", "/v1/queues/sales/hooks", map[string]any{"event": "missed", "flow": flowID})
	key := c.api(http.StatusCreated, "POST", "/v1/api-keys", map[string]any{"name": "viewer", "scopes": []string{"read"}})["key"].(string)

	c.do(chromedp.Navigate(c.stack.URL + "/ui/")) // no token: the sign-in form
	c.fill("API key", key)
	c.click("button", "Sign in")
	c.find("link", "Webhooks")
	c.absent("link", "API keys")
	noEdits := func(extra ...string) {
		t.Helper()
		for _, name := range append([]string{"Delete", "Disable", "Enable", "Edit", "Save"}, extra...) {
			c.absent("button", name)
		}
		if n := eval[int](c, `document.querySelectorAll('[role=switch], tbody input[type=checkbox]').length`); n != 0 {
			t.Errorf("%s shows %d switches or row checkboxes to a read-only key", eval[string](c, "location.pathname"), n)
		}
	}
	c.click("link", "Webhooks")
	c.waitRow("Case updates", "Enabled")
	noEdits("New webhook")
	c.click("link", "Case updates")
	c.find("heading", "Deliveries")
	noEdits("Send test", "Rotate secret")
	c.click("link", "Triggers")
	c.waitRow("Morning")
	noEdits("New trigger")
	c.click("link", "Morning")
	c.find("heading", "Runs")
	noEdits("Run now", "Stop", "Start")
	c.click("link", "Flows")
	c.waitRow("notify-new-case")
	noEdits("New flow")
	c.click("link", "notify-new-case")
	c.find("heading", "Steps")
	noEdits("Test run")
	c.openAs(key, "queues/sales")
	c.waitRow("missed")
	noEdits("New hook")
	c.click("link", "Events")
	c.find("heading", "Events")
	noEdits("Publish test event")
	c.click("link", "Event types")
	c.waitRow("case.created", "Built-in")
	noEdits("New event type")
	c.click("link", "case.created")
	c.find("heading", "case.created")
	noEdits()
	c.click("link", "Events")
	c.find("heading", "Events")
	c.screenshot("read-only")
}

// TestConsoleIPSCAPETriggerActionsByClicking builds ipSCAPE's seed trigger
// by clicking: On Event lead → outcome_predictive, its two conditions, a CEL
// condition expression, and the actions as rows — a webhook with a URL, then
// lead.update.list with a list id — each parameter form generated from the
// action's schema, rows added, reordered and removed. Errors land on the
// expression and on the action's parameter; saving shows the webhook
// actions' signing secret once; the saved trigger runs both actions when
// ipSCAPE's event arrives; the webhook action's request is in the trigger's
// delivery log, FAILED at first and retried from its panel; an edit keeps
// the actions.
func TestConsoleIPSCAPETriggerActionsByClicking(t *testing.T) {
	hook, leads := testkit.NewReceiver(t), testkit.NewReceiver(t)
	hook.FailFirst(1, http.StatusServiceUnavailable)
	c := startConsoleWith(t, teststack.Options{Actions: activities.ActionSettings{LeadAPIURL: leads.URL}})
	c.open("triggers")
	c.click("button", "New trigger")
	c.fill("Name", "Move after 3 attempts")
	c.choose("Type", "on_event")
	c.choose("Object", "lead")
	c.choose("Event", "outcome_predictive")
	c.click("button", "Add condition")
	c.fill("Condition 1 reference", "campaignId")
	c.fill("Condition 1 value", "53")
	c.click("button", "Add condition")
	c.fill("Condition 2 reference", "lead.totalAttempts")
	c.choose("Condition 2 operator", ">=")
	c.fill("Condition 2 value", "3")
	c.fill("Condition expression (CEL)", "data.campaignId ==")
	c.choose("Runs", "actions")
	// The action list is the catalog's trigger_actions.
	want := c.api(http.StatusOK, "GET", "/v1/catalog", nil)["trigger_actions"]
	if got := eval[[]string](c, `[...document.querySelector('`+c.find("combobox", "Action 1")+`').options].map((o) => o.value).filter(Boolean)`); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("actions offered %v, want the catalog's trigger_actions %v", got, want)
	}
	c.choose("Action 1", "webhook")
	c.fill("url (required)", "ftp://example.com/ipscape")
	c.choose("retry", "none")
	c.click("button", "Add action")
	c.choose("Action 2", "lead.update.list")
	c.click("button", "Add action")
	c.choose("Action 3", "log")
	c.click("button", "Remove action 3")
	c.absent("combobox", "Action 3")
	// A third action, http.request, with its own url field.
	c.click("button", "Add action")
	c.choose("Action 3", "http.request")
	c.fillWithin(c.find("group", "Action 3"), "url (required)", leads.URL+"/lookup/{{ leadId }}")
	// Reordered and back: the rows follow.
	order := func() string {
		return eval[string](c, `[...document.querySelectorAll('dialog[open] .action-row select')].filter((s) => (s.getAttribute('aria-label') || '').startsWith('Action ')).map((s) => s.value).join(',')`)
	}
	c.click("button", "Move action 2 up")
	if o := order(); o != "lead.update.list,webhook,http.request" {
		t.Fatalf("after moving action 2 up: %s", o)
	}
	c.click("button", "Move action 1 down")
	if o := order(); o != "webhook,lead.update.list,http.request" {
		t.Fatalf("after moving action 1 down: %s", o)
	}
	// listId left empty and a broken expression: both marked, nothing saved.
	c.click("button", "Save")
	expr := c.find("textbox", "Condition expression (CEL)")
	c.waitFor("the expression marked", `document.querySelector('`+expr+`').getAttribute('aria-invalid') === 'true'`)
	// ipSCAPE's "check the parameters are not empty", on action 2's row.
	if msg := eval[string](c, `[...document.querySelectorAll('dialog[open] .action-row')][1].querySelector(':scope > .field-error').textContent`); !strings.Contains(msg, "must not be empty") || !strings.Contains(msg, "listId") {
		t.Errorf("action 2's message = %q", msg)
	}
	if c.attr(c.find("combobox", "Action 2"), "aria-invalid") != "true" {
		t.Error("action 2 is not marked")
	}
	// A parameter's own error lands on that parameter.
	if url := c.find("textbox", "url (required)"); c.attr(url, "aria-invalid") != "true" || c.errorOf(url) == "" {
		t.Errorf("url: invalid=%q message=%q", c.attr(url, "aria-invalid"), c.errorOf(url))
	}
	if n := c.total("/v1/triggers"); n != 0 {
		t.Fatalf("saved with errors: %d", n)
	}
	c.screenshotShowing("trigger-actions-form", `dialog[open] .action-row + .action-row .step-head`)
	c.fill("Condition expression (CEL)", `data.campaignId == "53"`)
	c.fill("listId (required)", "354")
	c.fill("url (required)", hook.URL+"/ipscape")
	c.click("button", "Save")
	// The trigger's first webhook action made it a signing secret: shown once.
	c.find("dialog", "Signing secret of the webhook actions")
	if v := eval[string](c, `document.querySelector('`+c.find("textbox", "Signing secret")+`').value`); !strings.HasPrefix(v, "whsec_") {
		t.Fatalf("signing secret shown = %q", v)
	}
	c.click("button", "Done")
	c.waitRow("Move after 3 attempts", "3 actions")
	tr := c.api(http.StatusOK, "GET", "/v1/triggers", nil)["items"].([]any)[0].(map[string]any)
	acts := tr["actions"].([]any)
	if len(acts) != 3 || fmt.Sprint(acts[0].(map[string]any)["action"]) != "webhook" || acts[1].(map[string]any)["action"] != "lead.update.list" ||
		acts[0].(map[string]any)["parameters"].(map[string]any)["url"] != hook.URL+"/ipscape" ||
		acts[1].(map[string]any)["parameters"].(map[string]any)["listId"] != "354" ||
		tr["condition_expression"] != `data.campaignId == "53"` || tr["flow"] != nil {
		t.Fatalf("saved trigger: %v", tr)
	}
	// ipSCAPE sends its event: both actions run, in order.
	c.api(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "ips-lead-131413", "type": "outbound.lead.outcome.predictive",
		"payload": map[string]any{"campaignId": "53", "leadId": "131413", "lead": map[string]any{"totalAttempts": "3"}}})
	sent := hook.WaitFor(t, 1, 30*time.Second)[0]
	leadCalls := leads.WaitFor(t, 2, 30*time.Second)
	moved, looked := leadCalls[0], leadCalls[1]
	if sent.Path != "/ipscape" || sent.Header.Get("webhook-signature") == "" || moved.Path != "/leads/131413/list" || !strings.Contains(string(moved.Body), `"354"`) ||
		looked.Path != "/lookup/131413" {
		t.Fatalf("requests: %s (signature %q), %s %s, %s", sent.Path, sent.Header.Get("webhook-signature"), moved.Path, moved.Body, looked.Path)
	}
	c.click("link", "Move after 3 attempts")
	c.find("heading", "Move after 3 attempts")
	c.waitText(`data.campaignId == "53"`)
	c.waitText("listId: 354")
	testkit.Eventually(t, 30*time.Second, "the run ends", func() bool {
		return c.total("/v1/triggers/"+tr["id"].(string)+"/runs?status=succeeded") == 1
	})
	c.click("button", "Refresh")
	c.waitRow("SUCCESS", "ips-lead-131413")
	// The run's step log: each step, the webhook action's delivery, the
	// request http.request sent and what came back.
	runID := c.api(http.StatusOK, "GET", "/v1/triggers/"+tr["id"].(string)+"/runs", nil)["items"].([]any)[0].(map[string]any)["id"].(string)
	c.click("button", "Details of run "+runID)
	c.find("dialog", "Run "+runID)
	c.waitText("Step 2: ")
	c.waitText("GET " + leads.URL + "/lookup/131413")
	c.find("button", "Copy response of step 3 attempt 1")
	c.screenshot("run-log")
	delivery := c.api(http.StatusOK, "GET", "/v1/triggers/"+tr["id"].(string)+"/deliveries", nil)["items"].([]any)[0].(map[string]any)["id"].(string)
	c.click("button", "Details of delivery "+delivery)
	c.find("dialog", "Delivery "+delivery)
	c.escape()
	c.escape()
	c.waitFor("the panels to close", `!document.querySelector('dialog[open]')`)
	// The webhook action's request is in the trigger's own delivery log:
	// FAILED (503, no retries), then retried by hand from its panel.
	c.find("heading", "Webhook deliveries")
	testkit.Eventually(t, 30*time.Second, "the action's delivery fails", func() bool {
		return c.total("/v1/triggers/"+tr["id"].(string)+"/deliveries?status=failed") == 1
	})
	c.waitRow("ips-lead-131413", "FAILED", "503")
	row := c.findWithin(c.find("table", "Deliveries"), "row", "ips-lead-131413")
	c.screenshotShowing("trigger-actions", "h2 + .registry + h2 + .registry")
	c.do(chromedp.Click(chromedp.CSS(row + " td:first-child")))
	c.waitText("HTTP 503")
	c.waitText("POST " + hook.URL + "/ipscape")
	c.find("link", tr["id"].(string)) // the trigger that sent it
	c.click("button", "Retry")
	c.waitFor("the retried delivery's SUCCESS", `document.querySelector('dialog[open] .facts .badge').textContent === 'SUCCESS'`)
	if n := hook.Count(); n != 2 {
		t.Errorf("the receiver got %d requests, want 2 (failed, retried)", n)
	}
	c.escape()
	// An edit that changes nothing keeps the actions as they were.
	c.click("button", "Edit")
	c.find("dialog", "Edit trigger Move after 3 attempts")
	if v := eval[string](c, `document.querySelector('`+c.find("textbox", "listId (required)")+`').value`); v != "354" {
		t.Fatalf("listId in the edit form = %q", v)
	}
	c.click("button", "Save")
	c.waitFor("the dialog to close", `!document.querySelector('dialog[open]')`)
	again := c.api(http.StatusOK, "GET", "/v1/triggers/"+tr["id"].(string), nil)
	if fmt.Sprint(again["actions"]) != fmt.Sprint(tr["actions"]) || again["condition_expression"] != tr["condition_expression"] {
		t.Fatalf("an unchanged edit changed the trigger: %v → %v", tr["actions"], again["actions"])
	}
}
