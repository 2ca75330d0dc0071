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

// TestConsoleFlowBuiltFromActionSchemasAndTestRun: a flow's step form comes
// from GET /v1/actions; the saved flow runs with a sample event and the
// result shows each step.
func TestConsoleFlowBuiltFromActionSchemasAndTestRun(t *testing.T) {
	c := startConsole(t)
	c.open("flows")
	c.waitText("No flows yet")
	c.click("button", "New flow")
	c.find("dialog", "New flow")
	c.fill("Name", "notify-new-case")
	c.fill("Step name", "tell_agents")
	c.choose("Action", "notify")
	// The notify action's parameters, generated from its schema.
	c.fill("text (required)", "New case {{ case.number }}")
	c.fill("user_ids (required)", `["101", "102"]`)
	c.click("button", "Add step")
	c.screenshot("flow-form")
	c.click("button", "Save")
	// The second step has no action: the error lands on it, nothing saved.
	c.waitFor("the empty step's action marked", `[...document.querySelectorAll('dialog[open] select[aria-invalid="true"]')].length > 0`)
	if n := c.total("/v1/flows"); n != 0 {
		t.Fatalf("saved with an empty step: %d", n)
	}
	c.click("button", "Remove step 2")
	c.click("button", "Save")
	c.find("heading", "notify-new-case")
	f := c.api(http.StatusOK, "GET", "/v1/flows/notify-new-case", nil)
	steps := f["steps"].([]any)
	if len(steps) != 1 || steps[0].(map[string]any)["action"] != "notify" ||
		steps[0].(map[string]any)["params"].(map[string]any)["text"] != "New case {{ case.number }}" {
		t.Fatalf("saved steps: %v", steps)
	}
	c.click("button", "Test run")
	c.choose("Event type", "case.created")
	c.fill("Event data", `{"case": {"id": 7, "number": "C-7"}}`)
	c.click("button", "Run")
	c.waitFor("the run's result", `(document.querySelector('dialog[open] h3 .badge') || {}).textContent === 'SUCCESS'`)
	c.waitText("tell_agents")
	// What the step returned, asked of the run's workflow.
	c.waitFor("the step's output", `((document.querySelector('dialog[open] pre[aria-label="Output of tell_agents"]') || {}).textContent || '').includes('"notified": 2')`)
	c.screenshotShowing("flow-test-run", `dialog[open] pre[aria-label="Output of tell_agents"]`)
	notes := c.api(http.StatusOK, "GET", "/v1/notifications?user_id=101", nil)["items"].([]any)
	if len(notes) != 1 || !strings.Contains(fmt.Sprint(notes[0]), "New case C-7") {
		t.Fatalf("the test run's notification: %v", notes)
	}
	c.escape()
	c.click("button", "Refresh")
	c.waitRow("SUCCESS", "tell_agents")
	c.screenshot("flow")
}

// TestConsoleAPIKeysShownOnceAndRevoked: an admin makes a key with scopes,
// sees it once with Copy, then revokes it (asked first) and it stops working.
func TestConsoleAPIKeysShownOnceAndRevoked(t *testing.T) {
	c := startConsole(t)
	c.open("api-keys")
	c.click("button", "New key")
	c.fill("Name", "CRM publisher")
	c.click("checkbox", "read — see everything")
	c.click("checkbox", "publish — send events")
	c.click("button", "Save")
	c.find("dialog", "Key created")
	key := eval[string](c, `document.querySelector('[aria-label="New API key"]').value`)
	if !strings.HasPrefix(key, "tfk_") {
		t.Fatalf("key shown = %q", key)
	}
	c.find("button", "Copy API key")
	c.screenshot("api-key-created")
	c.click("button", "Done")
	c.waitRow("CRM publisher", "publish", "active")
	if r := c.stack.DoAs(key, "GET", "/v1/me", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"scopes":["publish"]`) {
		t.Fatalf("the new key: %d %s", r.Status, r.Body)
	}
	c.screenshot("api-keys")
	c.click("button", "Revoke CRM publisher")
	c.click("button", "Revoke") // the confirmation's
	c.waitRow("CRM publisher", "revoked")
	if r := c.stack.DoAs(key, "GET", "/v1/me", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked key still works: %d", r.Status)
	}
}

// TestConsoleOverviewPutsFailingWebhooksFirst: counts, the last hour's
// deliveries and the failing webhook with a link into its log; the
// Events screen lists the events with what they led to.
func TestConsoleOverviewPutsFailingWebhooksFirst(t *testing.T) {
	c := startConsole(t)
	ok, bad := testkit.NewReceiver(t), testkit.NewReceiver(t)
	bad.FailFirst(1000, http.StatusGone)
	c.api(http.StatusCreated, "POST", "/v1/webhooks", map[string]any{"name": "CRM sync", "url": ok.URL, "event_types": []string{"task.created", "case.*"}})
	c.api(http.StatusCreated, "POST", "/v1/webhooks", map[string]any{"name": "Legacy ERP", "url": bad.URL, "event_types": []string{"task.created"}})
	flowID := serviceFlow(c, "assign-task")
	c.api(http.StatusCreated, "POST", "/v1/triggers", map[string]any{"name": "New task", "type": "on_event", "object": "task", "event": "created", "flow": flowID})
	for _, id := range []string{"task-1", "task-2", "task-3"} {
		c.api(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": id, "type": "task.created", "data": map[string]any{"task": map[string]any{"id": id}}})
	}
	testkit.Eventually(t, 30*time.Second, "deliveries settle", func() bool {
		return c.total("/v1/deliveries?status=succeeded") == 3 && c.total("/v1/deliveries?status=failed") == 3
	})
	c.open("")
	c.waitRow("Legacy ERP", "3")
	c.waitText("webhooks (2 enabled)")
	c.screenshot("overview")
	c.click("link", "Delivery log")
	c.find("heading", "Legacy ERP")
	c.waitRow("task-3", "FAILED", "410")

	c.click("link", "Events")
	c.waitRow("task-3", "1 succeeded", "1 failed")
	c.screenshot("events")
	c.click("link", "task-3")
	c.find("heading", "task-3")
	c.waitRow("legacy_erp", "FAILED")
	c.waitRow("New task")
	c.find("link", "Open in Temporal UI")
	c.screenshot("event-led-to")
}
