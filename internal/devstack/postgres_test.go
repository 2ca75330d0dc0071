package devstack

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
)

// pgTestDir returns a not-yet-existing cluster directory below a fresh
// 0755 directory. t.TempDir() is not used because it is 0700 and owned by
// the test user, which the postgres account cannot traverse when tests run
// as root.
func pgTestDir(t *testing.T) string {
	t.Helper()
	if _, err := FindPostgresBinDir(); err != nil {
		t.Skipf("no PostgreSQL server binaries on this machine: %v", err)
	}
	base, err := os.MkdirTemp("", "devstack-pg-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("cleanup %s: %v", base, err)
		}
	})
	return filepath.Join(base, "cluster")
}

func pgTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(pgTestWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type pgTestWriter struct{ t *testing.T }

func (w pgTestWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// pgTestStart starts a cluster and registers a Stop for when the test ends,
// so a failing test does not leave a server running on a deleted directory.
func pgTestStart(t *testing.T, dir string) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir, Logger: pgTestLogger(t)})
	if err != nil {
		t.Fatalf("StartPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(context.Background()); err != nil {
			t.Errorf("cleanup Stop: %v", err)
		}
	})
	return pg
}

func pgTestStop(t *testing.T, pg *Postgres) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pg.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func pgTestOpen(t *testing.T, pg *Postgres) *sql.DB {
	t.Helper()
	connector, err := pq.NewConnector(pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPostgresPersistsAcrossRestart(t *testing.T) {
	dir := pgTestDir(t)
	ctx := context.Background()

	pg := pgTestStart(t, dir)
	if pg.Port() <= 0 || pg.Port() == 5432 {
		t.Fatalf("unexpected port %d", pg.Port())
	}
	wantPrefix := "postgres://postgres:"
	wantSuffix := fmt.Sprintf("@127.0.0.1:%d/app?sslmode=disable", pg.Port())
	if u := pg.URL("app"); !strings.HasPrefix(u, wantPrefix) || !strings.HasSuffix(u, wantSuffix) {
		t.Fatalf("URL = %q, want %s<pw>%s", u, wantPrefix, wantSuffix)
	}
	fi, err := os.Stat(filepath.Join(dir, "password"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("password file mode = %v, want 0600", perm)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "port")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pg.Port()) {
		t.Errorf("port file = %q (%v), want %d", b, err, pg.Port())
	}

	db := pgTestOpen(t, pg)
	if _, err := db.ExecContext(ctx, `CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO widgets VALUES (1, 'sprocket')`); err != nil {
		t.Fatal(err)
	}
	var owner string
	if err := db.QueryRowContext(ctx, `SELECT current_user`).Scan(&owner); err != nil || owner != "postgres" {
		t.Fatalf("current_user = %q, %v", owner, err)
	}
	db.Close()

	firstPort := pg.Port()
	pgTestStop(t, pg)
	pgTestStop(t, pg) // idempotent
	if _, err := os.Stat(filepath.Join(dir, "data", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid still present after Stop: %v", err)
	}

	pg2 := pgTestStart(t, dir)
	if pg2.Port() != firstPort {
		t.Errorf("restart port = %d, want reused %d", pg2.Port(), firstPort)
	}
	var name string
	if err := pgTestOpen(t, pg2).QueryRowContext(ctx, `SELECT name FROM widgets WHERE id = 1`).Scan(&name); err != nil {
		t.Fatalf("row lost across restart: %v", err)
	}
	if name != "sprocket" {
		t.Fatalf("name = %q, want sprocket", name)
	}
	pgTestStop(t, pg2)
}

func TestPostgresStalePostmasterPid(t *testing.T) {
	dir := pgTestDir(t)
	pg := pgTestStart(t, dir)
	port := pg.Port()
	pgTestStop(t, pg)

	// A pid that certainly belongs to no process: a child we already reaped.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	// A live process that is not a postmaster, as after pid recycling.
	alive := exec.Command("sleep", "300")
	if err := alive.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alive.Process.Kill(); _ = alive.Wait() })

	for _, tc := range []struct {
		name string
		pid  int
	}{
		{"dead pid", dead.Process.Pid},
		{"recycled pid", alive.Process.Pid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(dir, "data")
			pidFile := fmt.Sprintf("%d\n%s\n%d\n%d\n%s\n127.0.0.1\n  5432001    123456\nready   \n",
				tc.pid, dataDir, time.Now().Unix(), port, filepath.Join(dir, "run"))
			if err := os.WriteFile(filepath.Join(dataDir, "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
				t.Fatal(err)
			}
			pg := pgTestStart(t, dir)
			var one int
			if err := pgTestOpen(t, pg).QueryRow(`SELECT 1`).Scan(&one); err != nil || one != 1 {
				t.Fatalf("SELECT 1 = %d, %v", one, err)
			}
			pgTestStop(t, pg)
		})
	}
}

func TestPostgresReusesRunningServer(t *testing.T) {
	dir := pgTestDir(t)
	pg := pgTestStart(t, dir)

	// Simulates a dev command that died without Stop: the daemonised
	// server is still running when the next one starts.
	pg2 := pgTestStart(t, dir)
	if pg2.Port() != pg.Port() {
		t.Fatalf("second start port = %d, want running server's %d", pg2.Port(), pg.Port())
	}
	var one int
	if err := pgTestOpen(t, pg2).QueryRow(`SELECT 1`).Scan(&one); err != nil {
		t.Fatal(err)
	}
	pgTestStop(t, pg2)
	pgTestStop(t, pg) // already stopped through the other handle
}

// pgTestLockedDir returns a root-owned 0700 directory, like root's home, that
// the postgres account cannot traverse, and a 0755 root for placed clusters.
func pgTestLockedDir(t *testing.T) (locked, reachableRoot string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to another user")
	}
	if _, err := pgLookupRunAs(); err != nil {
		t.Fatalf("pgLookupRunAs: %v", err)
	}
	base := filepath.Dir(pgTestDir(t))
	locked = filepath.Join(base, "locked")
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	return locked, filepath.Join(base, "var-lib-triggerflow")
}

// TestPostgresStartsBelowA0700Parent is a clone in root's 0700 home: the
// cluster is placed under the reachable root, Dir links to it, the data
// survives a restart, and nothing of the 0700 directory is loosened.
func TestPostgresStartsBelowA0700Parent(t *testing.T) {
	locked, root := pgTestLockedDir(t)
	dir := filepath.Join(locked, "clone", ".triggerflow", "postgres")
	start := func() *Postgres {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir, ReachableRoot: root, Logger: pgTestLogger(t)})
		if err != nil {
			t.Fatalf("StartPostgres below a 0700 parent: %v", err)
		}
		t.Cleanup(func() { _ = pg.Stop(context.Background()) })
		return pg
	}
	pg := start()
	if want := filepath.Join(root, pgPlaceName(dir)); pg.Dir() != want {
		t.Fatalf("cluster in %s, want %s", pg.Dir(), want)
	}
	if target, err := os.Readlink(dir); err != nil || target != pg.Dir() {
		t.Fatalf("%s should link to %s: %q, %v", dir, pg.Dir(), target, err)
	}
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("reachable root: %v, %v; want mode 0755", fi.Mode(), err)
	}
	if fi, err := os.Stat(locked); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the 0700 parent was changed: %v, %v", fi.Mode(), err)
	}
	db := pgTestOpen(t, pg)
	if _, err := db.Exec(`CREATE TABLE kept (v text); INSERT INTO kept VALUES ('across restarts')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	pgTestStop(t, pg)

	pg2 := start()
	if pg2.Dir() != pg.Dir() {
		t.Fatalf("restart placed the cluster in %s, first start in %s", pg2.Dir(), pg.Dir())
	}
	var v string
	if err := pgTestOpen(t, pg2).QueryRow(`SELECT v FROM kept`).Scan(&v); err != nil || v != "across restarts" {
		t.Fatalf("data lost across restart: %q, %v", v, err)
	}
	pgTestStop(t, pg2)

	// The link lost (the data dir copied without it): the same place is
	// found again from the directory's name.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	pg3 := start()
	if err := pgTestOpen(t, pg3).QueryRow(`SELECT v FROM kept`).Scan(&v); err != nil || v != "across restarts" {
		t.Fatalf("data not found again without the link: %q, %v", v, err)
	}
	pgTestStop(t, pg3)
}

// TestPostgresReplacesAnEmptyUnreachableDir: a start that failed before
// initdb (every start from a 0700 home did, before clusters were placed)
// left a directory with only a password; it is replaced, not reported.
func TestPostgresReplacesAnEmptyUnreachableDir(t *testing.T) {
	locked, root := pgTestLockedDir(t)
	dir := filepath.Join(locked, "cluster")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("left-over\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pg, err := StartPostgres(context.Background(), PostgresOptions{Dir: dir, ReachableRoot: root})
	if err != nil {
		t.Fatalf("StartPostgres over a failed start's leftovers: %v", err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	if pg.Dir() == dir {
		t.Fatalf("cluster left in the unreachable %s", dir)
	}
}

// TestPostgresRefusesToMoveAnUnreachableCluster: a real cluster the postgres
// user cannot reach is never moved or deleted behind the user's back; the
// error names the blocking directory and the commands that fix it.
func TestPostgresRefusesToMoveAnUnreachableCluster(t *testing.T) {
	locked, root := pgTestLockedDir(t)
	dir := filepath.Join(locked, "cluster")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "PG_VERSION"), []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := StartPostgres(context.Background(), PostgresOptions{Dir: dir, ReachableRoot: root})
	if err == nil {
		t.Fatal("StartPostgres used a cluster the postgres user cannot reach")
	}
	for _, want := range []string{locked + " ", "chmod o+x " + locked, "mv " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, statErr := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); statErr != nil {
		t.Fatalf("the cluster was touched: %v", statErr)
	}
}

// TestPostgresRefusesAWritableReachableRoot: directories under the root are
// created as root and handed to postgres, so a root others may write to is
// refused with the fix.
func TestPostgresRefusesAWritableReachableRoot(t *testing.T) {
	locked, root := pgTestLockedDir(t)
	if err := os.Mkdir(root, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := StartPostgres(context.Background(), PostgresOptions{Dir: filepath.Join(locked, "c"), ReachableRoot: root})
	if err == nil || !strings.Contains(err.Error(), "chmod 755 "+root) {
		t.Fatalf("want a refusal naming chmod 755 %s, got %v", root, err)
	}
}

func TestPostgresVersionOrder(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "10", "lib", "16"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if v == "16" {
			continue // server not installed for 16: only 15 qualifies as newest
		}
		if err := os.WriteFile(filepath.Join(bin, "initdb"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := pgNewestVersionedBinDir(root), filepath.Join(root, "15", "bin"); got != want {
		t.Fatalf("pgNewestVersionedBinDir = %q, want %q", got, want)
	}
	keys := [][]int{pgVersionKey("9.6"), pgVersionKey("10")}
	if slices.Compare(keys[0], keys[1]) >= 0 {
		t.Fatalf("9.6 should sort before 10: %v", keys)
	}
}
