package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/triggerflow/triggerflow/matching"

	"github.com/triggerflow/triggerflow/dispatch"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/apiserver"
	"github.com/triggerflow/triggerflow/internal/httpserver"
	"github.com/triggerflow/triggerflow/internal/payloadcodec"
	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/internal/temporalmetrics"
	"github.com/triggerflow/triggerflow/internal/tracing"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/worker"
	"github.com/triggerflow/triggerflow/workflows"
)

// temporalClientOptions are the options of every Temporal client the binary
// makes (API, worker, dev): the frontend and namespace, and payloads
// encrypted with TRIGGERFLOW_SECRET_KEY (internal/payloadcodec), so
// histories hold no event data, rendered parameters or credentials in clear.
// Workers built on the client inherit its data converter.
//
// With a registry, the SDK's client and worker metrics are exported through
// it (internal/temporalmetrics).
func temporalClientOptions(cfg Config, log *slog.Logger, reg prometheus.Registerer) (client.Options, error) {
	codec, err := payloadcodec.New(cfg.SecretKey)
	if err != nil {
		return client.Options{}, err
	}
	// TLS, mTLS, API keys and gRPC metadata come from Temporal's envconfig;
	// address and namespace from TriggerFlow's settings (dev's are its own).
	opts, err := cfg.TemporalConnection.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal connection: %w", err)
	}
	opts.HostPort, opts.Namespace = cfg.TemporalAddress, cfg.TemporalNamespace
	opts.Logger = sdklog.NewStructuredLogger(log.With("component", "temporal-sdk"))
	opts.DataConverter = codec.DataConverter()
	if reg != nil {
		opts.MetricsHandler = temporalmetrics.New(reg)
	}
	if cfg.Tracing {
		icpt, err := tracing.TemporalInterceptor()
		if err != nil {
			return client.Options{}, fmt.Errorf("tracing: %w", err)
		}
		opts.Interceptors = append(opts.Interceptors, icpt)
	}
	return opts, nil
}

// dialTemporal connects to a Temporal frontend, waiting (bounded by ctx)
// until it answers.
func dialTemporal(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (client.Client, error) {
	opts, err := temporalClientOptions(cfg, log, reg)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("temporal at %s not reachable: %w", opts.HostPort, lastErr)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// newRegistry is the process's Prometheus registry: Go and process metrics,
// and triggerflow_build_info (1, labelled with the version and Go release).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "triggerflow_build_info",
		Help:        "TriggerFlow's version and the Go release it was built with; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo)
	return reg
}

// apiProcess is a running API: publisher, index listener and HTTP server.
type apiProcess struct {
	Addr string
	wg   sync.WaitGroup
	stop context.CancelFunc
	err  chan error
}

// startAPI serves the API on cfg.HTTPAddr until ctx ends or stop is called.
func startAPI(ctx context.Context, cfg Config, db *sqlx.DB, tc client.Client, log *slog.Logger, reg *prometheus.Registry) (*apiProcess, error) {
	box, err := secretbox.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	index := matching.NewIndex(db, log)
	maxUndispatched := cfg.MaxUndispatched
	if maxUndispatched == 0 {
		maxUndispatched = -1 // no bound
	}
	codec := &payloadcodec.Codec{Box: box}
	publisher := &dispatch.Publisher{Events: &store.Events{DB: db}, Index: index, Temporal: tc, Log: log,
		MaxUndispatched: maxUndispatched, Separate: !cfg.DeliveryGrouping}
	srv := apiserver.New(apiserver.Options{
		DB: db, Temporal: tc, Namespace: cfg.TemporalNamespace, AdminToken: cfg.AdminToken, Logger: log,
		Metrics: reg, MaxBodyBytes: cfg.MaxBodyBytes, Version: version, Publisher: publisher, Index: index,
		Cipher: box, PublishRate: cfg.PublishRate, PublishBurst: cfg.PublishBurst, TemporalUIURL: cfg.TemporalUIURL,
		PayloadCodec: codec, CodecCORSOrigins: cfg.CodecCORSOrigins, CodecKeylessOrigins: cfg.codecKeylessOrigins,
	})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	p := &apiProcess{Addr: ln.Addr().String(), stop: cancel, err: make(chan error, 1)}
	p.wg.Add(3)
	go func() { defer p.wg.Done(); publisher.Run(ctx) }()
	go func() { defer p.wg.Done(); index.Listen(ctx, cfg.DatabaseURL) }()
	httpSrv := httpserver.New(srv.Handler(), httpserver.DefaultTimeouts)
	go func() {
		defer p.wg.Done()
		errc := make(chan error, 1)
		go func() { errc <- httpSrv.Serve(ln) }()
		select {
		case err := <-errc:
			p.err <- err
		case <-ctx.Done():
			shutdownCtx, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			_ = httpSrv.Shutdown(shutdownCtx)
		}
	}()
	return p, nil
}

// Stop shuts the API down gracefully.
func (p *apiProcess) Stop() {
	p.stop()
	p.wg.Wait()
}

// workerProcess is a running worker with its dispatcher sweep.
type workerProcess struct {
	stop context.CancelFunc
	wg   sync.WaitGroup
	w    interface{ Stop() }
}

// startWorker registers search attributes (when missing), then runs the
// worker and the dispatcher sweep until Stop.
func startWorker(ctx context.Context, cfg Config, db *sqlx.DB, tc client.Client, log *slog.Logger, reg prometheus.Registerer) (*workerProcess, error) {
	box, err := secretbox.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	if err := worker.EnsureSearchAttributes(ctx, tc, cfg.TemporalNamespace, log); err != nil {
		return nil, err
	}
	policy, err := activities.NewEgressPolicy(cfg.EgressAllow)
	if err != nil {
		return nil, err
	}
	httpClient := activities.NewHTTPClient(policy)
	if cfg.Tracing {
		httpClient = tracing.HTTPClient(httpClient)
	}
	// The worker matches the events it raises itself (case timers).
	index := matching.NewIndex(db, log)
	w := worker.New(worker.Options{DB: db, Temporal: tc, Logger: log, HTTP: httpClient,
		Actions: activities.ActionSettings{SMTPURL: cfg.SMTPURL, LeadAPIURL: cfg.LeadAPIURL, LeadAPIToken: cfg.LeadAPIToken},
		Cipher:  box, Metrics: reg, Index: index})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &workerProcess{stop: cancel, w: w}
	p.wg.Add(4)
	go func() { defer p.wg.Done(); index.Listen(ctx, cfg.DatabaseURL) }()
	go func() { defer p.wg.Done(); worker.RunDispatcherSweep(ctx, tc, db, !cfg.DeliveryGrouping, log) }()
	go func() {
		defer p.wg.Done()
		worker.RunReconciler(ctx, db, worker.NewReconciler(tc, db, log), cfg.ReconcileEvery, log)
	}()
	go func() {
		defer p.wg.Done()
		if err := worker.RestoreSchedules(ctx, tc, db, log); err != nil && ctx.Err() == nil {
			log.Warn("could not check the schedules of At Time triggers", "error", err)
		}
		retention := workflows.PurgeWorkflowInput{PayloadRetention: cfg.RetentionPayloads, LogRetention: cfg.RetentionLogs,
			BatchSize: 500, MaxBatches: 2000}
		if err := worker.EnsureRetentionSchedule(ctx, tc, retention, log); err != nil && ctx.Err() == nil {
			log.Warn("could not set up the retention schedule", "error", err)
		}
	}()
	return p, nil
}

// Stop stops polling and waits for running activities to finish.
func (p *workerProcess) Stop() {
	p.stop()
	p.w.Stop()
	p.wg.Wait()
}
