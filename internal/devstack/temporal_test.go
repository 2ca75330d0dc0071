package devstack

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

var temporalTestAttrs = map[string]enumspb.IndexedValueType{
	"TriggerFlowEventID": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"TriggerFlowWebhook": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// temporalTestLogger writes WARN+ server logs to stderr rather than t.Log:
// server goroutines may still log after the test returned, and t.Log would
// panic then.
func temporalTestLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func temporalTestDial(t *testing.T, tmp *Temporal) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  tmp.Address(),
		Namespace: tmp.Namespace(),
		Logger:    sdklog.NewStructuredLogger(temporalTestLogger()),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", tmp.Address(), err)
	}
	return c
}

func temporalAssertAttrs(ctx context.Context, t *testing.T, c client.Client, ns string) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatalf("list search attributes: %v", err)
	}
	for name, want := range temporalTestAttrs {
		if got, ok := resp.GetCustomAttributes()[name]; !ok || got != want {
			t.Errorf("search attribute %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}

func TestTemporalFilePersistsAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dbFile := filepath.Join(t.TempDir(), "state", "temporal.db")

	start := time.Now()
	tmp, err := StartTemporal(ctx, TemporalOptions{
		DBFile:           dbFile,
		UIPort:           -1,
		SearchAttributes: temporalTestAttrs,
		Logger:           temporalTestLogger(),
	})
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	t.Logf("first start took %v; frontend %s, UI %s", time.Since(start), tmp.Address(), tmp.UIURL())
	stopped := false
	defer func() {
		if !stopped {
			_ = tmp.Stop()
		}
	}()

	if tmp.Namespace() != "default" {
		t.Errorf("namespace = %q, want default", tmp.Namespace())
	}
	if tmp.UIURL() == "" {
		t.Fatal("UI URL empty although UIPort was -1")
	}
	resp, err := http.Get(tmp.UIURL())
	if err != nil {
		t.Fatalf("GET UI: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET UI status = %d, want 200", resp.StatusCode)
	}

	c := temporalTestDial(t, tmp)
	temporalAssertAttrs(ctx, t, c, tmp.Namespace())

	// RegisterSearchAttributes is idempotent: a second call adds nothing and
	// does not fail.
	if err := RegisterSearchAttributes(ctx, c, tmp.Namespace(), temporalTestAttrs); err != nil {
		t.Fatalf("re-register: %v", err)
	}
	// A type conflict is reported instead of silently ignored.
	if err := RegisterSearchAttributes(ctx, c, tmp.Namespace(), map[string]enumspb.IndexedValueType{
		"TriggerFlowEventID": enumspb.INDEXED_VALUE_TYPE_INT,
	}); err == nil {
		t.Error("expected error for search attribute type conflict")
	}

	const scheduleID = "devstack-test-schedule"
	_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: scheduleID,
		// Once a year: the schedule must exist, not fire during the test.
		Spec: client.ScheduleSpec{CronExpressions: []string{"0 0 1 1 *"}},
		Action: &client.ScheduleWorkflowAction{
			ID:        "devstack-test-scheduled-wf",
			Workflow:  "NoWorkerNeeded",
			TaskQueue: "devstack-test-none",
		},
	})
	if err != nil {
		t.Fatalf("create schedule: %v", err)
	}
	// Describe is a query on the scheduler workflow, so it only answers once
	// the workflow finished its first task. Stopping while that task is in
	// flight is legal but makes the first query after the restart wait for
	// the 10s workflow task timeout, which is not what this test is about.
	if _, err := c.ScheduleClient().GetHandle(ctx, scheduleID).Describe(ctx); err != nil {
		t.Fatalf("describe schedule before restart: %v", err)
	}
	c.Close()

	_, portStr, err := net.SplitHostPort(tmp.Address())
	if err != nil {
		t.Fatalf("address %q: %v", tmp.Address(), err)
	}
	port, _ := strconv.Atoi(portStr)
	stopStart := time.Now()
	if err := tmp.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := tmp.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	stopped = true
	t.Logf("stop took %v", time.Since(stopStart))
	if _, err := os.Stat(dbFile); err != nil {
		t.Fatalf("db file missing after stop: %v", err)
	}

	// Restart on the same file and the same frontend port right away, with
	// one more attribute: it must be added to the existing namespace.
	moreAttrs := map[string]enumspb.IndexedValueType{"TriggerFlowExtra": enumspb.INDEXED_VALUE_TYPE_KEYWORD}
	for k, v := range temporalTestAttrs {
		moreAttrs[k] = v
	}
	start = time.Now()
	tmp2, err := StartTemporal(ctx, TemporalOptions{
		DBFile:           dbFile,
		Port:             port,
		SearchAttributes: moreAttrs,
		Logger:           temporalTestLogger(),
	})
	if err != nil {
		t.Fatalf("second start on port %d: %v", port, err)
	}
	t.Logf("second start took %v", time.Since(start))
	defer func() { _ = tmp2.Stop() }()
	if tmp2.UIURL() != "" {
		t.Errorf("UI URL = %q with UIPort 0, want empty", tmp2.UIURL())
	}

	c2 := temporalTestDial(t, tmp2)
	defer c2.Close()
	describeStart := time.Now()
	desc, err := c2.ScheduleClient().GetHandle(ctx, scheduleID).Describe(ctx)
	if err != nil {
		t.Fatalf("describe schedule after restart: %v", err)
	}
	t.Logf("describe after restart took %v", time.Since(describeStart))
	if got := desc.Schedule.Spec.CronExpressions; len(got) == 0 && len(desc.Schedule.Spec.Calendars) == 0 {
		t.Errorf("schedule spec lost after restart: %+v", desc.Schedule.Spec)
	}
	temporalAssertAttrs(ctx, t, c2, tmp2.Namespace())
	sa, err := c2.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: tmp2.Namespace()})
	if err != nil {
		t.Fatalf("list search attributes: %v", err)
	}
	if got := sa.GetCustomAttributes()["TriggerFlowExtra"]; got != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
		t.Errorf("TriggerFlowExtra not added on restart (got %v)", got)
	}
	// The freshly added attribute is usable immediately, both when starting
	// a workflow and in visibility queries (no worker needed for either).
	_, err = c2.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "devstack-test-extra-attr",
		TaskQueue: "devstack-test-none",
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword("TriggerFlowExtra").ValueSet("y")),
	}, "NoWorkerNeeded")
	if err != nil {
		t.Fatalf("start workflow with new attribute: %v", err)
	}
	temporalWaitListed(ctx, t, c2, tmp2.Namespace(), "TriggerFlowExtra = 'y'", "devstack-test-extra-attr")

	c2.Close()
	if err := tmp2.Stop(); err != nil {
		t.Fatalf("final stop: %v", err)
	}
	// Every port must be released once Stop returns.
	l, err := net.Listen("tcp", tmp2.Address())
	if err != nil {
		t.Fatalf("frontend port still bound after stop: %v", err)
	}
	_ = l.Close()
}

func temporalTestGreet(_ workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

func TestTemporalInMemoryWorkflowWithSearchAttribute(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	tmp, err := StartTemporal(ctx, TemporalOptions{
		SearchAttributes: temporalTestAttrs,
		Logger:           temporalTestLogger(),
		DynamicConfig:    map[string]any{"history.transferProcessorMaxPollRPS": 100},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() {
		if err := tmp.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()

	c := temporalTestDial(t, tmp)
	defer c.Close()

	const taskQueue = "devstack-test"
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(temporalTestGreet)
	if err := w.Start(); err != nil {
		t.Fatalf("worker start: %v", err)
	}
	defer w.Stop()

	key := temporal.NewSearchAttributeKeyKeyword("TriggerFlowEventID")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    "devstack-test-greet",
		TaskQueue:             taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(key.ValueSet("x")),
	}, temporalTestGreet, "devstack")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	if out != "hello devstack" {
		t.Errorf("result = %q", out)
	}

	temporalWaitListed(ctx, t, c, tmp.Namespace(), "TriggerFlowEventID = 'x'", "devstack-test-greet")
}

// temporalWaitListed polls a visibility query until it returns exactly the
// given workflow; visibility is eventually consistent, so bounded polling.
func temporalWaitListed(ctx context.Context, t *testing.T, c client.Client, ns, query, workflowID string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query})
		if err != nil {
			t.Fatalf("list workflows %q: %v", query, err)
		}
		execs := resp.GetExecutions()
		if len(execs) == 1 && execs[0].GetExecution().GetWorkflowId() == workflowID {
			return
		} else if len(execs) > 1 {
			t.Fatalf("query %q matched %d executions, want 1", query, len(execs))
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s never appeared for query %q", workflowID, query)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
