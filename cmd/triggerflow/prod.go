package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/triggerflow/triggerflow/internal/dbgauges"
	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/store"
)

// runAPI is the production API process.
func runAPI(ctx context.Context, cfg Config, args []string) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "address to listen on (TRIGGERFLOW_HTTP_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	if cfg.SecretKey == "" {
		return secretbox.ErrNoKey
	}
	log := newLogger(cfg).With("process", "api")
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	reg := newRegistry()
	tc, err := dialTemporal(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer tc.Close()
	if cfg.AdminToken == "" {
		log.Warn("TRIGGERFLOW_ADMIN_TOKEN is not set: no key can call the API")
	}
	p, err := startAPI(ctx, cfg, db, tc, log, reg)
	if err != nil {
		return err
	}
	log.Info("api listening", "addr", p.Addr)
	select {
	case <-ctx.Done():
	case err := <-p.err:
		p.Stop()
		return err
	}
	p.Stop()
	return nil
}

// runWorker is the production worker process.
func runWorker(ctx context.Context, cfg Config, args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	if cfg.SecretKey == "" {
		return secretbox.ErrNoKey
	}
	log := newLogger(cfg).With("process", "worker")
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	reg := newRegistry()
	tc, err := dialTemporal(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer tc.Close()
	p, err := startWorker(ctx, cfg, db, tc, log, reg)
	if err != nil {
		return err
	}
	// The worker exports the gauges read from PostgreSQL (one process kind
	// does, so dashboards do not count them twice).
	reg.MustRegister(dbgauges.New(&store.Stats{DB: db}, log))
	if cfg.WorkerHTTPAddr != "off" {
		addr, err := serveWorkerHTTP(ctx, cfg.WorkerHTTPAddr, workerHTTPHandler(db, tc, cfg.TemporalNamespace, reg, log), log)
		if err != nil {
			p.Stop()
			return err
		}
		log.Info("worker health and metrics", "addr", addr)
	}
	log.Info("worker polling", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace)
	<-ctx.Done()
	p.Stop()
	return nil
}

// runMigrate applies migrations ("up", the default) or lists them ("status").
func runMigrate(ctx context.Context, cfg Config, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: triggerflow migrate [up|status]") }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	action := "up"
	if fs.NArg() > 0 {
		action = fs.Arg(0)
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	switch action {
	case "up":
		return store.Migrate(ctx, db, newLogger(cfg))
	case "status":
		return store.PrintMigrationStatus(ctx, db, os.Stdout)
	default:
		fs.Usage()
		return fmt.Errorf("unknown migrate action %q", action)
	}
}

// openDB connects, waiting up to a minute for PostgreSQL to come up (as it
// does when started alongside in docker-compose).
func openDB(ctx context.Context, url string) (*sqlx.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return store.Open(ctx, url)
}
