// Package dbgauges computes gauges from PostgreSQL when Prometheus scrapes:
// pending deliveries and the oldest pending delivery's age per webhook, the
// depth of each ordered webhook's queue, publish batches not yet handed to
// Temporal, and the last day's runs by trigger and status. The worker
// process registers it. A scrape reads at most once per MinInterval (later
// scrapes get the same values) and waits at most Timeout, so frequent or
// concurrent scrapes cost the database one set of indexed queries.
package dbgauges

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triggerflow/triggerflow/store"
)

var (
	pendingDesc = prometheus.NewDesc("triggerflow_deliveries_pending",
		"Deliveries waiting for their first success or their end, by webhook code.", []string{"webhook"}, nil)
	oldestDesc = prometheus.NewDesc("triggerflow_delivery_oldest_pending_age_seconds",
		"Age of each webhook's oldest pending delivery.", []string{"webhook"}, nil)
	orderedDesc = prometheus.NewDesc("triggerflow_ordered_queue_depth",
		"Pending deliveries queued behind each ordered webhook's head.", []string{"webhook"}, nil)
	undispatchedDesc = prometheus.NewDesc("triggerflow_publish_batches_undispatched",
		"Publish batches committed but not yet handed to Temporal.", nil, nil)
	undispatchedAgeDesc = prometheus.NewDesc("triggerflow_publish_batch_oldest_undispatched_age_seconds",
		"Age of the oldest publish batch not yet handed to Temporal (0 when none).", nil, nil)
	runsDesc = prometheus.NewDesc("triggerflow_runs_last_24h",
		"Runs started in the last 24 hours by trigger (or qh:<queue hook>) and status.", []string{"trigger", "status"}, nil)
	upDesc = prometheus.NewDesc("triggerflow_db_gauges_up",
		"1 when the last computation of the database gauges succeeded.", nil, nil)
)

// Collector is the gauges' prometheus.Collector.
type Collector struct {
	Stats       *store.Stats
	Log         *slog.Logger
	MinInterval time.Duration
	Timeout     time.Duration

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a collector over stats with a 15 s minimum interval and a 5 s
// timeout.
func New(stats *store.Stats, log *slog.Logger) *Collector {
	return &Collector{Stats: stats, Log: log, MinInterval: 15 * time.Second, Timeout: 5 * time.Second}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pendingDesc, oldestDesc, orderedDesc, undispatchedDesc, undispatchedAgeDesc, runsDesc, upDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.metrics == nil || time.Since(c.at) >= c.MinInterval {
		c.metrics = c.compute()
		c.at = time.Now()
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *Collector) compute() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	fail := func(err error) []prometheus.Metric {
		if c.Log != nil {
			c.Log.Warn("database gauges", "error", err)
		}
		return []prometheus.Metric{prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)}
	}
	backlogs, err := c.Stats.Backlogs(ctx)
	if err != nil {
		return fail(err)
	}
	for _, b := range backlogs {
		gauge(pendingDesc, float64(b.Pending), b.Code)
		gauge(oldestDesc, b.Oldest.Seconds(), b.Code)
		if b.Ordered > 0 {
			gauge(orderedDesc, float64(b.Ordered), b.Code)
		}
	}
	n, age, err := c.Stats.Undispatched(ctx)
	if err != nil {
		return fail(err)
	}
	gauge(undispatchedDesc, float64(n))
	gauge(undispatchedAgeDesc, age.Seconds())
	runs, err := c.Stats.RecentRuns(ctx)
	if err != nil {
		return fail(err)
	}
	for _, r := range runs {
		gauge(runsDesc, float64(r.Count), r.Trigger, r.Status)
	}
	gauge(upDesc, 1)
	return out
}
