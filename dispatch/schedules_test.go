package dispatch

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/workflows"
)

func TestScheduleOptionsOfWebitelTrigger(t *testing.T) {
	tr := &domain.Trigger{ID: "trg_1", Name: "Report", Type: domain.TriggerAtTime, Flow: "flw_1",
		Expression: "0 */1 12 * * *", TimeZone: "Europe/Kyiv", OverlapPolicy: domain.OverlapBufferOne,
		Timeout: 90 * time.Second, Enabled: false}
	opts, err := scheduleOptions(tr)
	if err != nil {
		t.Fatal(err)
	}
	// Temporal reads a 6-field cron string as minute…year: the calendar
	// names the leading seconds field as seconds.
	cals := opts.Spec.Calendars
	if len(opts.Spec.CronExpressions) != 0 || len(cals) != 1 ||
		!reflect.DeepEqual(cals[0].Second, []client.ScheduleRange{{Start: 0, End: 0, Step: 1}}) ||
		!reflect.DeepEqual(cals[0].Minute, []client.ScheduleRange{{Start: 0, End: 59, Step: 1}}) ||
		!reflect.DeepEqual(cals[0].Hour, []client.ScheduleRange{{Start: 12, End: 12, Step: 1}}) ||
		!reflect.DeepEqual(cals[0].DayOfMonth, []client.ScheduleRange{{Start: 1, End: 31, Step: 1}}) {
		t.Fatalf("spec = %+v", opts.Spec)
	}
	if opts.ID != "trigger-trg_1" || opts.Spec.TimeZoneName != "Europe/Kyiv" || !opts.Paused ||
		opts.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE || opts.CatchupWindow != workflows.ScheduleCatchupWindow {
		t.Fatalf("options = %+v", opts)
	}
	a, ok := opts.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		t.Fatalf("action = %T", opts.Action)
	}
	if a.ID != "trigger-trg_1" || a.Workflow != workflows.FlowRunWorkflowName || a.TaskQueue != workflows.TaskQueue ||
		a.WorkflowExecutionTimeout != 90*time.Second {
		t.Fatalf("action = %+v", a)
	}
	if in, ok := a.Args[0].(workflows.FlowRunInput); !ok || in.TriggerID != "trg_1" || in.RunID != "" {
		t.Fatalf("args = %+v", a.Args)
	}
	if v, ok := a.TypedSearchAttributes.GetKeyword(workflows.SATrigger); !ok || v != "trg_1" {
		t.Fatalf("search attribute %s = %q, %v", workflows.SATrigger.GetName(), v, ok)
	}
}

// TestScheduleSpecOfStandardCron: ORed days are two calendars (Temporal
// fires on their union); "@every" is an epoch-aligned interval.
func TestScheduleSpecOfStandardCron(t *testing.T) {
	c, err := domain.ParseCron("0 0 1 * 1")
	if err != nil {
		t.Fatal(err)
	}
	spec := scheduleSpec(c, "Europe/Kyiv")
	if len(spec.Calendars) != 2 || spec.TimeZoneName != "Europe/Kyiv" ||
		!reflect.DeepEqual(spec.Calendars[0].DayOfMonth, []client.ScheduleRange{{Start: 1, End: 1, Step: 1}}) ||
		!reflect.DeepEqual(spec.Calendars[0].DayOfWeek, []client.ScheduleRange{{Start: 0, End: 6, Step: 1}}) ||
		!reflect.DeepEqual(spec.Calendars[1].DayOfMonth, []client.ScheduleRange{{Start: 1, End: 31, Step: 1}}) ||
		!reflect.DeepEqual(spec.Calendars[1].DayOfWeek, []client.ScheduleRange{{Start: 1, End: 1, Step: 1}}) {
		t.Fatalf("spec = %+v", spec)
	}
	c, _ = domain.ParseCron("@every 90s")
	if spec := scheduleSpec(c, "UTC"); len(spec.Calendars) != 0 || len(spec.Intervals) != 1 ||
		spec.Intervals[0].Every != 90*time.Second || spec.Intervals[0].Offset != 0 {
		t.Fatalf("@every spec = %+v", spec)
	}
}

func TestScheduleOptionsRefuses(t *testing.T) {
	base := domain.Trigger{ID: "trg_1", Type: domain.TriggerAtTime, Expression: "@daily", TimeZone: "UTC", OverlapPolicy: domain.OverlapSkip}
	for name, edit := range map[string]func(*domain.Trigger){
		"on_event":       func(t *domain.Trigger) { t.Type = domain.TriggerOnEvent },
		"bad expression": func(t *domain.Trigger) { t.Expression = "61 * * * *" },
		"bad zone":       func(t *domain.Trigger) { t.TimeZone = "Mars/Base" },
		"bad overlap":    func(t *domain.Trigger) { t.OverlapPolicy = "sometimes" },
	} {
		tr := base
		edit(&tr)
		if _, err := scheduleOptions(&tr); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	tr := base
	if _, err := scheduleOptions(&tr); err != nil {
		t.Fatal(err)
	}
}

func TestEveryOverlapPolicyMaps(t *testing.T) {
	for _, p := range domain.OverlapPolicies() {
		if v, ok := overlapPolicies[p]; !ok || v == enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED {
			t.Errorf("overlap policy %q has no Temporal equivalent", p)
		}
	}
}

func TestTemporalError(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{serviceerror.NewNotFound("schedule not found"), domain.ErrNotFound},
		{serviceerror.NewUnavailable("connection refused"), domain.ErrUnavailable},
		{fmt.Errorf("wrapped: %w", serviceerror.NewDeadlineExceeded("slow")), domain.ErrUnavailable},
	}
	for _, tc := range cases {
		if got := temporalError(tc.err, "x"); !errors.Is(got, tc.want) {
			t.Errorf("temporalError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if temporalError(nil, "x") != nil {
		t.Fatal("nil stays nil")
	}
	other := temporalError(errors.New("boom"), "x")
	if errors.Is(other, domain.ErrUnavailable) || errors.Is(other, domain.ErrNotFound) {
		t.Fatalf("unknown errors stay unclassified: %v", other)
	}
}
