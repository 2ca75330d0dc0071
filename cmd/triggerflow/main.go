// Command triggerflow is TriggerFlow's one binary:
//
//	triggerflow dev       everything on one machine (embedded Temporal + UI, private PostgreSQL, worker, API)
//	triggerflow api       the admin API against an external Temporal and PostgreSQL
//	triggerflow worker    the Temporal worker against an external Temporal and PostgreSQL
//	triggerflow migrate   apply (up) or list (status) the database migrations
//	triggerflow secrets   reseal stored secrets under the newest TRIGGERFLOW_SECRET_KEY
//	triggerflow bench     measure delivery throughput and latency through the real stack
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/triggerflow/triggerflow/internal/tracing"

	_ "time/tzdata" // time zones work on machines without a tz database
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: triggerflow <command> [flags]

commands:
  dev       run everything on one machine: embedded Temporal server and UI,
            a private PostgreSQL (unless DATABASE_URL is set), the worker and the API
  api       run the admin API (needs DATABASE_URL and TEMPORAL_ADDRESS)
  worker    run the Temporal worker (needs DATABASE_URL and TEMPORAL_ADDRESS)
  migrate   apply database migrations: "migrate up" (default) or "migrate status"
  secrets reseal
            seal every stored webhook secret under the newest key of
            TRIGGERFLOW_SECRET_KEY (after adding a key in front), so older keys can go
  bench     measure delivery throughput and latency through the real stack
            (starts a dev stack unless --api is given; see "triggerflow bench -h")
  healthcheck URL  exit 0 when URL answers 200 (for container health checks)
  version   print the version

Settings come from environment variables (see the README); "triggerflow <command> -h"
lists a command's flags.
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "triggerflow:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cmd, rest := args[0], args[1:]
	if cmd == "dev" || cmd == "api" || cmd == "worker" {
		shutdown, err := tracing.Setup(ctx, "triggerflow-"+cmd, os.Getenv)
		if err != nil {
			return err
		}
		defer func() {
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = shutdown(flushCtx)
		}()
	}
	switch cmd {
	case "dev":
		return runDev(ctx, cfg, rest)
	case "api":
		return runAPI(ctx, cfg, rest)
	case "worker":
		return runWorker(ctx, cfg, rest)
	case "migrate":
		return runMigrate(ctx, cfg, rest)
	case "secrets":
		return runSecrets(ctx, cfg, rest)
	case "bench":
		return runBench(ctx, cfg, rest)
	case "healthcheck":
		return runHealthcheck(ctx, rest)
	case "version":
		fmt.Println(version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
