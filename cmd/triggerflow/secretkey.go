package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/triggerflow/triggerflow/internal/secretbox"
	"github.com/triggerflow/triggerflow/store"
)

// persistentSecretKey reads dev's TRIGGERFLOW_SECRET_KEY from path, creating
// a random one (0600) on first use: losing it would make every stored
// webhook secret unreadable, so a restarted dev stack must keep it.
func persistentSecretKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			if err := secretbox.ParseKeyRing(v); err != nil {
				return "", fmt.Errorf("%s: %w", path, err)
			}
			return v, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	v, err := secretbox.GenerateKey()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save %s: %w", path, err)
	}
	return v, nil
}

// runSecrets is `triggerflow secrets reseal`: key rotation's second step.
// With the new key first in TRIGGERFLOW_SECRET_KEY (and the old ones after
// it, so everything still opens), it rewrites every webhook secret that is
// not sealed under the new key; then the old keys can be removed.
func runSecrets(ctx context.Context, cfg Config, args []string) error {
	fs := flag.NewFlagSet("secrets", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: triggerflow secrets reseal") }
	batch := fs.Int("batch", 200, "rows per batch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "reseal" {
		fs.Usage()
		return errors.New(`unknown or missing secrets action: only "reseal" exists`)
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	box, err := secretbox.New(cfg.SecretKey)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := (&store.Webhooks{DB: db, Cipher: box}).ResealSecrets(ctx, *batch)
	if err != nil {
		return err
	}
	fmt.Printf("resealed %d webhook(s): every stored secret is now sealed under key %s\n", n, box.Current().ID)
	return nil
}
