package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/internal/devstack"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/workflows"
)

// devDataDir is a temporary data dir the postgres user can enter.
func devDataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "triggerflow-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func devTestConfig(dataDir string) Config {
	cfg := defaultConfig()
	cfg.DataDir = dataDir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TemporalPort = 0
	cfg.UIPort = 0
	cfg.LogLevel = "warn"
	return cfg
}

// switchable answers 503 until up is set, then 200, and remembers the event
// ids it answered 200 to, in order.
type switchable struct {
	up       atomic.Bool
	mu       sync.Mutex
	succeded []string
}

func (s *switchable) script(_ int, r testkit.Received) testkit.Response {
	if !s.up.Load() {
		return testkit.Response{Status: 503}
	}
	s.mu.Lock()
	s.succeded = append(s.succeded, eventIDOf(r))
	s.mu.Unlock()
	return testkit.Response{Status: 200}
}

func (s *switchable) successes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.succeded...)
}

// TestChaosDevStackRestartKeepsPendingWork stops the whole dev stack while a
// delivery waits for its next retry, an ordered webhook's backlog is held by
// a failing head and an At Time trigger has a schedule; after a restart on
// the same data dir, with the receivers healthy again, the retry completes,
// the ordered backlog drains in publish order and the schedule is still there.
func TestChaosDevStackRestartKeepsPendingWork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack twice")
	}
	dataDir := devDataDir(t)
	cfg := devTestConfig(dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stack, err := startDev(ctx, cfg, testkit.Logger())
	if err != nil {
		t.Fatal(err)
	}
	running := true
	defer func() {
		if running {
			stack.Stop()
		}
	}()
	api, token := stack.APIURL, stack.AdminToken()

	retryRc, orderedRc := testkit.NewReceiver(t), testkit.NewReceiver(t)
	var retrySw, orderedSw switchable
	retryRc.Script(retrySw.script)
	orderedRc.Script(orderedSw.script)
	policy := map[string]any{"initial_interval": "3s", "backoff": 1, "max_attempts": 10}
	retryHook := mustAPI(t, api, token, 201, "POST", "/v1/webhooks", map[string]any{
		"name": "restart retry", "url": retryRc.URL + "/e/{{ event.id }}", "event_types": []string{"case.updated"}, "retry": policy})
	orderedHook := mustAPI(t, api, token, 201, "POST", "/v1/webhooks", map[string]any{
		"name": "restart ordered", "url": orderedRc.URL + "/e/{{ event.id }}", "event_types": []string{"case.created"},
		"ordered": true, "retry": policy})
	mustAPI(t, api, token, 201, "POST", "/v1/flows", map[string]any{"name": "chaos-flow", "type": "service",
		"steps": []map[string]any{{"name": "say", "action": "log", "params": map[string]any{"message": "tick"}}}})
	trig := mustAPI(t, api, token, 201, "POST", "/v1/triggers", map[string]any{"name": "Chaos morning", "type": "at_time",
		"flow": "chaos-flow", "expression": "0 9 * * 1-5", "timezone": "Europe/Kyiv"})

	mustAPI(t, api, token, 202, "POST", "/v1/events", `{"id":"retry-1","type":"case.updated"}`)
	var ordered []string
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("ord-%d", i)
		ordered = append(ordered, id)
		mustAPI(t, api, token, 202, "POST", "/v1/events", `{"id":"`+id+`","type":"case.created"}`)
	}
	// The retry has failed once and waits on a durable timer; the ordered
	// head has failed and holds the five behind it.
	retryRc.WaitFor(t, 1, 30*time.Second)
	orderedRc.WaitFor(t, 1, 30*time.Second)
	for _, r := range orderedRc.Requests() {
		if eventIDOf(r) != "ord-0" {
			t.Fatalf("ordered webhook sent %s while its head was failing", eventIDOf(r))
		}
	}

	apiAddr := strings.TrimPrefix(api, "http://")
	stack.Stop()
	running = false
	retrySw.up.Store(true)
	orderedSw.up.Store(true)
	before := retryRc.Count() + orderedRc.Count()

	cfg.HTTPAddr = apiAddr
	if stack, err = startDev(ctx, cfg, testkit.Logger()); err != nil {
		t.Fatal(err)
	}
	running = true
	testkit.Eventually(t, 40*time.Second, "pending retry and ordered backlog finished after the restart", func() bool {
		return deliveryCounts(t, stack.db, retryHook["id"].(string))["succeeded"] == 1 &&
			deliveryCounts(t, stack.db, orderedHook["id"].(string))["succeeded"] == len(ordered)
	})
	if got := orderedSw.successes(); strings.Join(got, ",") != strings.Join(ordered, ",") {
		t.Fatalf("ordered successes %v, want %v", got, ordered)
	}
	if got := retrySw.successes(); len(got) != 1 || got[0] != "retry-1" {
		t.Fatalf("retry successes %v", got)
	}
	if retryRc.Count()+orderedRc.Count() <= before {
		t.Fatal("nothing was sent after the restart")
	}
	// The schedule survived: the API reads it from Temporal, and Temporal
	// describes it.
	tr := mustAPI(t, api, token, 200, "GET", "/v1/triggers/"+trig["id"].(string), nil)
	if runs, _ := tr["next_runs"].([]any); len(runs) == 0 {
		t.Fatalf("trigger after restart has no next runs: %v", tr)
	}
	if sch, _ := tr["schedule"].(map[string]any); sch != nil && sch["state"] != "active" {
		t.Fatalf("schedule after restart: %v", sch)
	}
	desc, err := stack.client.ScheduleClient().GetHandle(ctx, workflows.TriggerScheduleID(trig["id"].(string))).Describe(ctx)
	if err != nil || len(desc.Info.NextActionTimes) == 0 {
		t.Fatalf("Temporal schedule after restart: %v %+v", err, desc)
	}
}

// TestChaosPostgresOutage stops PostgreSQL under a running stack: publishing
// answers 503 (never 202) while it is down; deliveries in flight, whose
// attempt records cannot be written, retry until it is back; afterwards every
// event accepted before the outage is delivered and recorded.
func TestChaosPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	dataDir := devDataDir(t)
	cfg := devTestConfig(dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stack, err := startDev(ctx, cfg, testkit.Logger())
	if err != nil {
		t.Fatal(err)
	}
	var pg *devstack.Postgres
	defer func() {
		stack.Stop() // before PostgreSQL, so no activity fails on the way out
		_ = pg.Stop(context.Background())
	}()
	api, token := stack.APIURL, stack.AdminToken()
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 200, Delay: 300 * time.Millisecond}
	})
	hook := mustAPI(t, api, token, 201, "POST", "/v1/webhooks", map[string]any{
		"name": "pg outage", "url": rc.URL + "/e/{{ event.id }}", "event_types": []string{"case.created"},
		"retry": map[string]any{"initial_interval": "1s", "backoff": 1, "max_attempts": 30}})
	ordHook := mustAPI(t, api, token, 201, "POST", "/v1/webhooks", map[string]any{
		"name": "pg outage ordered", "url": rc.URL + "/e/{{ event.id }}", "event_types": []string{"case.created"},
		"ordered": true, "retry": map[string]any{"initial_interval": "1s", "backoff": 1, "max_attempts": 30}})

	// Accepted right before the stop: the deliveries are in flight (the
	// receiver takes 300 ms) when PostgreSQL goes away.
	accepted := publishN(t, api, token, "pg", 40, 10)
	rc.WaitFor(t, 1, 20*time.Second)
	pgPort := stack.pg.Port()
	if err := stack.pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// While it is down, publishing never answers 202.
	refused := 0
	for i := 0; i < 5; i++ {
		code, body, err := apiCall(api, token, "POST", "/v1/events", fmt.Sprintf(`{"id":"down-%d","type":"case.created"}`, i))
		if err != nil {
			t.Fatal(err)
		}
		if code != 503 {
			t.Fatalf("publish with PostgreSQL down: %d %s, want 503", code, body)
		}
		refused++
	}
	time.Sleep(2 * time.Second) // attempts finish and fail to record meanwhile

	pg, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: filepath.Join(dataDir, "postgres"), Port: pgPort, Logger: testkit.Logger()})
	if err != nil {
		t.Fatal(err)
	}

	// Batches whose hand-over the outage interrupted stay claimed by their
	// publisher for its lease (20 s); the sweep (every 5 s) then hands
	// them over, and interrupted activities retry with backoff.
	testkit.Eventually(t, 75*time.Second, "every event accepted before the outage delivered and recorded", func() bool {
		return deliveryCounts(t, stack.db, hook["id"].(string))["succeeded"] == len(accepted) &&
			deliveryCounts(t, stack.db, ordHook["id"].(string))["succeeded"] == len(accepted)
	})
	assertAllSucceededAndLogged(t, stack.db, hook["id"].(string), len(accepted))
	assertAllSucceededAndLogged(t, stack.db, ordHook["id"].(string), len(accepted))
	seen := map[string]int{}
	for _, r := range rc.Requests() {
		seen[eventIDOf(r)]++
	}
	for _, id := range accepted {
		if seen[id] < 2 {
			t.Fatalf("event %s reached the receiver %d times, want at least once per webhook", id, seen[id])
		}
	}
	// Publishing works again.
	mustAPI(t, api, token, 202, "POST", "/v1/events", `{"id":"after-outage","type":"case.created"}`)
	rc.WaitFor(t, 1, 10*time.Second)
	t.Logf("%d publishes refused with 503 during the outage; %d requests in all", refused, rc.Count())
}
