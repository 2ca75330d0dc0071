package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/internal/httpserver"
)

// workerHTTPHandler is what a worker process serves for its operators:
// /healthz (alive), /readyz (PostgreSQL and Temporal answer) and /metrics.
// Readiness names each dependency with "ok" or "unavailable" only; the
// error itself goes to the log, since the port is not authenticated.
func workerHTTPHandler(db *sqlx.DB, tc client.Client, namespace string, reg *prometheus.Registry, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		checks := map[string]string{}
		ready := true
		check := func(name string, err error) {
			if err != nil {
				log.Warn("readiness check failed", "dependency", name, "error", err)
				checks[name], ready = "unavailable", false
				return
			}
			checks[name] = "ok"
		}
		check("postgres", db.PingContext(ctx))
		_, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		check("temporal", err)
		status, state := http.StatusOK, "ready"
		if !ready {
			status, state = http.StatusServiceUnavailable, "not ready"
		}
		writeJSON(w, status, map[string]any{"status": state, "checks": checks})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// serveWorkerHTTP listens on addr and serves h until ctx ends.
func serveWorkerHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("worker http: listen on %s: %w", addr, err)
	}
	srv := httpserver.New(h, httpserver.DefaultTimeouts)
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("worker http server stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	return ln.Addr().String(), nil
}
