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
	"net"
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

// startupError is a start-up step that failed: what was being started, the
// cause, and what the user can do about it, so `make run` never ends in a
// bare error (or a panic) that hides the real problem.
type startupError struct {
	Step string
	Err  error
	Hint string
}

func (e *startupError) Error() string {
	return fmt.Sprintf("%s: %v\n  hint: %s", e.Step, e.Err, e.Hint)
}

func (e *startupError) Unwrap() error { return e.Err }

// startDev brings the stack up: PostgreSQL (private unless DATABASE_URL),
// migrations, embedded Temporal with UI and search attributes, the worker and
// the API. On error, whatever started is stopped again and the error is a
// *startupError.
func startDev(ctx context.Context, cfg Config, log *slog.Logger) (*devStack, error) {
	s := &devStack{cfg: cfg, log: log}
	if os.Getenv("GOGC") == "" {
		// One process holds the Temporal server, the worker and the API,
		// allocating mostly short-lived protobufs: collecting at 200% heap
		// growth instead of 100% halves GC work for ~30 MB more heap.
		debug.SetGCPercent(200)
	}
	if err := s.start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// start runs the steps of startDev in order, filling s as it goes so that
// Stop can undo a partial start.
func (s *devStack) start(ctx context.Context) error {
	dataDirHint := "dev keeps its data there; choose a folder you may write with --data-dir or TRIGGERFLOW_DATA_DIR"
	if err := os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
		return &startupError{"create the data dir " + s.cfg.DataDir, err, dataDirHint}
	}
	dataDir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		return &startupError{"find the data dir " + s.cfg.DataDir, err, dataDirHint}
	}
	if s.cfg.AdminToken == "" {
		if s.cfg.AdminToken, err = persistentSecret(filepath.Join(dataDir, "admin-token"), "tf_admin_"); err != nil {
			return &startupError{"keep the generated admin token", err, dataDirHint + ", or set TRIGGERFLOW_ADMIN_TOKEN"}
		}
	}
	if s.cfg.SecretKey == "" {
		if s.cfg.SecretKey, err = persistentSecretKey(filepath.Join(dataDir, "secret-key")); err != nil {
			return &startupError{"keep the generated secret key", err, dataDirHint + ", or set TRIGGERFLOW_SECRET_KEY"}
		}
	}
	// Loopback receivers are normal on a developer machine.
	s.cfg.EgressAllow = append(s.cfg.EgressAllow, "127.0.0.0/8", "::1/128")

	if s.cfg.DatabaseURL == "" {
		if err := s.startPostgres(ctx, dataDir); err != nil {
			return err
		}
	}
	s.DatabaseURL = s.cfg.DatabaseURL
	dbHint := "check that DATABASE_URL names a running PostgreSQL server and a role that may create tables"
	if s.pg != nil {
		dbHint = fmt.Sprintf("the private cluster's log is %s; `make clean` starts from scratch (it deletes the data)",
			filepath.Join(s.pg.Dir(), "postgres.log"))
	}
	if s.db, err = openDB(ctx, s.cfg.DatabaseURL); err != nil {
		return &startupError{"connect to PostgreSQL", err, dbHint}
	}
	if err := store.Migrate(ctx, s.db, s.log); err != nil {
		return &startupError{"apply the database migrations", err,
			dbHint + "; `triggerflow migrate status` lists what the database has"}
	}
	temporalDB := filepath.Join(dataDir, "temporal.db")
	temporalHint := fmt.Sprintf("is another dev stack running? --temporal-port 0 and --ui-port -1 pick free ports "+
		"(TRIGGERFLOW_TEMPORAL_PORT, TRIGGERFLOW_UI_PORT); a damaged %s can be moved away (Temporal's history is lost, "+
		"TriggerFlow's definitions and logs in PostgreSQL stay)", temporalDB)
	s.temporal, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{
		DBFile:           temporalDB,
		Namespace:        s.cfg.TemporalNamespace,
		Port:             s.cfg.TemporalPort,
		UIPort:           s.cfg.UIPort,
		UICodecEndpoint:  devCodecEndpoint(s.cfg.HTTPAddr),
		SearchAttributes: workflows.SearchAttributes(),
		// Each step of a sequential chain (flow steps, ordered retries) waits
		// for the transfer queue's poll; the default 20/s adds ~45 ms a step.
		DynamicConfig: map[string]any{"history.transferProcessorMaxPollRPS": 100},
		Logger:        s.log,
	})
	if err != nil {
		return &startupError{"start the embedded Temporal server", err, temporalHint}
	}
	s.cfg.TemporalAddress = s.temporal.Address()
	// The embedded server speaks plain gRPC on loopback: no TLS or API key
	// from TEMPORAL_* applies to it.
	s.cfg.TemporalConnection = envconfig.ClientConfigProfile{}
	s.TemporalURL, s.UIURL = s.temporal.Address(), s.temporal.UIURL()
	if s.cfg.TemporalUIURL == "" {
		// Link runs to the UI this stack serves.
		s.cfg.TemporalUIURL = s.UIURL
	}
	if s.UIURL != "" && devCodecEndpoint(s.cfg.HTTPAddr) != "" {
		// The embedded UI decodes payloads through the API's codec
		// endpoint without a key: it needs no login itself and both listen
		// on this machine only.
		s.cfg.CodecCORSOrigins = append(s.cfg.CodecCORSOrigins, s.UIURL)
		s.cfg.codecKeylessOrigins = []string{s.UIURL}
	}
	// One registry for the process: the API's /metrics shows the worker's
	// and the SDK's metrics too.
	reg := newRegistry()
	reg.MustRegister(dbgauges.New(&store.Stats{DB: s.db}, s.log))
	if s.client, err = dialTemporal(ctx, s.cfg, s.log, reg); err != nil {
		return &startupError{"connect to the embedded Temporal server", err, temporalHint}
	}
	if s.worker, err = startWorker(ctx, s.cfg, s.db, s.client, s.log.With("process", "worker"), reg); err != nil {
		return &startupError{"start the worker", err, "the worker registers search attributes and polls " +
			s.cfg.TemporalAddress + "; TRIGGERFLOW_LOG_LEVEL=debug shows what it was doing"}
	}
	if s.api, err = startAPI(ctx, s.cfg, s.db, s.client, s.log.With("process", "api"), reg); err != nil {
		return &startupError{"start the API", err, "is another TriggerFlow (or anything else) listening on " +
			s.cfg.HTTPAddr + "? choose another address with --http-addr or TRIGGERFLOW_HTTP_ADDR (127.0.0.1:0 picks a free port)"}
	}
	s.APIURL = "http://" + s.api.Addr
	return nil
}

// startPostgres starts the private cluster in <data dir>/postgres (or where
// that links to, see Config.PostgresRoot) and points the config at it.
func (s *devStack) startPostgres(ctx context.Context, dataDir string) error {
	clusterDir := filepath.Join(dataDir, "postgres")
	var err error
	s.pg, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{
		Dir: clusterDir, ReachableRoot: s.cfg.PostgresRoot, Logger: s.log,
	})
	if err != nil {
		hint := fmt.Sprintf("the server's own messages are in postgres.log in %s (or where that links to); "+
			"`make clean` starts from scratch (it deletes the data); DATABASE_URL uses a PostgreSQL server you run instead",
			clusterDir)
		if _, binErr := devstack.FindPostgresBinDir(); binErr != nil {
			hint = "install PostgreSQL's server binaries with `make ensure-postgres` (Debian's postgresql package), " +
				"or set DATABASE_URL to use a PostgreSQL server you run"
		}
		return &startupError{"start the private PostgreSQL", err, hint}
	}
	if err := ensureDatabase(ctx, s.pg.URL("postgres"), "triggerflow"); err != nil {
		return &startupError{"create the triggerflow database", err,
			fmt.Sprintf("the private cluster's log is %s", filepath.Join(s.pg.Dir(), "postgres.log"))}
	}
	s.cfg.DatabaseURL = s.pg.URL("triggerflow")
	return nil
}

// Stop stops everything in reverse order; it is safe on a partial stack
// and on nil.
func (s *devStack) Stop() {
	if s == nil {
		return
	}
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
	cluster := ""
	if s.pg != nil {
		cluster = "\n  Cluster      " + s.pg.Dir()
	}
	ui := s.UIURL
	if ui == "" {
		ui = "(disabled)"
	}
	fmt.Fprintf(w, `
TriggerFlow dev stack is up.

  Console      %s/ui/#token=%s
  API          %s   (OpenAPI: %s/openapi.json)
  Temporal UI  %s
  Temporal     %s   (namespace %q)
  PostgreSQL   %s%s
  Data dir     %s

  The console link signs in with the admin token; it travels in the URL fragment,
  which the browser never sends to the server.
  Authenticate with:  Authorization: Bearer %s
  Try:  curl -H "Authorization: Bearer %s" %s/v1/webhooks

  Outbound requests may reach loopback (127.0.0.0/8, ::1) in dev; production refuses
  private addresses unless TRIGGERFLOW_EGRESS_ALLOW lists them.
  Ctrl-C stops everything; the next start reuses the data.

`, s.APIURL, s.cfg.AdminToken, s.APIURL, s.APIURL, ui, s.TemporalURL, s.cfg.TemporalNamespace, db, cluster, s.cfg.DataDir,
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

// devCodecEndpoint is the codec endpoint dev's Temporal UI calls from the
// browser: the API's /codec on a loopback address. An address whose port is
// picked at start (":0") or that is not loopback gives none.
func devCodecEndpoint(httpAddr string) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil || port == "0" || port == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return ""
	}
	return "http://" + net.JoinHostPort(host, port) + "/codec"
}
