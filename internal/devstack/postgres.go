package devstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

const (
	// pgSuperuser is the cluster's superuser role; it matches what every
	// PostgreSQL tool assumes by default, so psql & co. work without -U.
	pgSuperuser = "postgres"
	// pgSystemUser is the OS account the server runs as when we are root,
	// because postgres, initdb and pg_ctl all refuse to run as uid 0.
	pgSystemUser = "postgres"
	// pgDebianRoot is where Debian/Ubuntu install versioned server binaries;
	// they are not on PATH there, so PATH alone would miss them.
	pgDebianRoot = "/usr/lib/postgresql"
	// pgCtlTimeoutSeconds bounds pg_ctl's own waiting so that a wedged server
	// cannot hang a dev command or a test forever, even with a background ctx.
	pgCtlTimeoutSeconds = 60
	// pgReadyTimeout bounds the post-start connection check when the caller's
	// ctx carries no deadline, for the same reason.
	pgReadyTimeout = 60 * time.Second
	// pgMaxSocketPath keeps the Unix socket path under sun_path's 108 bytes;
	// postgres refuses to start rather than truncate it.
	pgMaxSocketPath = 100
)

// PostgresOptions configures a private cluster. Everything the cluster needs
// lives under Dir so that several checkouts, dev commands and tests can each
// own an independent server without touching the system cluster.
type PostgresOptions struct {
	// Dir is the cluster directory (created if missing). Data lives in
	// Dir/data, the superuser password in Dir/password, the server log in
	// Dir/postgres.log and the chosen port in Dir/port, so that restarting
	// with the same Dir brings back the same data at the same URL.
	Dir string
	// Port is the TCP port on 127.0.0.1. Zero picks a free one, preferring
	// the port remembered in Dir/port so that URLs stay stable across
	// restarts whenever that port is still free.
	Port int
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// ReachableRoot is where the cluster goes when we are root and the
	// "postgres" system user cannot traverse to Dir (a clone in root's 0700
	// home): the cluster then lives in ReachableRoot/<hash of Dir> and Dir
	// becomes a symbolic link to it, so a restart finds the same data and
	// `ls -l` shows where it is. Empty means DefaultReachableRoot. It is not
	// used when Dir is reachable or when we are not root.
	ReachableRoot string
}

// DefaultReachableRoot is PostgresOptions.ReachableRoot's default: a
// root-owned 0755 directory the postgres user can traverse on every Linux.
const DefaultReachableRoot = "/var/lib/triggerflow"

// Postgres is a handle on a running private cluster. It exists so callers can
// build connection URLs and stop the server without knowing where it lives or
// which OS user it runs as.
type Postgres struct {
	dir      string
	dataDir  string
	logPath  string
	binDir   string
	port     int
	password string
	log      *slog.Logger
	runAs    *pgAccount // nil: run tools as the current user

	mu      sync.Mutex
	stopped bool
}

// pgAccount is the OS identity the PostgreSQL tools run as when we are root.
type pgAccount struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
	home   string
}

// StartPostgres initialises the cluster in opts.Dir on first use, starts it
// and returns once it accepts connections, so callers can connect straight
// away. Data and password persist across restarts.
//
// A stale postmaster.pid left by a killed run (its process is gone, or the
// pid now belongs to an unrelated process) is removed before starting. If a
// postmaster is still running on the data directory — typically because an
// earlier dev command died without calling Stop, and pg_ctl daemonises the
// server so it outlives its parent — it is reused when it is on the requested
// port (any port when opts.Port is 0) and accepts our password; otherwise it
// is stopped with pg_ctl stop -m fast and started afresh. Stop on the
// returned handle stops the server either way.
//
// When running as root the tools run as the "postgres" system user (the
// server refuses root), Dir is chowned to it recursively, and every parent
// of Dir must already be traversable by it; parents we create ourselves are
// made so, others are reported rather than loosened.
// Start is bounded by ctx, and by 60 seconds when ctx has no deadline.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.Dir == "" {
		return nil, errors.New("devstack: start postgres: PostgresOptions.Dir is required")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("devstack: start postgres: invalid port %d", opts.Port)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("devstack: start postgres: resolve %q: %w", opts.Dir, err)
	}
	// pg_ctl pastes -D and -l into a /bin/sh command line inside double
	// quotes, so these characters would be interpreted by the shell.
	if strings.ContainsAny(dir, "\"$`\\\n") {
		return nil, fmt.Errorf("devstack: start postgres: directory %q contains characters pg_ctl cannot quote (\" $ ` \\ or newline)", dir)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "postgres", "dir", dir)

	runAs, err := pgLookupRunAs()
	if err != nil {
		return nil, err
	}
	if runAs != nil {
		root := opts.ReachableRoot
		if root == "" {
			root = DefaultReachableRoot
		}
		placed, err := pgPlaceCluster(dir, root, runAs, logger)
		if err != nil {
			return nil, err
		}
		if placed != dir {
			dir = placed
			logger = logger.With("cluster", dir)
		}
	}
	p := &Postgres{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "postgres.log"),
		log:     logger,
		runAs:   runAs,
	}
	if err := p.prepareDir(); err != nil {
		return nil, err
	}
	initialised, err := p.checkDataDir()
	if err != nil {
		return nil, err
	}
	if p.binDir, err = pgBinDirFor(p.dataDir); err != nil {
		return nil, err
	}
	if p.password, err = p.loadOrCreatePassword(initialised); err != nil {
		return nil, err
	}
	socketDir := p.socketDir()
	if socketDir != "" {
		if err := os.MkdirAll(socketDir, 0o700); err != nil {
			return nil, fmt.Errorf("devstack: start postgres: create socket directory: %w", err)
		}
	}
	if err := p.chownDir(); err != nil {
		return nil, err
	}
	if !initialised {
		if err := p.initdb(ctx); err != nil {
			return nil, err
		}
	}

	reused, err := p.handleExistingPostmaster(ctx, opts.Port)
	if err != nil {
		return nil, err
	}
	if reused {
		p.rememberPort()
		logger.Info("reusing running postgres", "port", p.port)
		return p, nil
	}

	skipRemembered := false
	for attempt := 1; ; attempt++ {
		if p.port, err = pgChoosePort(dir, opts.Port, skipRemembered); err != nil {
			return nil, err
		}
		logOffset := pgFileSize(p.logPath)
		err := p.start(ctx, socketDir)
		if err == nil {
			break
		}
		tail := pgLogTail(p.logPath, logOffset, 30)
		// A port picked by us can be grabbed by someone else between our
		// probe and postgres binding it; picking again is all it takes.
		if opts.Port == 0 && attempt < 3 && ctx.Err() == nil && pgLooksLikePortClash(err.Error()+tail) {
			logger.Warn("postgres port was taken, retrying on another", "port", p.port)
			skipRemembered = true
			continue
		}
		return nil, fmt.Errorf("devstack: start postgres in %s on port %d: %w%s", dir, p.port, err, pgFormatTail(p.logPath, tail))
	}
	p.rememberPort()
	logger.Info("postgres ready", "port", p.port, "bin", p.binDir)
	return p, nil
}

// URL returns a lib/pq / pgx compatible URL for database as the superuser.
// TLS is disabled because the server only listens on loopback.
func (p *Postgres) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(pgSuperuser, p.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Dir reports where the cluster really lives: PostgresOptions.Dir, or the
// directory under ReachableRoot it links to.
func (p *Postgres) Dir() string { return p.dir }

// Port reports the TCP port actually in use, which differs from
// PostgresOptions.Port when that was 0.
func (p *Postgres) Port() int { return p.port }

// Stop shuts the server down with pg_ctl stop -m fast and waits for it, so
// that a following StartPostgres on the same Dir finds a clean cluster.
// Fast mode rolls back open transactions instead of waiting for clients,
// which dev tools and tests often leave connected. Stop is idempotent and
// safe on a nil *Postgres, so it can be deferred unconditionally.
func (p *Postgres) Stop(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	pid, _, err := pgReadPidFile(p.dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		p.stopped = true
		return nil
	}
	if err == nil && !pgPostmasterAlive(pid, p.dataDir) {
		// pg_ctl stop would fail on a dead pid; the server is down already.
		p.log.Warn("removing stale postmaster.pid on stop", "pid", pid)
		if err := os.Remove(filepath.Join(p.dataDir, "postmaster.pid")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("devstack: stop postgres in %s: remove stale postmaster.pid: %w", p.dir, err)
		}
		p.stopped = true
		return nil
	}
	logOffset := pgFileSize(p.logPath)
	if err := p.pgCtlStop(ctx, "fast"); err != nil {
		if _, statErr := os.Stat(filepath.Join(p.dataDir, "postmaster.pid")); errors.Is(statErr, fs.ErrNotExist) {
			p.stopped = true
			return nil
		}
		return fmt.Errorf("devstack: stop postgres in %s: %w%s", p.dir, err,
			pgFormatTail(p.logPath, pgLogTail(p.logPath, logOffset, 20)))
	}
	p.stopped = true
	p.log.Info("postgres stopped", "port", p.port)
	return nil
}

// FindPostgresBinDir locates the PostgreSQL server binaries (initdb, pg_ctl,
// postgres). Debian-style /usr/lib/postgresql/<ver>/bin is tried first,
// newest version winning, because those directories are not on PATH; then
// `pg_config --bindir`; then the directory of initdb on PATH.
func FindPostgresBinDir() (string, error) {
	if dir := pgNewestVersionedBinDir(pgDebianRoot); dir != "" {
		return dir, nil
	}
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pgConfig, "--bindir").Output(); err == nil {
			dir := strings.TrimSpace(string(out))
			// pg_config ships with libpq-dev, which may be installed
			// without the server; only trust it if initdb is really there.
			if dir != "" && pgIsExecutable(filepath.Join(dir, "initdb")) {
				return dir, nil
			}
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if abs, err := filepath.Abs(initdb); err == nil {
			return filepath.Dir(abs), nil
		}
	}
	return "", errors.New("devstack: no PostgreSQL server binaries found " +
		"(looked for initdb in " + pgDebianRoot + "/*/bin, `pg_config --bindir` and PATH); " +
		"install them with `apt-get install -y postgresql`")
}

// pgNewestVersionedBinDir returns root/<ver>/bin for the highest <ver> whose
// bin contains an executable initdb, or "" if there is none.
func pgNewestVersionedBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var versions []string
	for _, e := range entries {
		if pgVersionKey(e.Name()) != nil {
			versions = append(versions, e.Name())
		}
	}
	slices.SortFunc(versions, func(a, b string) int {
		return -slices.Compare(pgVersionKey(a), pgVersionKey(b))
	})
	for _, v := range versions {
		bin := filepath.Join(root, v, "bin")
		if pgIsExecutable(filepath.Join(bin, "initdb")) {
			return bin
		}
	}
	return ""
}

// pgVersionKey turns "9.6" or "15" into comparable numbers; nil means the
// name is not a version (e.g. a stray "lib" directory).
func pgVersionKey(name string) []int {
	parts := strings.Split(name, ".")
	key := make([]int, 0, len(parts))
	for _, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil
		}
		key = append(key, n)
	}
	return key
}

// pgBinDirFor prefers the binaries matching an existing cluster's major
// version, since a newer server cannot open an older cluster's files and
// several majors are often installed side by side.
func pgBinDirFor(dataDir string) (string, error) {
	if b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		v := strings.TrimSpace(string(b))
		if pgVersionKey(v) != nil {
			bin := filepath.Join(pgDebianRoot, v, "bin")
			if pgIsExecutable(filepath.Join(bin, "pg_ctl")) {
				return bin, nil
			}
		}
	}
	return FindPostgresBinDir()
}

func pgIsExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// pgLookupRunAs returns the account to run the tools as, or nil when the
// current user can run them itself.
func pgLookupRunAs() (*pgAccount, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(pgSystemUser)
	if err != nil {
		return nil, fmt.Errorf("devstack: start postgres: running as root, which PostgreSQL refuses, "+
			"and there is no %q system user to run it as (%w); install the server with "+
			"`apt-get install -y postgresql` (which creates it) or create it with "+
			"`useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres`",
			pgSystemUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("devstack: start postgres: user %q has non-numeric uid %q", u.Username, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("devstack: start postgres: user %q has non-numeric gid %q", u.Username, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("devstack: start postgres: system user %q has uid 0, and PostgreSQL refuses to run as root", u.Username)
	}
	acct := &pgAccount{name: u.Username, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				acct.groups = append(acct.groups, uint32(g))
			}
		}
	}
	if !slices.Contains(acct.groups, acct.gid) {
		acct.groups = append(acct.groups, acct.gid)
	}
	if fi, err := os.Stat(acct.home); err != nil || !fi.IsDir() {
		acct.home = ""
	}
	return acct, nil
}

// prepareDir creates Dir and makes it usable by the account the server
// runs as.
func (p *Postgres) prepareDir() error {
	created, err := pgMkdirAll(p.dir)
	if err != nil {
		return fmt.Errorf("devstack: start postgres: create %s: %w", p.dir, err)
	}
	if p.runAs == nil {
		return nil
	}
	// Dir is handed over to the server account entirely, so it must at
	// least be fully accessible to its (new) owner.
	if fi, err := os.Stat(p.dir); err == nil && fi.Mode().Perm()&0o700 != 0o700 {
		if err := os.Chmod(p.dir, fi.Mode().Perm()|0o700); err != nil {
			return fmt.Errorf("devstack: start postgres: chmod %s: %w", p.dir, err)
		}
	}
	return pgCheckTraversable(p.dir, created, p.runAs)
}

// pgMkdirAll is os.MkdirAll that reports which directories it created, so
// that only those may later be chmod'ed. Parents are made world-traversable
// (0755, regardless of umask) because the server may run as another user;
// Dir itself is 0700 because it holds the password.
func pgMkdirAll(dir string) (map[string]bool, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	created := map[string]bool{}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		perm := os.FileMode(0o755)
		if d == dir {
			perm = 0o700
		}
		if err := os.Mkdir(d, perm); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue // created concurrently by someone else: not ours
			}
			return nil, err
		}
		if err := os.Chmod(d, perm); err != nil {
			return nil, err
		}
		created[d] = true
	}
	return created, nil
}

// pgCheckTraversable makes sure acct can reach dir. Directories we created
// ourselves are fixed up; anything else is reported rather than loosened,
// because silently chmod'ing e.g. /root would be a security surprise.
func pgCheckTraversable(dir string, created map[string]bool, acct *pgAccount) error {
	ancestors := pgAncestors(dir)
	for _, d := range ancestors {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("devstack: start postgres: stat %s: %w", d, err)
		}
		if pgCanTraverse(fi, acct) {
			continue
		}
		if created[d] {
			if err := os.Chmod(d, fi.Mode().Perm()|0o111); err != nil {
				return fmt.Errorf("devstack: start postgres: chmod %s: %w", d, err)
			}
			continue
		}
		owner := "?"
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = strconv.FormatUint(uint64(st.Uid), 10)
		}
		return fmt.Errorf("devstack: start postgres: PostgreSQL must run as system user %q (it refuses to run as root), "+
			"but %q cannot traverse directory %s (mode %v, owner uid %s) on the way to %s; "+
			"run `chmod o+x %s` or choose a cluster directory elsewhere (e.g. under %s)",
			acct.name, acct.name, d, fi.Mode().Perm(), owner, dir, d, os.TempDir())
	}
	return nil
}

// pgAncestors lists dir's ancestors top-down, so that errors name the
// outermost blocking directory, followed by those of its real path when a
// component is a symbolic link (the kernel traverses both).
func pgAncestors(dir string) []string {
	var ancestors []string
	seen := map[string]bool{}
	add := func(path string) {
		var chain []string
		for d := filepath.Dir(path); ; d = filepath.Dir(d) {
			chain = append(chain, d)
			if filepath.Dir(d) == d {
				break
			}
		}
		for i := len(chain) - 1; i >= 0; i-- {
			if !seen[chain[i]] {
				seen[chain[i]] = true
				ancestors = append(ancestors, chain[i])
			}
		}
	}
	add(dir)
	if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
		add(real)
	}
	return ancestors
}

// pgFirstBlocked returns the outermost existing ancestor of dir that acct
// cannot traverse, or "" when none blocks it. Missing ancestors do not
// block: pgMkdirAll creates them traversable.
func pgFirstBlocked(dir string, acct *pgAccount) (string, error) {
	for _, d := range pgAncestors(dir) {
		fi, err := os.Stat(d)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if !pgCanTraverse(fi, acct) {
			return d, nil
		}
	}
	return "", nil
}

// pgCanTraverse applies the kernel's owner/group/other precedence: only the
// first matching class counts, even if a later one would allow access.
func pgCanTraverse(fi fs.FileInfo, acct *pgAccount) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true // cannot tell; let the tools report the real error
	}
	mode := fi.Mode().Perm()
	switch {
	case st.Uid == acct.uid:
		return mode&0o100 != 0
	case slices.Contains(acct.groups, st.Gid):
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

// checkDataDir reports whether Dir/data already holds a cluster and rejects
// states initdb or the server would fail on with a less helpful message.
func (p *Postgres) checkDataDir() (bool, error) {
	fi, err := os.Stat(p.dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("devstack: start postgres: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("devstack: start postgres: %s exists but is not a directory", p.dataDir)
	}
	if p.runAs == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			return false, fmt.Errorf("devstack: start postgres: %s is owned by uid %d, not by the current user (uid %d); "+
				"it was probably created by a run as root: run as root again or remove %s",
				p.dataDir, st.Uid, os.Geteuid(), p.dir)
		}
	}
	if _, err := os.Stat(filepath.Join(p.dataDir, "PG_VERSION")); err == nil {
		return true, nil
	}
	entries, err := os.ReadDir(p.dataDir)
	if err != nil {
		return false, fmt.Errorf("devstack: start postgres: %w", err)
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("devstack: start postgres: %s is not empty but holds no cluster (no PG_VERSION); "+
			"remove it to initialise a fresh one", p.dataDir)
	}
	return false, nil
}

// loadOrCreatePassword returns the superuser password, generating one for a
// new cluster. A random password (rather than trust auth) matters because
// the TCP port is reachable by every local user.
func (p *Postgres) loadOrCreatePassword(initialised bool) (string, error) {
	path := filepath.Join(p.dir, "password")
	b, err := os.ReadFile(path)
	if err == nil {
		pw := strings.TrimSpace(string(b))
		if pw == "" || strings.ContainsAny(pw, "\r\n") {
			return "", fmt.Errorf("devstack: start postgres: %s is empty or malformed", path)
		}
		return pw, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("devstack: start postgres: read password: %w", err)
	}
	if initialised {
		return "", fmt.Errorf("devstack: start postgres: cluster in %s exists but %s is missing, so its superuser "+
			"password is unknown; restore the file or remove %s to start from scratch", p.dataDir, path, p.dir)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("devstack: start postgres: generate password: %w", err)
	}
	pw := hex.EncodeToString(raw) // URL- and shell-safe
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("devstack: start postgres: write password: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", fmt.Errorf("devstack: start postgres: chmod password: %w", err)
	}
	return pw, nil
}

// socketDir returns Dir/run, or "" to disable Unix sockets when that path
// would be too long or unrepresentable. We never use the compiled-in default
// (/var/run/postgresql on Debian): it belongs to the system cluster and is
// not writable by ordinary users.
func (p *Postgres) socketDir() string {
	d := filepath.Join(p.dir, "run")
	if len(d)+len("/.s.PGSQL.65535") > pgMaxSocketPath || strings.ContainsAny(d, ",'\" ") {
		return ""
	}
	return d
}

// chownDir hands Dir over to the server account. Files we wrote as root
// (password, port) must be readable by it and the log must be writable.
func (p *Postgres) chownDir() error {
	if p.runAs == nil {
		return nil
	}
	uid, gid := p.runAs.uid, p.runAs.gid
	err := filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a running server removed a temp file meanwhile
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid == uid && st.Gid == gid {
			return nil
		}
		if err := os.Lchown(path, int(uid), int(gid)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("devstack: start postgres: chown %s to %s: %w", p.dir, p.runAs.name, err)
	}
	return nil
}

func (p *Postgres) initdb(ctx context.Context) error {
	p.log.Info("initialising postgres cluster", "data", p.dataDir, "bin", p.binDir)
	_, err := p.run(ctx, "initdb",
		"-D", p.dataDir,
		"-U", pgSuperuser,
		"--auth=scram-sha-256",
		"--pwfile="+filepath.Join(p.dir, "password"),
		"-E", "UTF8",
		"--locale=C",
		"--no-instructions",
	)
	if err != nil {
		return fmt.Errorf("devstack: initialise postgres cluster in %s: %w", p.dataDir, err)
	}
	return nil
}

// handleExistingPostmaster deals with a postmaster.pid left in the data
// directory; it reports true when a running server was adopted.
func (p *Postgres) handleExistingPostmaster(ctx context.Context, wantPort int) (bool, error) {
	pidPath := filepath.Join(p.dataDir, "postmaster.pid")
	pid, port, err := pgReadPidFile(p.dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil && pgPostmasterAlive(pid, p.dataDir) {
		if port > 0 && (wantPort == 0 || wantPort == port) {
			p.port = port
			readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			readyErr := p.waitReady(readyCtx)
			cancel()
			if readyErr == nil {
				return true, nil
			}
			p.log.Warn("running postgres is not usable, restarting it", "pid", pid, "port", port, "err", readyErr)
		} else {
			p.log.Info("running postgres is on another port, restarting it", "pid", pid, "port", port, "want", wantPort)
		}
		if err := p.pgCtlStop(ctx, "fast"); err != nil {
			return false, fmt.Errorf("devstack: start postgres: stop the postmaster (pid %d) already running on %s: %w", pid, p.dataDir, err)
		}
		p.port = 0
		return false, nil
	}
	// Unreadable, or its process is gone / is now something else (pids are
	// recycled quickly in containers). Postgres itself would refuse to start
	// if the pid happens to be alive, so remove the file.
	p.log.Warn("removing stale postmaster.pid", "pid", pid)
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("devstack: start postgres: remove stale %s: %w", pidPath, err)
	}
	return false, nil
}

// pgReadPidFile returns the pid (line 1) and port (line 4) of postmaster.pid.
func pgReadPidFile(dataDir string) (pid, port int, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, 0, err
	}
	lines := strings.Split(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, 0, fmt.Errorf("malformed postmaster.pid: %q", lines[0])
	}
	if len(lines) > 3 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	return pid, port, nil
}

// pgPostmasterAlive reports whether pid is a live postmaster serving
// dataDir. The postmaster chdirs into its data directory, so on Linux its
// cwd identifies it even when the pid has been recycled.
func pgPostmasterAlive(pid int, dataDir string) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		// EPERM: owned by someone we could not have started it as;
		// postgres treats that as stale too.
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist) // no /proc: assume alive, pg_ctl sorts it out
	}
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		want = dataDir
	}
	return cwd == want
}

// pgChoosePort picks the port to start on. An explicit port that is busy is
// reported up front, since postgres would only say so in its log.
func pgChoosePort(dir string, requested int, skipRemembered bool) (int, error) {
	if requested != 0 {
		if !pgPortFree(requested) {
			return 0, fmt.Errorf("devstack: start postgres: port %d on 127.0.0.1 is already in use", requested)
		}
		return requested, nil
	}
	if !skipRemembered {
		if b, err := os.ReadFile(filepath.Join(dir, "port")); err == nil {
			if port, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && port > 0 && port < 65536 && pgPortFree(port) {
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("devstack: start postgres: pick a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("devstack: start postgres: pick a free port: %w", err)
	}
	return port, nil
}

func pgPortFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func pgLooksLikePortClash(s string) bool {
	return strings.Contains(s, "Address already in use") || strings.Contains(s, "could not bind") ||
		strings.Contains(s, "could not create any TCP/IP sockets")
}

// rememberPort records the port so the next start (with Port 0) reuses it.
// Failure only costs URL stability, so it is logged, not returned.
func (p *Postgres) rememberPort() {
	path := filepath.Join(p.dir, "port")
	if err := os.WriteFile(path, []byte(strconv.Itoa(p.port)+"\n"), 0o644); err != nil {
		p.log.Warn("could not remember postgres port", "path", path, "err", err)
		return
	}
	if p.runAs != nil {
		_ = os.Lchown(path, int(p.runAs.uid), int(p.runAs.gid))
	}
}

// start runs pg_ctl start and then waits for a real connection, because
// pg_ctl -w only proves the postmaster is up, not that our credentials work.
func (p *Postgres) start(ctx context.Context, socketDir string) error {
	settings := []string{
		"listen_addresses=127.0.0.1",
		"port=" + strconv.Itoa(p.port),
		"unix_socket_directories=" + pgShellQuote(socketDir),
		"fsync=on",
		// Keep messages in Dir/postgres.log (pg_ctl -l) so start errors
		// can quote them, whatever postgresql.conf says.
		"logging_collector=off",
		"log_destination=stderr",
	}
	var o strings.Builder
	for i, s := range settings {
		if i > 0 {
			o.WriteByte(' ')
		}
		o.WriteString("-c ")
		o.WriteString(s)
	}
	p.log.Info("starting postgres", "port", p.port)
	if _, err := p.run(ctx, "pg_ctl",
		"-D", p.dataDir,
		"-l", p.logPath,
		"-w", "-t", strconv.Itoa(pgCtlTimeoutSeconds),
		"-o", o.String(),
		"start",
	); err != nil {
		p.stopQuietly()
		return err
	}
	if err := p.waitReady(ctx); err != nil {
		p.stopQuietly()
		return err
	}
	return nil
}

// stopQuietly cleans up after a failed start so no orphan server keeps
// the data directory locked; its own failure is not interesting.
func (p *Postgres) stopQuietly() {
	if _, _, err := pgReadPidFile(p.dataDir); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = p.pgCtlStop(ctx, "immediate")
}

func (p *Postgres) pgCtlStop(ctx context.Context, mode string) error {
	_, err := p.run(ctx, "pg_ctl", "-D", p.dataDir, "-m", mode, "-w", "-t", strconv.Itoa(pgCtlTimeoutSeconds), "stop")
	return err
}

// waitReady polls with lib/pq until SELECT 1 succeeds. Authentication
// failures end the wait at once, since retrying cannot fix a wrong password.
func (p *Postgres) waitReady(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pgReadyTimeout)
		defer cancel()
	}
	connector, err := pq.NewConnector(p.URL("postgres") + "&connect_timeout=5")
	if err != nil {
		return fmt.Errorf("build connection: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxIdleConns(0)
	var lastErr error
	for {
		var one int
		err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		if err == nil {
			return nil
		}
		lastErr = err
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && strings.HasPrefix(pqErr.SQLState(), "28") {
			return fmt.Errorf("connect to postgres on 127.0.0.1:%d: %w (does %s match the cluster?)",
				p.port, err, filepath.Join(p.dir, "password"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for postgres on 127.0.0.1:%d to accept connections: %w (last error: %v)",
				p.port, ctx.Err(), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// run executes a PostgreSQL tool from binDir, as the server account when we
// are root, and returns its combined output (included in errors).
func (p *Postgres) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, tool), args...)
	// A cwd the server account can enter avoids "could not change
	// directory" noise when we are root inside /root.
	cmd.Dir = p.dir
	cmd.Env = p.env()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// pg_ctl start leaves a daemon behind; should it ever inherit our
	// output pipe, do not wait for it to close.
	cmd.WaitDelay = 5 * time.Second
	if p.runAs != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid:    p.runAs.uid,
			Gid:    p.runAs.gid,
			Groups: p.runAs.groups,
		}}
	}
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = "(no output)"
		}
		return out.Bytes(), fmt.Errorf("%s %s: %w\n%s", tool, strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), nil
}

// env is the tools' environment: PG* variables (PGDATA, PGPORT, PGHOST, ...)
// would silently redirect them, and a fixed C locale keeps messages
// parseable and matches the cluster's locale.
func (p *Postgres) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") {
			continue
		}
		if p.runAs != nil && (k == "HOME" || k == "USER" || k == "LOGNAME") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LANG=C", "LC_ALL=C")
	if p.runAs != nil {
		home := p.runAs.home
		if home == "" {
			home = p.dir
		}
		env = append(env, "HOME="+home, "USER="+p.runAs.name, "LOGNAME="+p.runAs.name)
	}
	return env
}

// pgShellQuote quotes s for the /bin/sh command line pg_ctl builds from -o.
func pgShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func pgFileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// pgLogTail returns up to maxLines last lines written to path after offset
// since, so errors show this run's messages rather than older ones.
func pgLogTail(path string, since int64, maxLines int) string {
	const maxBytes = 16 << 10
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	size := fi.Size()
	start := since
	if start > size || start < 0 {
		start = 0 // truncated or replaced meanwhile
	}
	if size-start > maxBytes {
		start = size - maxBytes
	}
	b, err := io.ReadAll(io.NewSectionReader(f, start, size-start))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func pgFormatTail(path, tail string) string {
	if tail == "" {
		return fmt.Sprintf("\n(nothing new in %s)", path)
	}
	return fmt.Sprintf("\n--- tail of %s ---\n%s", path, tail)
}
