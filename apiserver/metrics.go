package apiserver

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics counts requests by route template (never by raw path, which
// would explode label cardinality with ids).
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// rateLimited counts events refused by the per-key publish limit.
	rateLimited prometheus.Counter
}

// knownMethods are the methods the method label takes; any other becomes
// "other", so a client inventing methods cannot grow the series.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "other"
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triggerflow_http_requests_total",
			Help: "API requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "triggerflow_http_request_duration_seconds",
			Help:    "API request latency by method and route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"method", "route"}),
	}
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "triggerflow_publish_rate_limited_events_total",
		Help: "Events refused with 429 because their API key was over TRIGGERFLOW_PUBLISH_RATE.",
	})
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.rateLimited = register(reg, m.rateLimited)
	return m
}

// register adds c to reg, or returns the collector a second server on the
// same registry (tests, dev) registered before.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}
