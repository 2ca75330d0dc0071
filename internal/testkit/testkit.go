// Package testkit is the real-stack test harness: a migrated PostgreSQL
// database per test (copied from a template migrated once), an embedded
// Temporal server per test binary with TriggerFlow's search attributes, and a
// real HTTP receiver that records requests and can fail, delay or answer big.
package testkit

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/internal/devstack"
	"github.com/triggerflow/triggerflow/store"
)

// EnvDatabaseURL names an existing PostgreSQL server (a URL to its
// maintenance database, with the right to create databases) for tests. When
// unset, each test binary starts a private cluster from the system's binaries.
const EnvDatabaseURL = "TRIGGERFLOW_TEST_DATABASE_URL"

var (
	pgOnce     sync.Once
	pgErr      error
	pgAdminURL string
	pgCluster  *devstack.Postgres
	pgTemplate string
	pgDir      string
	cleanups   []func()
	cleanupsMu sync.Mutex
)

// Main runs the package's tests and then stops what the harness started.
// Call it from TestMain: func TestMain(m *testing.M) { testkit.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	cleanupsMu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanupsMu.Unlock()
	os.Exit(code)
}

func atExit(f func()) {
	cleanupsMu.Lock()
	cleanups = append(cleanups, f)
	cleanupsMu.Unlock()
}

// Logger is a quiet logger for components under test (warnings and errors).
func Logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TRIGGERFLOW_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func startPostgres() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if url := os.Getenv(EnvDatabaseURL); url != "" {
		pgAdminURL = url
	} else {
		dir, err := os.MkdirTemp("", "triggerflow-testpg-")
		if err != nil {
			pgErr = err
			return
		}
		// The postgres user must be able to enter the directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			pgErr = err
			return
		}
		pgDir = dir
		pgCluster, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: dir, Logger: Logger()})
		if err != nil {
			pgErr = fmt.Errorf("start a private PostgreSQL for tests (set %s to use an existing server): %w", EnvDatabaseURL, err)
			return
		}
		pgAdminURL = pgCluster.URL("postgres")
		atExit(func() {
			_ = pgCluster.Stop(context.Background())
			_ = os.RemoveAll(pgDir)
		})
	}
	admin, err := store.Open(ctx, pgAdminURL)
	if err != nil {
		pgErr = err
		return
	}
	defer admin.Close()
	// One template per test binary: migrate once, copy per test.
	pgTemplate = fmt.Sprintf("tf_tpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(pgTemplate)); err != nil {
		pgErr = fmt.Errorf("create template database: %w", err)
		return
	}
	atExit(func() { dropDatabase(pgTemplate) })
	tpl, err := store.Open(ctx, withDatabase(pgAdminURL, pgTemplate))
	if err != nil {
		pgErr = err
		return
	}
	if err := store.Migrate(ctx, tpl, nil); err != nil {
		tpl.Close()
		pgErr = err
		return
	}
	tpl.Close()
}

// DatabaseURL returns the URL of a fresh, migrated database that is dropped
// when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	pgOnce.Do(startPostgres)
	if pgErr != nil {
		t.Fatalf("test database: %v", pgErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := store.Open(ctx, pgAdminURL)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	defer admin.Close()
	name := fmt.Sprintf("tf_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	// CREATE DATABASE … TEMPLATE fails while another session uses the
	// template; nothing does after migration, but retry briefly to be safe.
	for i := 0; ; i++ {
		_, err = admin.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
			pq.QuoteIdentifier(name), pq.QuoteIdentifier(pgTemplate)))
		if err == nil || i > 20 || !strings.Contains(err.Error(), "being accessed") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	return withDatabase(pgAdminURL, name)
}

// DB returns a connection to a fresh, migrated database.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	url := DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	// Registered after DatabaseURL's cleanup, so it runs first (LIFO).
	t.Cleanup(func() { db.Close() })
	return db
}

func dropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := store.Open(ctx, pgAdminURL)
	if err != nil {
		return
	}
	defer admin.Close()
	_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)")
}

// withDatabase swaps the database name in a postgres:// URL.
func withDatabase(url, name string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	slash := strings.Index(rest, "/")
	query := ""
	if q := strings.Index(rest, "?"); q >= 0 {
		query = rest[q:]
		rest = rest[:q]
	}
	if slash >= 0 {
		rest = rest[:slash]
	}
	return scheme + "://" + rest + "/" + name + query
}
