package devstack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// pgLeftovers are the only entries a cluster directory holds before initdb
// has succeeded (a password, a remembered port, the socket directory, the
// server log and an empty data directory). A directory holding nothing else
// has no data to lose, so it may be replaced by a link to a reachable place.
var pgLeftovers = []string{"password", "port", "run", "postgres.log", "data"}

// pgPlaceCluster decides where the cluster for dir lives when the tools run
// as acct (we are root). It returns dir itself when acct can reach it, and
// otherwise root/<hash of dir>, linked from dir, so that a clone in a 0700
// home starts without loosening the home's permissions.
//
//   - dir is a symbolic link (an earlier start placed it): its target.
//   - dir does not exist, or holds no cluster yet: root/<hash>, with dir
//     made a link to it. An existing root/<hash> is reused, so the data is
//     found again even if the link was lost.
//   - dir holds a cluster acct cannot reach: an error saying how to move it.
func pgPlaceCluster(dir, root string, acct *pgAccount, log *slog.Logger) (string, error) {
	fi, err := os.Lstat(dir)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		target, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", fmt.Errorf("devstack: start postgres: %s links to a cluster directory that is gone (%w); "+
				"remove the link (`rm %s`) to start a fresh cluster", dir, err, dir)
		}
		return target, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("devstack: start postgres: %w", err)
	}

	blocked, err := pgFirstBlocked(dir, acct)
	if err != nil {
		return "", fmt.Errorf("devstack: start postgres: %w", err)
	}
	if blocked == "" {
		return dir, nil
	}
	target := filepath.Join(root, pgPlaceName(dir))
	if fi != nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("devstack: start postgres: %s exists but is not a directory; remove it", dir)
		}
		if !pgOnlyLeftovers(dir) {
			return "", fmt.Errorf("devstack: start postgres: PostgreSQL runs as system user %q (it refuses root), "+
				"which cannot traverse %s to reach the cluster in %s; move the cluster where it can "+
				"(`mkdir -p %s && mv %s %s && ln -s %s %s`) or run `chmod o+x %s`",
				acct.name, blocked, dir, root, dir, target, target, dir, blocked)
		}
		// A start that failed before initdb (as every start from a 0700
		// home did before clusters could be placed elsewhere) left only
		// files we write ourselves.
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("devstack: start postgres: replace the empty cluster directory %s: %w", dir, err)
		}
	}
	if err := pgEnsureSafeRoot(root); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("devstack: start postgres: create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Symlink(target, dir); err != nil {
		return "", fmt.Errorf("devstack: start postgres: link %s to %s: %w", dir, target, err)
	}
	if _, err := os.Stat(target); err == nil {
		log.Info("reusing the cluster kept for this directory", "cluster", target)
	} else {
		log.Info("the postgres user cannot reach this directory: the cluster lives elsewhere",
			"blocked_at", blocked, "cluster", target)
	}
	return target, nil
}

// pgPlaceName names a placed cluster after the directory it serves: the
// same directory always maps to the same place, different ones never share.
func pgPlaceName(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:8])
}

// pgOnlyLeftovers reports whether dir holds nothing but what a start that
// failed before initdb leaves behind.
func pgOnlyLeftovers(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !slices.Contains(pgLeftovers, e.Name()) {
			return false
		}
	}
	data, err := os.ReadDir(filepath.Join(dir, "data"))
	return errors.Is(err, fs.ErrNotExist) || (err == nil && len(data) == 0)
}

// pgEnsureSafeRoot creates root (0755) if missing and refuses one that
// another user could tamper with: we run as root there and hand directories
// below it to the postgres user, so nobody but root may write to it.
func pgEnsureSafeRoot(root string) error {
	if !filepath.IsAbs(root) {
		return fmt.Errorf("devstack: start postgres: the cluster root %q must be an absolute path", root)
	}
	_, err := os.Stat(root)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(root, 0o755); err == nil {
			err = os.Chmod(root, 0o755) // whatever the umask
		}
	}
	if err != nil {
		return fmt.Errorf("devstack: start postgres: create %s for the cluster: %w; "+
			"set TRIGGERFLOW_PG_ROOT to a directory root may create, or run from a folder the postgres user can reach", root, err)
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return fmt.Errorf("devstack: start postgres: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 || !ok || st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("devstack: start postgres: %s must be a directory owned by root that only root may write "+
			"(found mode %v); fix it with `chown root: %s && chmod 755 %s`, or set TRIGGERFLOW_PG_ROOT elsewhere",
			root, fi.Mode(), root, root)
	}
	if fi.Mode().Perm()&0o001 == 0 {
		// Made by hand with a strict mode: the postgres user must traverse
		// it, and only the names of the clusters in it are visible.
		if err := os.Chmod(root, fi.Mode().Perm()|0o111); err != nil {
			return fmt.Errorf("devstack: start postgres: chmod %s: %w", root, err)
		}
	}
	return nil
}
