package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/triggerflow/triggerflow/internal/secretbox"
)

// persistentSecretKey reads dev's TRIGGERFLOW_SECRET_KEY from path, creating
// a random one (0600) on first use: losing it would make every stored
// webhook secret unreadable, so a restarted dev stack must keep it.
func persistentSecretKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			if _, err := secretbox.ParseKey(v); err != nil {
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
