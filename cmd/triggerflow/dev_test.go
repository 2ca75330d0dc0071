package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/triggerflow/triggerflow/internal/payloadcodec"
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
	// The delivery's workflow input is encrypted in Temporal; the embedded
	// UI decodes it through the API's codec endpoint, keyless from its own
	// origin only.
	if code, body := get(t, stack.UIURL+"/api/v1/settings", ""); code != 200 || !strings.Contains(string(body), "http://"+apiAddr+"/codec") {
		t.Fatalf("Temporal UI's codec setting: %d %s", code, body)
	}
	hist, err := stack.client.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: cfg.TemporalNamespace, Execution: &commonpb.WorkflowExecution{WorkflowId: ev.Deliveries[0].WorkflowID}})
	if err != nil {
		t.Fatal(err)
	}
	input := hist.GetHistory().GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	if len(input.GetPayloads()) == 0 || string(input.GetPayloads()[0].GetMetadata()["encoding"]) != payloadcodec.EncodingEncrypted {
		t.Fatalf("workflow input is not encrypted: %v", input)
	}
	encoded, _ := protojson.Marshal(input)
	decode := func(origin string) (int, []byte) {
		req, _ := http.NewRequest("POST", stack.APIURL+"/codec/decode", strings.NewReader(string(encoded)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body = decode(stack.UIURL)
	var decoded commonpb.Payloads
	if code != 200 || protojson.Unmarshal(body, &decoded) != nil || len(decoded.Payloads) == 0 ||
		string(decoded.Payloads[0].GetMetadata()["encoding"]) == payloadcodec.EncodingEncrypted {
		t.Fatalf("decode from the UI's origin: %d %s", code, body)
	}
	if code, _ := decode("http://evil.example"); code != http.StatusUnauthorized {
		t.Fatalf("decode from another origin without a key: %d", code)
	}
	// A publish after the restart is delivered too.
	if code, body := post(t, stack.APIURL+"/v1/events", token, `{"id":"dev-2","type":"case.created"}`); code != 202 {
		t.Fatalf("publish after restart %d %s", code, body)
	}
	rc.WaitFor(t, 2, 30*time.Second)
}

// TestDevStackStartsBelowA0700ParentAsRoot is `make run` from a clone in
// root's 0700 home: PostgreSQL must run as the postgres user, which cannot
// traverse the home, so the cluster lives under the reachable root and the
// data dir links to it; a restart finds the same data.
func TestDevStackStartsBelowA0700ParentAsRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	if os.Geteuid() != 0 {
		t.Skip("only root runs PostgreSQL as another user")
	}
	home, err := os.MkdirTemp("", "triggerflow-0700-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	pgRoot, err := os.MkdirTemp("", "triggerflow-pg-root-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(pgRoot, 0o755)
	t.Cleanup(func() { os.RemoveAll(pgRoot) })

	cfg := defaultConfig()
	cfg.DataDir = filepath.Join(home, "triggerflow", ".triggerflow")
	cfg.PostgresRoot = filepath.Join(pgRoot, "var", "lib", "triggerflow")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TemporalPort = 0
	cfg.UIPort = 0
	cfg.LogLevel = "warn"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	stack, err := startDev(ctx, cfg, testkit.Logger())
	if err != nil {
		t.Fatalf("dev stack below a 0700 parent: %v", err)
	}
	defer func() { stack.Stop() }()
	if code, body := get(t, stack.APIURL+"/readyz", ""); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
	cluster, err := os.Readlink(filepath.Join(cfg.DataDir, "postgres"))
	if err != nil || !strings.HasPrefix(cluster, cfg.PostgresRoot+string(filepath.Separator)) || stack.pg.Dir() != cluster {
		t.Fatalf("cluster link %q (%v), handle says %q; want a directory under %s", cluster, err, stack.pg.Dir(), cfg.PostgresRoot)
	}
	var banner strings.Builder
	printBanner(&banner, stack)
	if !strings.Contains(banner.String(), cluster) {
		t.Fatalf("banner does not say where the cluster lives:\n%s", banner.String())
	}
	token := stack.AdminToken()
	if code, body := post(t, stack.APIURL+"/v1/webhooks", token,
		`{"name":"home hook","url":"http://127.0.0.1:9/x","event_types":["case.created"]}`); code != 201 {
		t.Fatalf("create webhook %d %s", code, body)
	}
	stack.Stop()

	stack, err = startDev(ctx, cfg, testkit.Logger())
	if err != nil {
		t.Fatalf("restart below a 0700 parent: %v", err)
	}
	if code, body := get(t, stack.APIURL+"/v1/webhooks/home_hook", token); code != 200 {
		t.Fatalf("webhook after restart: %d %s", code, body)
	}
	if stack.pg.Dir() != cluster {
		t.Fatalf("restart used cluster %s, first start %s", stack.pg.Dir(), cluster)
	}
}

// TestDevStackStartupFailuresSayWhatToDo: a start that fails early or late
// returns a *startupError with the cause and a hint — never a panic — and
// stops what had already started.
func TestDevStackStartupFailuresSayWhatToDo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts most of the stack")
	}
	base, err := os.MkdirTemp("", "triggerflow-dev-fail-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755) // the postgres user must enter it when tests run as root
	t.Cleanup(func() { os.RemoveAll(base) })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	startFailing := func(t *testing.T, cfg Config) *startupError {
		t.Helper()
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("startDev panicked: %v", p)
			}
		}()
		stack, err := startDev(ctx, cfg, testkit.Logger())
		if err == nil {
			stack.Stop()
			t.Fatal("startDev succeeded")
		}
		var se *startupError
		if !errors.As(err, &se) || se.Hint == "" || !strings.Contains(err.Error(), "hint: "+se.Hint) {
			t.Fatalf("error without a hint: %v", err)
		}
		return se
	}

	t.Run("data dir is a file", func(t *testing.T) {
		file := filepath.Join(base, "not-a-dir")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := defaultConfig()
		cfg.DataDir = file
		se := startFailing(t, cfg)
		if !strings.Contains(se.Hint, "--data-dir") {
			t.Fatalf("hint does not say how to choose another data dir: %v", se)
		}
	})

	t.Run("API address taken", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		cfg := defaultConfig()
		cfg.DataDir = filepath.Join(base, "data")
		cfg.HTTPAddr = taken.Addr().String()
		cfg.TemporalPort = 0
		cfg.UIPort = 0
		cfg.LogLevel = "warn"
		se := startFailing(t, cfg)
		if !strings.Contains(se.Error(), taken.Addr().String()) || !strings.Contains(se.Hint, "--http-addr") {
			t.Fatalf("error does not name the address and the flag: %v", se)
		}
		// The private PostgreSQL started before the API failed: it was stopped.
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "postgres", "data", "postmaster.pid")); !os.IsNotExist(err) {
			t.Fatalf("PostgreSQL still running after the failed start: %v", err)
		}
	})
}
