//go:build !fuzzsmoke

package dispatch_test

import (
	"testing"

	"github.com/triggerflow/triggerflow/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }
