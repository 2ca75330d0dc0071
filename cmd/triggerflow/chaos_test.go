package main

// Fault tests ("Chaos…"): the worker as a separate OS process is SIGKILLed
// mid-delivery and restarted, the whole dev stack is restarted with retries,
// an ordered backlog and a schedule pending, and PostgreSQL is stopped under
// load. Each proves a promise listed in the README's "Guarantees".

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/internal/devstack"
	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// apiCall calls the API; safe from any goroutine (it never fails the test).
func apiCall(base, token, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// mustAPI calls the API and fails the test unless it answers want.
func mustAPI(t *testing.T, base, token string, want int, method, path string, body any) map[string]any {
	t.Helper()
	code, raw, err := apiCall(base, token, method, path, body)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %v %.300s (want %d)", method, path, code, err, raw, want)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// eventIDOf is the event id a receiver got in the path /e/<id>.
func eventIDOf(r testkit.Received) string { return strings.TrimPrefix(r.Path, "/e/") }

// firstReceipts lists distinct event ids in the order they first arrived.
func firstReceipts(reqs []testkit.Received) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range reqs {
		if id := eventIDOf(r); !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// deliveryCounts is how many deliveries a webhook has, by status.
func deliveryCounts(t *testing.T, db *sqlx.DB, webhookID string) map[string]int {
	t.Helper()
	rows, err := db.Query(`SELECT status, count(*) FROM deliveries WHERE webhook_id = $1 GROUP BY status`, webhookID)
	if err != nil {
		t.Logf("count deliveries: %v", err)
		return nil
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err == nil {
			out[s] = n
		}
	}
	return out
}

// assertAllSucceededAndLogged checks every delivery of the webhook succeeded
// and has its successful attempt in the log.
func assertAllSucceededAndLogged(t *testing.T, db *sqlx.DB, webhookID string, n int) {
	t.Helper()
	var bad int
	err := db.Get(&bad, `SELECT count(*) FROM deliveries d WHERE d.webhook_id = $1 AND (d.status <> 'succeeded'
		OR NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id AND a.result = 'SUCCESS'))`, webhookID)
	if err != nil {
		t.Fatal(err)
	}
	var total int
	if err := db.Get(&total, `SELECT count(*) FROM deliveries WHERE webhook_id = $1`, webhookID); err != nil {
		t.Fatal(err)
	}
	if total != n || bad != 0 {
		t.Fatalf("%d deliveries (want %d), %d not succeeded with a logged SUCCESS attempt", total, n, bad)
	}
}

// splitStack is PostgreSQL (testkit), an embedded Temporal server on a TCP
// port, and the API in this process; workers run as separate OS processes.
type splitStack struct {
	dbURL    string
	db       *sqlx.DB
	temporal *devstack.Temporal
	client   client.Client
	apiURL   string
	token    string
	key      string
}

func startSplitStack(t *testing.T) *splitStack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := &splitStack{dbURL: testkit.DatabaseURL(t), token: "chaos-token"}
	var err error
	if s.key, err = secretbox.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	if s.db, err = store.Open(ctx, s.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	s.temporal, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{
		SearchAttributes: workflows.SearchAttributes(), Logger: testkit.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.temporal.Stop() })
	log := testkit.Logger()
	cfg := defaultConfig()
	cfg.DatabaseURL, cfg.HTTPAddr, cfg.AdminToken, cfg.SecretKey = s.dbURL, "127.0.0.1:0", s.token, s.key
	cfg.TemporalAddress, cfg.TemporalNamespace = s.temporal.Address(), s.temporal.Namespace()
	if s.client, err = dialTemporal(ctx, cfg, log, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.Close)
	api, err := startAPI(context.Background(), cfg, s.db, s.client, log, newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Stop)
	s.apiURL = "http://" + api.Addr
	return s
}

// startWorkerProcess runs `triggerflow worker` (this test binary, see
// TestMain) as a separate OS process against the stack.
func (s *splitStack) startWorkerProcess(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envChaosWorker+"=1",
		"DATABASE_URL="+s.dbURL,
		"TEMPORAL_ADDRESS="+s.temporal.Address(),
		"TEMPORAL_NAMESPACE="+s.temporal.Namespace(),
		"TRIGGERFLOW_EGRESS_ALLOW=127.0.0.0/8",
		"TRIGGERFLOW_LOG_LEVEL=warn",
		"TRIGGERFLOW_SECRET_KEY="+s.key,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s log (tail):\n%s", name, b)
		}
	})
	return cmd
}

// startSlowReceiverStack starts a split stack, a receiver answering 200
// after delay, and a first worker process, for the worker-kill tests.
func startSlowReceiverStack(t *testing.T, delay time.Duration) (*splitStack, *testkit.Receiver, *exec.Cmd) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs worker processes")
	}
	s := startSplitStack(t)
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 200, Delay: delay}
	})
	return s, rc, s.startWorkerProcess(t, "worker-1")
}

// killWorker SIGKILLs a worker process: no graceful stop, no recorded attempts.
func killWorker(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// publishN publishes events k-0 … k-(n-1) of type case.created in batches, in
// order, and fails unless every batch is accepted (202).
func publishN(t *testing.T, base, token, prefix string, n, batch int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i += batch {
		var evs []map[string]any
		for j := i; j < min(n, i+batch); j++ {
			id := fmt.Sprintf("%s-%04d", prefix, j)
			ids = append(ids, id)
			evs = append(evs, map[string]any{"id": id, "type": "case.created", "data": map[string]any{"n": j}})
		}
		mustAPI(t, base, token, 202, "POST", "/v1/events", map[string]any{"events": evs})
	}
	return ids
}

// TestChaosWorkerKilledMidDeliveryUnordered: the worker process is SIGKILLed
// while a slow receiver has deliveries in flight and a new worker process is
// started: every event reaches the receiver at least once, every delivery
// ends succeeded and its successful attempt is logged.
func TestChaosWorkerKilledMidDeliveryUnordered(t *testing.T) {
	s, rc, w1 := startSlowReceiverStack(t, 200*time.Millisecond)
	hook := mustAPI(t, s.apiURL, s.token, 201, "POST", "/v1/webhooks", map[string]any{
		"name": "chaos unordered", "url": rc.URL + "/e/{{ event.id }}", "event_types": []string{"case.created"},
		"retry": map[string]any{"initial_interval": "1s", "max_attempts": 10},
	})
	const n = 300
	ids := publishN(t, s.apiURL, s.token, "u", n, 50)

	rc.WaitFor(t, 60, 30*time.Second)
	killWorker(t, w1)
	atKill := len(firstReceipts(rc.Requests()))
	s.startWorkerProcess(t, "worker-2")

	testkit.Eventually(t, 50*time.Second, "every delivery succeeded after the worker was killed", func() bool {
		return deliveryCounts(t, s.db, hook["id"].(string))["succeeded"] == n
	})
	got := firstReceipts(rc.Requests())
	seen := map[string]bool{}
	for _, id := range got {
		seen[id] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("event %s never reached the receiver", id)
		}
	}
	assertAllSucceededAndLogged(t, s.db, hook["id"].(string), n)
	t.Logf("%d distinct events at the kill, %d requests in all for %d events", atKill, rc.Count(), n)
}

// TestChaosWorkerKilledMidInlineRuns: the worker process is SIGKILLed while
// the runs a publish planned make their first try inline (one batch run
// workflow per group, one activity for all its runs) and a new worker is
// started: every run ends succeeded and every event reached the receiver.
func TestChaosWorkerKilledMidInlineRuns(t *testing.T) {
	s, rc, w1 := startSlowReceiverStack(t, 200*time.Millisecond)
	mustAPI(t, s.apiURL, s.token, 201, "POST", "/v1/flows", map[string]any{"name": "chaos flow", "steps": []any{
		map[string]any{"name": "call", "action": "http.request", "params": map[string]any{"url": rc.URL + "/e/{{ event.id }}"}},
	}})
	trigger := mustAPI(t, s.apiURL, s.token, 201, "POST", "/v1/triggers", map[string]any{
		"name": "chaos runs", "type": "on_event", "flow": "chaos flow", "object": "case", "event": "created", "timeout": "5m",
	})
	const n = 150
	ids := publishN(t, s.apiURL, s.token, "r", n, 50)

	rc.WaitFor(t, 30, 30*time.Second)
	killWorker(t, w1)
	s.startWorkerProcess(t, "worker-2")

	statuses := func() map[string]int {
		var rows []struct {
			Status string `db:"status"`
			N      int    `db:"n"`
		}
		if err := s.db.Select(&rows, `SELECT status, count(*) AS n FROM trigger_runs WHERE trigger_id = $1 GROUP BY status`,
			trigger["id"]); err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, r := range rows {
			out[r.Status] = r.N
		}
		return out
	}
	testkit.Eventually(t, 60*time.Second, "every run succeeded after the worker was killed", func() bool {
		return statuses()["succeeded"] == n
	})
	if st := statuses(); len(st) != 1 {
		t.Fatalf("run statuses %v, want only %d succeeded", st, n)
	}
	seen := map[string]bool{}
	for _, id := range firstReceipts(rc.Requests()) {
		seen[id] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("the run of event %s never reached the receiver", id)
		}
	}
	t.Logf("%d requests in all for %d runs", rc.Count(), n)
}

// TestChaosWorkerKilledMidDeliveryOrdered: the same for an ordered webhook;
// the first successful receipts keep publish order.
func TestChaosWorkerKilledMidDeliveryOrdered(t *testing.T) {
	s, rc, w1 := startSlowReceiverStack(t, 100*time.Millisecond)
	hook := mustAPI(t, s.apiURL, s.token, 201, "POST", "/v1/webhooks", map[string]any{
		"name": "chaos ordered", "url": rc.URL + "/e/{{ event.id }}", "event_types": []string{"case.created"},
		"ordered": true, "retry": map[string]any{"initial_interval": "1s", "max_attempts": 10},
	})
	const n = 120
	ids := publishN(t, s.apiURL, s.token, "o", n, 20)

	rc.WaitFor(t, 30, 30*time.Second)
	killWorker(t, w1)
	s.startWorkerProcess(t, "worker-2")

	testkit.Eventually(t, 50*time.Second, "every ordered delivery succeeded after the worker was killed", func() bool {
		return deliveryCounts(t, s.db, hook["id"].(string))["succeeded"] == n
	})
	got := firstReceipts(rc.Requests())
	if len(got) != n {
		t.Fatalf("%d distinct events received, want %d", len(got), n)
	}
	if !sort.StringsAreSorted(got) || strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("first receipts out of publish order: %v", got)
	}
	assertAllSucceededAndLogged(t, s.db, hook["id"].(string), n)
	t.Logf("%d requests in all for %d ordered events", rc.Count(), n)
}
