//go:build !fuzzsmoke

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"gopkg.in/yaml.v3"

	"github.com/triggerflow/triggerflow/apiserver"
	"github.com/triggerflow/triggerflow/internal/dbgauges"
	"github.com/triggerflow/triggerflow/internal/deliverymetrics"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// exportedMetricNames runs every metric source the binary has — the
// registry with build info, the API's HTTP metrics, the delivery metrics,
// the database gauges and a Temporal client's SDK metrics (a call that
// succeeds and one that fails) — and gathers the names.
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	ctx := context.Background()
	reg := newRegistry()
	db := testkit.DB(t)
	hs := httptest.NewServer(apiserver.New(apiserver.Options{DB: db, Metrics: reg, Logger: testkit.Logger()}).Handler())
	defer hs.Close()
	if resp, err := http.Get(hs.URL + "/healthz"); err == nil {
		resp.Body.Close()
	}
	m := deliverymetrics.New(reg)
	m.Delivered("hook", deliverymetrics.DeliverySucceeded)
	m.Attempted("hook", deliverymetrics.AttemptSuccess, time.Millisecond)
	m.FirstAttempt("hook", time.Millisecond)
	if _, err := db.Exec(`INSERT INTO webhooks (id, code, name, url, event_types, retry, secret, ordered)
		VALUES ('wh_1', 'hook', 'Hook', 'http://x', '{case.created}', '{}', 's', true);
		INSERT INTO publish_batches (id) VALUES ('bat_1');
		INSERT INTO events (id, type, occurred_at, data, batch_id) VALUES ('e1', 'case.created', now(), '{}', 'bat_1');
		INSERT INTO deliveries (id, webhook_id, event_id, batch_id, ordered) VALUES ('msg_1', 'wh_1', 'e1', 'bat_1', true);
		INSERT INTO trigger_runs (id, trigger_id, workflow_id) VALUES ('run_1', 'trg_1', 'wf_1')`); err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(dbgauges.New(&store.Stats{DB: db}, testkit.Logger()))
	cfg := defaultConfig()
	cfg.TemporalAddress, cfg.TemporalNamespace, cfg.SecretKey = testkit.TemporalAddress(t), testkit.TemporalNamespace(t), strings.Repeat("4e", 32)
	tc, err := dialTemporal(ctx, cfg, testkit.Logger(), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	_, _ = tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "no-such-namespace"})

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	return names
}

// TestDeployFilesUseMetricsTheBinaryExports: every metric the Grafana
// dashboard and the Prometheus alert rules in deploy/ read is one the binary
// exports, and docker-compose mounts files that exist.
func TestDeployFilesUseMetricsTheBinaryExports(t *testing.T) {
	names := exportedMetricNames(t)
	metricRef := regexp.MustCompile(`\b(?:triggerflow|temporal)_[a-z0-9_]+`)
	check := func(where, expr string) {
		refs := metricRef.FindAllString(expr, -1)
		if len(refs) == 0 && !strings.Contains(expr, "up{") {
			t.Errorf("%s: %q reads no TriggerFlow metric", where, expr)
		}
		for _, ref := range refs {
			base := ref
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if strings.HasSuffix(ref, suffix) && names[strings.TrimSuffix(ref, suffix)] {
					base = strings.TrimSuffix(ref, suffix)
				}
			}
			if !names[base] {
				t.Errorf("%s reads %s, which the binary does not export", where, ref)
			}
		}
	}

	raw, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts++
			check("alert "+r.Alert, r.Expr)
		}
	}

	raw, err = os.ReadFile("../../deploy/grafana/dashboards/triggerflow.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
	if alerts < 5 || len(dash.Panels) < 10 {
		t.Fatalf("%d alerts, %d panels", alerts, len(dash.Panels))
	}

	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`- \./(deploy/[^:]+):`).FindAllStringSubmatch(string(compose), -1) {
		if _, err := os.Stat("../../" + m[1]); err != nil {
			t.Errorf("docker-compose.yml mounts %s: %v", m[1], err)
		}
	}
}
