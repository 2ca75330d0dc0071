//go:build !fuzzsmoke

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/triggerflow/triggerflow/internal/dbgauges"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// TestWorkerServesHealthReadinessAndMetrics runs the worker's HTTP port as
// runWorker does, with a Temporal client made by dialTemporal: /metrics has
// the build info, the Temporal SDK's own metrics (after the client's first
// calls) and the gauges read from PostgreSQL; /readyz names a failing
// dependency "unavailable" without its error.
func TestWorkerServesHealthReadinessAndMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := defaultConfig()
	cfg.TemporalAddress, cfg.TemporalNamespace = testkit.TemporalAddress(t), testkit.TemporalNamespace(t)
	cfg.SecretKey = strings.Repeat("4d", 32)
	log := testkit.Logger()
	reg := newRegistry()
	tc, err := dialTemporal(ctx, cfg, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	db := testkit.DB(t)
	if _, err := db.Exec(`INSERT INTO publish_batches (id, created_at) VALUES ('bat_stuck', now() - interval '1 minute')`); err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(dbgauges.New(&store.Stats{DB: db}, log))
	addr, err := serveWorkerHTTP(ctx, "127.0.0.1:0", workerHTTPHandler(db, tc, cfg.TemporalNamespace, reg, log), log)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	code, metrics := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{`triggerflow_build_info{goversion="`, "temporal_request", "triggerflow_db_gauges_up 1",
		"triggerflow_publish_batches_undispatched 1", "triggerflow_publish_batch_oldest_undispatched_age_seconds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// PostgreSQL gone: not ready, and the error stays in the log.
	bad := testkit.DB(t)
	bad.Close()
	addr2, err := serveWorkerHTTP(ctx, "127.0.0.1:0", workerHTTPHandler(bad, tc, cfg.TemporalNamespace, newRegistry(), log), log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr2 + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	if resp.StatusCode != http.StatusServiceUnavailable || ready.Checks["postgres"] != "unavailable" || ready.Checks["temporal"] != "ok" {
		t.Fatalf("/readyz with PostgreSQL closed: %d %+v", resp.StatusCode, ready)
	}
}
