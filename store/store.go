// Package store keeps TriggerFlow's definitions, event log and delivery log in
// PostgreSQL through sqlx. Queries are named constants next to the repository
// that runs them; SQL errors become domain errors in one place (translate).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/schemas"
)

// Open connects to PostgreSQL at url and waits (bounded by ctx) until it answers.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32) // as many as may be open: a closed idle connection costs a new SCRAM handshake (~5 ms of CPU) under the next burst
	db.SetConnMaxIdleTime(5 * time.Minute)
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = db.PingContext(pingCtx)
		cancel()
		if err == nil {
			return db, nil
		}
		select {
		case <-ctx.Done():
			db.Close()
			return nil, fmt.Errorf("database not reachable: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// newGoose returns a goose provider over the embedded migrations.
func newGoose(db *sqlx.DB) (*goose.Provider, error) {
	migrations, err := fs.Sub(schemas.Migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db.DB, migrations,
		goose.WithVerbose(false), goose.WithLogger(goose.NopLogger()))
}

// Migrate applies every pending migration and reports each one to log.
func Migrate(ctx context.Context, db *sqlx.DB, log *slog.Logger) error {
	p, err := migrationProvider(db)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MigrationState is one migration and whether it is applied.
type MigrationState struct {
	Version   int64
	File      string
	Applied   bool
	AppliedAt time.Time
}

// MigrationStatus lists every embedded migration with its state.
func MigrationStatus(ctx context.Context, db *sqlx.DB) ([]MigrationState, error) {
	p, err := migrationProvider(db)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationState{
			Version:   s.Source.Version,
			File:      s.Source.Path,
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// PrintMigrationStatus writes a table of MigrationStatus to w.
func PrintMigrationStatus(ctx context.Context, db *sqlx.DB, w io.Writer) error {
	st, err := MigrationStatus(ctx, db)
	if err != nil {
		return err
	}
	for _, s := range st {
		state := "pending"
		if s.Applied {
			state = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%05d  %-40s %s\n", s.Version, s.File, state)
	}
	return nil
}

func migrationProvider(db *sqlx.DB) (*goose.Provider, error) {
	p, err := newGoose(db)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// translate turns driver errors into domain sentinels so callers above the
// store never see SQL codes: no rows → ErrNotFound, unique violation →
// ErrConflict, foreign-key violation → ErrInvalid, connection trouble →
// ErrUnavailable.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, domain.ErrNotFound)
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "23505":
			return fmt.Errorf("%s already exists (%s): %w", what, pqErr.Constraint, domain.ErrConflict)
		case "23503":
			return fmt.Errorf("%s refers to something missing (%s): %w", what, pqErr.Constraint, domain.ErrInvalid)
		}
		switch pqErr.Code.Class() {
		case "08", "57", "53", "40":
			// 40: deadlock or serialization failure — the same request
			// succeeds when retried.
			// Connection exceptions, operator intervention (shutdown) and
			// insufficient resources are worth retrying later.
			return fmt.Errorf("%s: %w: %w", what, err, domain.ErrUnavailable)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if isConnError(err) {
		return fmt.Errorf("%s: %v: %w", what, err, domain.ErrUnavailable)
	}
	return fmt.Errorf("%s: %w", what, err)
}
