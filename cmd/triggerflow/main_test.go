package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/triggerflow/triggerflow/internal/testkit"
)

// envChaosWorker makes the test binary run `triggerflow worker` instead of
// the tests, so a fault test can run the worker as a separate OS process and
// SIGKILL it.
const envChaosWorker = "TRIGGERFLOW_CHAOS_RUN_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(envChaosWorker) == "1" {
		if err := run([]string{"worker"}); err != nil {
			fmt.Fprintln(os.Stderr, "triggerflow worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testkit.Main(m)
}
