//go:build !fuzzsmoke

package apiserver_test

import (
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/internal/testkit"
)

func testkitReceiver(t *testing.T) *testkit.Receiver { return testkit.NewReceiver(t) }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "condition", cond)
}
