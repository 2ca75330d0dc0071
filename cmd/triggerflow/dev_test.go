package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/internal/testkit"
)

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func post(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestDevStackEndToEnd starts `triggerflow dev` in-process with a private
// PostgreSQL and a SQLite-file Temporal server with UI, checks readiness,
// auth, the OpenAPI document, the UI and a real delivery, then restarts the
// stack on the same data dir and finds its data again.
func TestDevStackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	dataDir, err := os.MkdirTemp("", "triggerflow-dev-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dataDir, 0o755) // the postgres user must enter it when tests run as root
	t.Cleanup(func() { os.RemoveAll(dataDir) })

	cfg := defaultConfig()
	cfg.DataDir = dataDir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TemporalPort = 0
	cfg.UIPort = -1
	cfg.LogLevel = "warn"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	stack, err := startDev(ctx, cfg, testkit.Logger())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			stack.Stop()
		}
	}()
	token := stack.AdminToken()
	if !strings.HasPrefix(token, "tf_admin_") {
		t.Fatalf("generated token = %q", token)
	}
	var banner strings.Builder
	printBanner(&banner, stack)
	for _, want := range []string{stack.APIURL, stack.UIURL, stack.TemporalURL, token, stack.APIURL + "/ui/#token=" + token} {
		if !strings.Contains(banner.String(), want) {
			t.Fatalf("banner lacks %q:\n%s", want, banner.String())
		}
	}

	if code, body := get(t, stack.APIURL+"/readyz", ""); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
	if code, _ := get(t, stack.APIURL+"/v1/webhooks", ""); code != 401 {
		t.Fatalf("no key: %d, want 401", code)
	}
	if code, _ := get(t, stack.APIURL+"/v1/webhooks", "wrong"); code != 401 {
		t.Fatalf("wrong key: %d, want 401", code)
	}
	code, body := get(t, stack.APIURL+"/openapi.json", "")
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if code != 200 || json.Unmarshal(body, &doc) != nil || doc.Paths["/v1/webhooks"] == nil {
		t.Fatalf("openapi %d %.200s", code, body)
	}
	if code, body := get(t, stack.UIURL+"/", ""); code != 200 || !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Fatalf("Temporal UI at %s: %d", stack.UIURL, code)
	}
	if code, _ := get(t, stack.APIURL+"/metrics", ""); code != 200 {
		t.Fatalf("metrics %d", code)
	}

	rc := testkit.NewReceiver(t)
	if code, body := post(t, stack.APIURL+"/v1/webhooks", token,
		`{"name":"dev hook","url":"`+rc.URL+`","event_types":["case.created"]}`); code != 201 {
		t.Fatalf("create webhook %d %s", code, body)
	}
	if code, body := post(t, stack.APIURL+"/v1/events", token, `{"id":"dev-1","type":"case.created","data":{"n":1}}`); code != 202 {
		t.Fatalf("publish %d %s", code, body)
	}
	rc.WaitFor(t, 1, 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, stack.APIURL+"/v1/events/dev-1", token)
		if strings.Contains(string(body), `"status":"succeeded"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery not recorded as succeeded: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// dev links deliveries to its own Temporal UI.
	if _, body := get(t, stack.APIURL+"/v1/events/dev-1", token); !strings.Contains(string(body),
		`"temporal_ui_url":"`+stack.UIURL+`/namespaces/default/workflows/`) {
		t.Fatalf("delivery lacks a link into %s: %s", stack.UIURL, body)
	}
	// The console is served without a key, and / leads to it.
	if code, body := get(t, stack.APIURL+"/", ""); code != 200 || !strings.Contains(string(body), `<base href="/ui/">`) {
		t.Fatalf("GET / (following the redirect to the console): %d %.200s", code, body)
	}

	apiAddr := strings.TrimPrefix(stack.APIURL, "http://")
	stack.Stop()
	stopped = true

	// Restart on the same data dir: definitions, events and Temporal's
	// history are still there, and the same generated token works.
	cfg.HTTPAddr = apiAddr
	stack, err = startDev(ctx, cfg, testkit.Logger())
	if err != nil {
		t.Fatal(err)
	}
	stopped = false
	if stack.AdminToken() != token {
		t.Fatal("token changed across restarts")
	}
	if code, body := get(t, stack.APIURL+"/v1/webhooks/dev_hook", token); code != 200 {
		t.Fatalf("webhook after restart: %d %s", code, body)
	}
	code, body = get(t, stack.APIURL+"/v1/events/dev-1", token)
	var ev struct {
		Deliveries []struct {
			Status     string `json:"status"`
			WorkflowID string `json:"workflow_id"`
		} `json:"deliveries"`
	}
	if code != 200 || json.Unmarshal(body, &ev) != nil || len(ev.Deliveries) != 1 || ev.Deliveries[0].Status != "succeeded" {
		t.Fatalf("event after restart: %d %s", code, body)
	}
	if _, err := stack.client.DescribeWorkflowExecution(ctx, ev.Deliveries[0].WorkflowID, ""); err != nil {
		t.Fatalf("the delivery's workflow is gone after restart: %v", err)
	}
	// A publish after the restart is delivered too.
	if code, body := post(t, stack.APIURL+"/v1/events", token, `{"id":"dev-2","type":"case.created"}`); code != 202 {
		t.Fatalf("publish after restart %d %s", code, body)
	}
	rc.WaitFor(t, 2, 30*time.Second)
}
