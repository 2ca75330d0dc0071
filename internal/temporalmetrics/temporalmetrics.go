// Package temporalmetrics exports the Temporal SDK's client and worker
// metrics (requests, polls, task latencies, slots, sticky cache, …) through
// the process's Prometheus registry, beside TriggerFlow's own, so one scrape
// of /metrics shows both. It implements the SDK's metrics handler directly
// on the Prometheus client.
//
// The SDK tags a metric differently depending on where it is emitted (a
// request from a worker carries the task queue, one from the API does not),
// while Prometheus wants one set of label names per metric. Samples are
// therefore kept here and turned into metrics at scrape time, each family
// with the union of the label names its samples carry ("" where a sample
// has none).
package temporalmetrics

import (
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// timerBuckets are the histogram buckets (seconds) of the SDK's timers:
// latencies from a millisecond to a minute.
var timerBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type kind int

const (
	counterKind kind = iota
	gaugeKind
	timerKind
)

type series struct {
	kind   kind
	labels map[string]string
	value  float64  // counter total or gauge value
	counts []uint64 // timer: per bucket (not cumulative)
	count  uint64
	sum    float64
}

// Collector holds the SDK's samples and reports them to Prometheus.
type Collector struct {
	mu     sync.Mutex
	series map[string]*series // name + sorted labels
	names  map[string]kind
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a handler for client.Options.MetricsHandler whose metrics reg
// gathers.
func New(reg prometheus.Registerer) client.MetricsHandler {
	c := &Collector{series: map[string]*series{}, names: map[string]kind{}}
	reg.MustRegister(c)
	return handler{c: c}
}

// Describe sends nothing: the collector is unchecked, since the SDK decides
// its metrics and their labels as it runs.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reports every series, one family per name.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byName := map[string][]*series{}
	for key, s := range c.series {
		name, _, _ := strings.Cut(key, "\x00")
		byName[name] = append(byName[name], s)
	}
	for name, list := range byName {
		keys := map[string]bool{}
		for _, s := range list {
			for k := range s.labels {
				keys[k] = true
			}
		}
		labelNames := make([]string, 0, len(keys))
		for k := range keys {
			labelNames = append(labelNames, k)
		}
		sort.Strings(labelNames)
		desc := prometheus.NewDesc(name, "Temporal SDK metric "+name+".", labelNames, nil)
		for _, s := range list {
			values := make([]string, len(labelNames))
			for i, k := range labelNames {
				values[i] = s.labels[k]
			}
			var m prometheus.Metric
			var err error
			switch s.kind {
			case counterKind:
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, s.value, values...)
			case gaugeKind:
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, s.value, values...)
			case timerKind:
				buckets := make(map[float64]uint64, len(timerBuckets))
				var cum uint64
				for i, b := range timerBuckets {
					cum += s.counts[i]
					buckets[b] = cum
				}
				m, err = prometheus.NewConstHistogram(desc, s.count, s.sum, buckets, values...)
			}
			if err == nil {
				ch <- m
			}
		}
	}
}

// find returns the series of name and labels, made on first use. A name the
// SDK used as another kind is kept apart with a suffix, so families stay
// one type each.
func (c *Collector) find(name string, labels map[string]string, k kind) *series {
	name = sanitize(name)
	if k == timerKind && !strings.HasSuffix(name, "_seconds") {
		name += "_seconds"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.names[name]; ok && prev != k {
		name += [...]string{"_counter", "_gauge", "_timer"}[k]
	}
	c.names[name] = k
	keys := make([]string, 0, len(labels))
	for key := range labels {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	for _, key := range keys {
		b.WriteString("\x00" + key + "=" + labels[key])
	}
	s := c.series[b.String()]
	if s == nil {
		s = &series{kind: k, labels: labels}
		if k == timerKind {
			s.counts = make([]uint64, len(timerBuckets))
		}
		c.series[b.String()] = s
	}
	return s
}

// sanitize makes a Prometheus metric or label name.
func sanitize(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && r >= '0' && r <= '9'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

type handler struct {
	c    *Collector
	tags map[string]string
}

func (h handler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[sanitize(k)] = v
	}
	return handler{c: h.c, tags: merged}
}

func (h handler) Counter(name string) client.MetricsCounter {
	s := h.c.find(name, h.tags, counterKind)
	return counterFunc(func(d int64) {
		h.c.mu.Lock()
		s.value += float64(d)
		h.c.mu.Unlock()
	})
}

func (h handler) Gauge(name string) client.MetricsGauge {
	s := h.c.find(name, h.tags, gaugeKind)
	return gaugeFunc(func(v float64) {
		h.c.mu.Lock()
		s.value = v
		h.c.mu.Unlock()
	})
}

func (h handler) Timer(name string) client.MetricsTimer {
	s := h.c.find(name, h.tags, timerKind)
	return timerFunc(func(d time.Duration) {
		secs := d.Seconds()
		i := sort.SearchFloat64s(timerBuckets, secs)
		h.c.mu.Lock()
		if i < len(timerBuckets) {
			s.counts[i]++
		}
		s.count++
		if !math.IsNaN(secs) {
			s.sum += secs
		}
		h.c.mu.Unlock()
	})
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
