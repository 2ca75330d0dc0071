package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/triggerflow/triggerflow/internal/dbgauges"
	"github.com/triggerflow/triggerflow/internal/devstack"
	"github.com/triggerflow/triggerflow/store"
	"github.com/triggerflow/triggerflow/workflows"
)

// devStack is everything `triggerflow dev` runs, in start order.
type devStack struct {
	cfg      Config
	log      *slog.Logger
	pg       *devstack.Postgres
	db       *sqlx.DB
	temporal *devstack.Temporal
	client   client.Client
	worker   *workerProcess
	api      *apiProcess

	APIURL      string
	UIURL       string
	TemporalURL string
	DatabaseURL string
}

// runDev runs the whole stack until Ctrl-C or SIGTERM.
func runDev(ctx context.Context, cfg Config, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "where PostgreSQL, Temporal's SQLite file and generated secrets live (TRIGGERFLOW_DATA_DIR)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "API listen address (TRIGGERFLOW_HTTP_ADDR)")
	fs.IntVar(&cfg.TemporalPort, "temporal-port", cfg.TemporalPort, "embedded Temporal frontend port (TRIGGERFLOW_TEMPORAL_PORT)")
	fs.IntVar(&cfg.UIPort, "ui-port", cfg.UIPort, "Temporal UI port, 0 to disable (TRIGGERFLOW_UI_PORT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(cfg)
	stack, err := startDev(ctx, cfg, log)
	if err != nil {
		return err
	}
	printBanner(os.Stdout, stack)
	select {
	case <-ctx.Done():
	case err = <-stack.api.err:
	}
	log.Info("stopping")
	stack.Stop()
	return err
}

// startDev brings the stack up: PostgreSQL (private unless DATABASE_URL),
// migrations, embedded Temporal with UI and search attributes, the worker and
// the API. On error, whatever started is stopped again.
func startDev(ctx context.Context, cfg Config, log *slog.Logger) (s *devStack, err error) {
	s = &devStack{cfg: cfg, log: log}
	if os.Getenv("GOGC") == "" {
		// One process holds the Temporal server, the worker and the API,
		// allocating mostly short-lived protobufs: collecting at 200% heap
		// growth instead of 100% halves GC work for ~30 MB more heap.
		debug.SetGCPercent(200)
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if s.cfg.AdminToken == "" {
		if s.cfg.AdminToken, err = persistentSecret(filepath.Join(dataDir, "admin-token"), "tf_admin_"); err != nil {
			return nil, err
		}
	}
	if s.cfg.SecretKey == "" {
		if s.cfg.SecretKey, err = persistentSecretKey(filepath.Join(dataDir, "secret-key")); err != nil {
			return nil, err
		}
	}
	// Loopback receivers are normal on a developer machine.
	s.cfg.EgressAllow = append(s.cfg.EgressAllow, "127.0.0.0/8", "::1/128")

	if s.cfg.DatabaseURL == "" {
		s.pg, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: filepath.Join(dataDir, "postgres"), Logger: log})
		if err != nil {
			return nil, err
		}
		if err := ensureDatabase(ctx, s.pg.URL("postgres"), "triggerflow"); err != nil {
			return nil, err
		}
		s.cfg.DatabaseURL = s.pg.URL("triggerflow")
	}
	s.DatabaseURL = s.cfg.DatabaseURL
	if s.db, err = openDB(ctx, s.cfg.DatabaseURL); err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx, s.db, log); err != nil {
		return nil, err
	}
	uiPort := s.cfg.UIPort
	s.temporal, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{
		DBFile:           filepath.Join(dataDir, "temporal.db"),
		Namespace:        s.cfg.TemporalNamespace,
		Port:             s.cfg.TemporalPort,
		UIPort:           uiPort,
		SearchAttributes: workflows.SearchAttributes(),
		// Each step of a sequential chain (flow steps, ordered retries) waits
		// for the transfer queue's poll; the default 20/s adds ~45 ms a step.
		DynamicConfig: map[string]any{"history.transferProcessorMaxPollRPS": 100},
		Logger:        log,
	})
	if err != nil {
		return nil, err
	}
	s.cfg.TemporalAddress = s.temporal.Address()
	// The embedded server speaks plain gRPC on loopback: no TLS or API key
	// from TEMPORAL_* applies to it.
	s.cfg.TemporalConnection = envconfig.ClientConfigProfile{}
	s.TemporalURL, s.UIURL = s.temporal.Address(), s.temporal.UIURL()
	// One registry for the process: the API's /metrics shows the worker's
	// and the SDK's metrics too.
	reg := newRegistry()
	reg.MustRegister(dbgauges.New(&store.Stats{DB: s.db}, log))
	if s.client, err = dialTemporal(ctx, s.cfg, log, reg); err != nil {
		return nil, err
	}
	if s.worker, err = startWorker(ctx, s.cfg, s.db, s.client, log.With("process", "worker")); err != nil {
		return nil, err
	}
	if s.api, err = startAPI(ctx, s.cfg, s.db, s.client, log.With("process", "api"), reg); err != nil {
		return nil, err
	}
	s.APIURL = "http://" + s.api.Addr
	return s, nil
}

// Stop stops everything in reverse order; it is safe on a partial stack.
func (s *devStack) Stop() {
	if s.api != nil {
		s.api.Stop()
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.temporal != nil {
		if err := s.temporal.Stop(); err != nil {
			s.log.Warn("stopping temporal", "error", err)
		}
	}
	if s.db != nil {
		s.db.Close()
	}
	if s.pg != nil {
		if err := s.pg.Stop(context.Background()); err != nil {
			s.log.Warn("stopping postgres", "error", err)
		}
	}
}

// AdminToken is the key the banner tells users to send.
func (s *devStack) AdminToken() string { return s.cfg.AdminToken }

func printBanner(w io.Writer, s *devStack) {
	db := s.DatabaseURL
	if u, err := url.Parse(db); err == nil {
		db = u.Redacted()
	}
	ui := s.UIURL
	if ui == "" {
		ui = "(disabled)"
	}
	fmt.Fprintf(w, `
TriggerFlow dev stack is up.

  API          %s   (OpenAPI: %s/openapi.json)
  Temporal UI  %s
  Temporal     %s   (namespace %q)
  PostgreSQL   %s
  Data dir     %s

  Authenticate with:  Authorization: Bearer %s
  Try:  curl -H "Authorization: Bearer %s" %s/v1/webhooks

  Outbound requests may reach loopback (127.0.0.0/8, ::1) in dev; production refuses
  private addresses unless TRIGGERFLOW_EGRESS_ALLOW lists them.
  Ctrl-C stops everything; the next start reuses the data.

`, s.APIURL, s.APIURL, ui, s.TemporalURL, s.cfg.TemporalNamespace, db, s.cfg.DataDir,
		s.cfg.AdminToken, s.cfg.AdminToken, s.APIURL)
}

// persistentSecret reads a secret from path, creating it (0600) on first use,
// so a restarted dev stack keeps its key.
func persistentSecret(path, prefix string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return v, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	v := prefix + hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save %s: %w", path, err)
	}
	return v, nil
}

// ensureDatabase creates database name on the server at adminURL if missing.
func ensureDatabase(ctx context.Context, adminURL, name string) error {
	db, err := openDB(ctx, adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = db.ExecContext(ctx, `CREATE DATABASE `+pqQuoteIdent(name))
	return err
}

func pqQuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
