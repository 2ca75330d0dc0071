package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/domain"
)

// withTx runs f in a transaction, committing when it returns nil.
func withTx(ctx context.Context, db *sqlx.DB, f func(tx *sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return translate(err, "begin transaction")
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return translate(tx.Commit(), "commit")
}

// changeDefinitions runs f in a transaction that also announces the change
// on NotifyChannel (what says which definition), so other processes' matching
// indexes refresh; after the commit it calls onChange, so this process's
// index is fresh before the caller answers.
func changeDefinitions(ctx context.Context, db *sqlx.DB, what string, onChange func(), f func(tx *sqlx.Tx) error) error {
	err := withTx(ctx, db, func(tx *sqlx.Tx) error {
		if err := f(tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, notifyDefinitions, what)
		return translate(err, "notify")
	})
	if err == nil && onChange != nil {
		onChange()
	}
	return err
}

// oneRow checks the result of a statement that must change exactly one row:
// a database error is translated (what names the thing), no row changed is
// ErrNotFound (notFound says what was missing).
func oneRow(res sql.Result, err error, what, notFound string) error {
	if err != nil {
		return translate(err, what)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", notFound, domain.ErrNotFound)
	}
	return nil
}

// orderBy turns an API sort ("name", "-created_at") into ORDER BY with a
// stable tiebreak; allowed maps API names to columns. Default: newest first.
func orderBy(sort string, allowed map[string]string) string {
	dir := "ASC"
	name := sort
	if strings.HasPrefix(sort, "-") {
		dir, name = "DESC", sort[1:]
	}
	col, ok := allowed[name]
	if !ok || sort == "" {
		return " ORDER BY created_at DESC, id DESC"
	}
	return fmt.Sprintf(" ORDER BY %s %s, id %s", col, dir, dir)
}

// escapeLike makes user text literal inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
