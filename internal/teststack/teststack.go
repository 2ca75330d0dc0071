// Package teststack starts TriggerFlow's API and worker in-process against a
// fresh PostgreSQL database and the embedded Temporal server of the test
// binary: the real stack, for API-level and end-to-end tests. Like cmd, it is
// a composition root, so it may import apiserver and worker.
package teststack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/matching"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/apiserver"
	"github.com/triggerflow/triggerflow/internal/openapicheck"
	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/tracing"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/worker"
)

// Token is the admin key of every test stack.
const Token = "test-admin-token"

// SecretKey is the fixed TRIGGERFLOW_SECRET_KEY of every test stack (32
// bytes, hex), so tests can read sealed secrets back.
const SecretKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// Stack is a running API + worker.
type Stack struct {
	URL      string
	DB       *sqlx.DB
	DBURL    string
	Temporal client.Client
	Index    *matching.Index
	Worker   sdkworker.Worker
	t        testing.TB
}

// Options tune a stack.
type Options struct {
	// NoWorker starts only the API (for tests that start their own worker).
	NoWorker bool
	// EgressAllow lists CIDRs outbound requests may reach; default loopback.
	EgressAllow []string
	// Actions configures the flow actions that reach outside systems.
	Actions activities.ActionSettings
	// PublishRate and PublishBurst limit publishing per API key (events per
	// second, bucket size); 0 means no limit.
	PublishRate  float64
	PublishBurst int
	// Metrics is the API's registry (nil: a private one); the worker's
	// delivery metrics are registered on it too.
	Metrics *prometheus.Registry
	// TemporalUIURL, when set, makes answers about deliveries and runs link
	// to their workflow there (TRIGGERFLOW_TEMPORAL_UI_URL).
	TemporalUIURL string
	// Temporal is the server to use (default: the test binary's shared one).
	Temporal client.Client
	// PublishTemporal is the client the publisher hands groups to (default
	// Temporal): a test can make it fail or hang while the worker works.
	PublishTemporal client.Client
	// Concurrency and DeliveryBudget tune the worker's delivery lanes (see
	// worker.Options); zero means the defaults.
	Concurrency    int
	DeliveryBudget time.Duration
	// MaxPerWebhook bounds the worker's requests in flight to one webhook
	// (see worker.Options); 0 means the default.
	MaxPerWebhook int
	// MaxUndispatched bounds the publisher's backlog (see
	// workflows.Publisher); 0 means the default.
	MaxUndispatched int
	// Separate hands each first try over as its own workflow
	// (TRIGGERFLOW_DELIVERY_GROUPING=off).
	Separate bool
	// Traced wires tracing as the binary does when OTEL_* asks for it:
	// Temporal's tracing interceptor on the client and traced outbound HTTP
	// (the test installs the tracer provider).
	Traced bool
}

// Start brings up a stack that stops when the test ends.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	dbURL := testkit.DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tc := opts.Temporal
	if tc == nil {
		tc = testkit.Temporal(t)
	}
	if opts.Traced {
		icpt, err := tracing.TemporalInterceptor()
		if err != nil {
			t.Fatal(err)
		}
		if tc, err = client.NewClientFromExisting(tc, client.Options{Namespace: testkit.TemporalNamespace(t),
			Interceptors: []interceptor.ClientInterceptor{icpt}}); err != nil {
			t.Fatal(err)
		}
	}
	log := testkit.Logger()
	s := &Stack{DB: db, DBURL: dbURL, Temporal: tc, t: t}
	box, err := secretbox.New(SecretKey)
	if err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	s.Index = matching.NewIndex(db, log)
	pubTemporal := opts.PublishTemporal
	if pubTemporal == nil {
		pubTemporal = tc
	}
	pub := &dispatch.Publisher{Events: &store.Events{DB: db}, Index: s.Index, Temporal: pubTemporal, Log: log, MaxUndispatched: opts.MaxUndispatched,
		Separate: opts.Separate}
	go pub.Run(runCtx)
	go s.Index.Listen(runCtx, dbURL)
	srv := apiserver.New(apiserver.Options{
		DB: db, Temporal: tc, Namespace: testkit.TemporalNamespace(t), AdminToken: Token, Logger: log,
		Publisher: pub, Index: s.Index, Cipher: box, PublishRate: opts.PublishRate, PublishBurst: opts.PublishBurst,
		Metrics:       opts.Metrics,
		TemporalUIURL: opts.TemporalUIURL,
	})
	// Every answer a test receives is checked against schemas/openapi.json.
	hs := httptest.NewServer(openapicheck.Handler(t, srv.Handler()))
	s.URL = hs.URL
	t.Cleanup(func() { hs.Close(); stop() })

	if !opts.NoWorker {
		allow := opts.EgressAllow
		if allow == nil {
			allow = []string{"127.0.0.0/8", "::1/128"}
		}
		policy, err := activities.NewEgressPolicy(allow)
		if err != nil {
			t.Fatal(err)
		}
		httpClient := activities.NewHTTPClient(policy)
		if opts.Traced {
			httpClient = tracing.HTTPClient(httpClient)
		}
		wopts := worker.Options{DB: db, Temporal: tc, Logger: log, HTTP: httpClient, Actions: opts.Actions, Cipher: box,
			Concurrency: opts.Concurrency, DeliveryBudget: opts.DeliveryBudget, Index: s.Index,
			MaxPerWebhook: opts.MaxPerWebhook}
		if opts.Metrics != nil {
			wopts.Metrics = opts.Metrics
		}
		s.Worker = worker.New(wopts)
		if err := s.Worker.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Worker.Stop)
	}
	return s
}

// Response is a decoded API answer.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do calls the API with the admin token; body may be nil, a string (sent
// as-is) or any value (sent as JSON).
func (s *Stack) Do(method, path string, body any) Response {
	return s.DoAs(Token, method, path, body)
}

// DoAs calls the API with the given bearer token ("" sends none).
func (s *Stack) DoAs(token, method, path string, body any) Response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Body: raw, Header: resp.Header}
}

// MustDo calls the API and fails the test unless the status is want.
func (s *Stack) MustDo(want int, method, path string, body any) Response {
	s.t.Helper()
	r := s.Do(method, path, body)
	if r.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}
