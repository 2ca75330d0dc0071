package testkit

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/triggerflow/triggerflow/workflows"
)

var (
	tsOnce sync.Once
	ts     *temporaltest.TestServer
	tsErr  error
)

// Temporal returns a client of the embedded Temporal server shared by the
// test binary (in-memory SQLite), with TriggerFlow's search attributes
// registered. Tests isolate themselves by workflow ids, not servers.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	tsOnce.Do(func() {
		ts = temporaltest.NewServer()
		atExit(func() {
			defer func() { _ = recover() }() // temporaltest logs via a nil T on stop errors
			ts.Stop()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, tsErr = ts.GetDefaultClient().OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace:        ts.GetDefaultNamespace(),
			SearchAttributes: workflows.SearchAttributes(),
		})
	})
	if tsErr != nil {
		t.Fatalf("embedded temporal: %v", tsErr)
	}
	return ts.GetDefaultClient()
}

// TemporalAddress is the embedded server's frontend host:port.
func TemporalAddress(t testing.TB) string {
	Temporal(t)
	return ts.GetFrontendHostPort()
}

// TemporalNamespace is the embedded server's namespace.
func TemporalNamespace(t testing.TB) string {
	Temporal(t)
	return ts.GetDefaultNamespace()
}

// FreshTemporal starts a Temporal server of the test's own, with
// TriggerFlow's search attributes and nothing else — a cluster whose data
// was lost, for instance — stopped when the test ends, and returns a client
// of it.
func FreshTemporal(t testing.TB) client.Client {
	t.Helper()
	srv := temporaltest.NewServer()
	t.Cleanup(func() {
		defer func() { _ = recover() }()
		srv.Stop()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.GetDefaultClient().OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        srv.GetDefaultNamespace(),
		SearchAttributes: workflows.SearchAttributes(),
	}); err != nil {
		t.Fatalf("fresh temporal: %v", err)
	}
	return srv.GetDefaultClient()
}
