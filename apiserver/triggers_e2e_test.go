//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/dispatch"

	"go.temporal.io/sdk/converter"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/store"
)

// temporalNextRuns waits until a trigger read shows next runs computed by
// its Temporal schedule, and returns them parsed.
func temporalNextRuns(t *testing.T, s *teststack.Stack, id string) []time.Time {
	t.Helper()
	var got map[string]any
	testkit.Eventually(t, 20*time.Second, "next runs from the schedule of "+id, func() bool {
		got = s.MustDo(200, "GET", "/v1/triggers/"+id, nil).Map(t)
		return got["schedule"].(map[string]any)["next_runs_from"] == "temporal"
	})
	var runs []time.Time
	for _, v := range got["next_runs"].([]any) {
		at, err := time.Parse(time.RFC3339, v.(string))
		if err != nil {
			t.Fatalf("next run %v is not RFC 3339: %v", v, err)
		}
		runs = append(runs, at)
	}
	return runs
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestAtTimeScheduleFiresEveryMinuteOfNoonInKyiv checks Webitel's own
// example: "0 */1 12 * * *" (leading seconds) means every minute from 12:00
// to 12:59 — not, as Temporal would read the 6 fields unconverted, minute 0
// of every hour on the 12th.
func TestAtTimeScheduleFiresEveryMinuteOfNoonInKyiv(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	seedFlow(t, s.DB, "report", "service")
	tr := postTrigger(t, s, map[string]any{"name": "Noon", "type": "at_time", "flow": "report",
		"expression": "0 */1 12 * * *", "timezone": "Europe/Kyiv"})
	if tr["expression_text"] != "Every minute between 12:00 and 12:59" {
		t.Fatalf("expression_text = %v", tr["expression_text"])
	}
	runs := temporalNextRuns(t, s, tr["id"].(string))
	if len(runs) != domain.NextRunsShown {
		t.Fatalf("next_runs = %v", runs)
	}
	kyiv := zone(t, "Europe/Kyiv")
	for i, at := range runs {
		local := at.In(kyiv)
		if local.Hour() != 12 || local.Second() != 0 {
			t.Errorf("run %d at %v is not within 12:00–12:59 Kyiv time", i, local)
		}
		_, want := local.Zone()
		if _, off := at.Zone(); off != want {
			t.Errorf("run %d is written with offset %d, Kyiv's is %d", i, off, want)
		}
		if i > 0 {
			prev := runs[i-1].In(kyiv)
			nextMinute := local.Sub(prev) == time.Minute
			nextNoon := prev.Minute() == 59 && local.Minute() == 0 && local.YearDay() != prev.YearDay()
			if !nextMinute && !nextNoon {
				t.Errorf("run %d at %v does not follow %v by a minute", i, local, prev)
			}
		}
	}
	expr, _ := domain.ParseCron("0 */1 12 * * *")
	if want := expr.Next(runs[0].Add(-time.Second), kyiv, 5); !sameTimes(runs, want) {
		t.Fatalf("Temporal's next runs %v differ from the domain's %v", runs, want)
	}
}

func sameTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// TestAtTimeScheduleAcrossDSTMatchesTheDomain checks days with a clock
// change against the domain's Next: a skipped local time does not fire, a
// repeated one fires twice. (Kyiv moves 03:00 → 04:00 on the last Sunday of
// March; New York skips 02:00–03:00 on the second Sunday of March and
// repeats 01:00–02:00 on the first Sunday of November.)
//
// Kyiv's repeated hour (04:00 → 03:00 on the last Sunday of October) is
// checked only for what it is sure to be: Temporal 1.32's calendar assumes
// time.Date picks the first of two equal wall times, which Go does only west
// of UTC; east of it a repeated 03:30 fires once, at the later offset, and
// a step through the hour ("*/20 3 …") yields 03:00 and then 04:20.
func TestAtTimeScheduleAcrossDSTMatchesTheDomain(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	seedFlow(t, s.DB, "report", "service")
	cases := []struct {
		name, expr, zone string
		matchesDomain    bool
		check            func(t *testing.T, local []time.Time)
	}{
		{"Kyiv spring forward", "0 30 3 * 3 SUN", "Europe/Kyiv", true, func(t *testing.T, local []time.Time) {
			for _, at := range local {
				if at.AddDate(0, 0, 7).Month() == time.April {
					t.Errorf("%v is the last Sunday of March, when 03:30 does not exist in Kyiv", at)
				}
				if at.Hour() != 3 || at.Minute() != 30 {
					t.Errorf("%v is not 03:30", at)
				}
			}
		}},
		{"New York spring forward", "30 2 * 3 0", "America/New_York", true, func(t *testing.T, local []time.Time) {
			for _, at := range local {
				if d := at.Day(); d >= 8 && d <= 14 {
					t.Errorf("%v is the second Sunday of March, when 02:30 does not exist in New York", at)
				}
			}
		}},
		// Every Sunday of November: the first is the fall-back day. (Standard
		// cron cannot say "the first Sunday": "1-7 … 0" ORs the two fields.)
		{"New York fall back", "30 1 * 11 0", "America/New_York", true, func(t *testing.T, local []time.Time) {
			if local[0].Format("2006-01-02 15:04") != local[1].Format("2006-01-02 15:04") || local[1].Sub(local[0]) != time.Hour {
				t.Errorf("01:30 of the first Sunday of November should fire twice, an hour apart: %v", local)
			}
		}},
		{"Kyiv fall back", "0 30 3 * 10 SUN", "Europe/Kyiv", false, func(t *testing.T, local []time.Time) {
			last := false
			for _, at := range local {
				if at.Hour() != 3 || at.Minute() != 30 || at.Weekday() != time.Sunday || at.Month() != time.October {
					t.Errorf("%v is not 03:30 on a Sunday of October", at)
				}
				last = last || at.Day() >= 25
			}
			if !last {
				t.Errorf("the last Sunday of October (the fall-back day) does not fire: %v", local)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := postTrigger(t, s, map[string]any{"name": tc.name, "type": "at_time", "flow": "report",
				"expression": tc.expr, "timezone": tc.zone})
			runs := temporalNextRuns(t, s, tr["id"].(string))
			loc := zone(t, tc.zone)
			expr, err := domain.ParseCron(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if want := expr.Next(time.Now().Add(-time.Minute), loc, 5); tc.matchesDomain && !sameTimes(runs, want) {
				t.Fatalf("Temporal's next runs %v differ from the domain's %v", runs, want)
			}
			local := make([]time.Time, len(runs))
			for i, at := range runs {
				local[i] = at.In(loc)
				if _, off := at.Zone(); off != func() int { _, o := local[i].Zone(); return o }() {
					t.Errorf("%s is not written with the zone's offset", at.Format(time.RFC3339))
				}
			}
			tc.check(t, local)
		})
	}
}

func TestStopPausesAndStartUnpausesTheSchedule(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	seedFlow(t, s.DB, "report", "service")
	tr := postTrigger(t, s, map[string]any{"name": "Token refresh", "type": "at_time", "flow": "report", "expression": "*/30 * * * *"})
	id := tr["id"].(string)
	handle := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+id)
	paused := func() bool {
		d, err := handle.Describe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return d.Schedule.State.Paused
	}
	if paused() || tr["paused"] != false {
		t.Fatal("a new enabled trigger's schedule is paused")
	}

	stopped := s.MustDo(200, "POST", "/v1/triggers/"+id+"/stop", nil).Map(t)
	if !paused() {
		t.Fatal("stop did not pause the schedule")
	}
	// A paused schedule has no next action times: the trigger shows what
	// would run, computed locally, and says it is paused.
	sched := stopped["schedule"].(map[string]any)
	if stopped["enabled"] != false || stopped["paused"] != true || sched["state"] != "paused" ||
		sched["next_runs_from"] != "local" || len(stopped["next_runs"].([]any)) != 5 {
		t.Fatalf("stopped trigger = %v", stopped)
	}
	started := s.MustDo(200, "POST", "/v1/triggers/"+id+"/start", nil).Map(t)
	if paused() || started["enabled"] != true || started["paused"] != false {
		t.Fatalf("start did not unpause: %v", started)
	}
	// The enabled switch of PATCH does the same.
	s.MustDo(200, "PATCH", "/v1/triggers/"+id, map[string]any{"enabled": false})
	if !paused() {
		t.Fatal("PATCH enabled=false did not pause the schedule")
	}
	s.MustDo(200, "PATCH", "/v1/triggers/"+id, map[string]any{"enabled": true})
	if paused() {
		t.Fatal("PATCH enabled=true did not unpause the schedule")
	}
	// A trigger created disabled starts paused.
	off := postTrigger(t, s, map[string]any{"name": "Later", "type": "at_time", "flow": "report", "expression": "@daily", "enabled": false})
	d, err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+off["id"].(string)).Describe(context.Background())
	if err != nil || !d.Schedule.State.Paused || off["paused"] != true {
		t.Fatalf("disabled trigger's schedule: %v %v", err, off)
	}
	// Stop and start of an on_event trigger only switch it.
	on := postTrigger(t, s, map[string]any{"name": "Case", "type": "on_event", "flow": "report", "object": "case", "event": "created"})
	if got := s.MustDo(200, "POST", "/v1/triggers/"+on["id"].(string)+"/stop", nil).Map(t); got["enabled"] != false || got["paused"] != nil {
		t.Fatalf("stopped on_event trigger = %v", got)
	}
	s.MustDo(404, "POST", "/v1/triggers/trg_nope/start", nil)
}

// describeRun asks Temporal for a run's workflow type and keyword search
// attributes.
func describeRun(t *testing.T, s *teststack.Stack, workflowID, runID string) (string, map[string]any) {
	t.Helper()
	d, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflowID, runID)
	if err != nil {
		t.Fatalf("describe %s: %v", workflowID, err)
	}
	attrs := map[string]any{}
	for name, p := range d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
		var v any
		if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err == nil {
			attrs[name] = v
		}
	}
	return d.GetWorkflowExecutionInfo().GetType().GetName(), attrs
}

// runOf waits for a trigger's (or hook's) runs list to hold a run in
// status and returns it.
func runOf(t *testing.T, s *teststack.Stack, runsPath, status string) map[string]any {
	t.Helper()
	var run map[string]any
	testkit.Eventually(t, 60*time.Second, "a run of "+runsPath+" becomes "+status, func() bool {
		var list struct {
			Items []map[string]any `json:"items"`
		}
		s.MustDo(200, "GET", runsPath+"?status="+status, nil).JSON(t, &list)
		if len(list.Items) == 0 {
			return false
		}
		run = list.Items[0]
		return true
	})
	return run
}

func TestRunNowFiresTheScheduleAndRunsTheFlow(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	flowID := seedFlow(t, s.DB, "report", "service")
	// A schedule that will not fire by itself during the test.
	tr := postTrigger(t, s, map[string]any{"name": "Yearly", "type": "at_time", "flow": "report", "expression": "@yearly", "timeout": "1m"})
	id := tr["id"].(string)
	if r := s.Do("POST", "/v1/triggers/"+id+"/run", map[string]any{"event": map[string]any{"type": "case.created"}}); r.Status != 400 {
		t.Fatalf("at_time run with an event: %d %s", r.Status, r.Body)
	}

	run := s.MustDo(http.StatusAccepted, "POST", "/v1/triggers/"+id+"/run", nil).Map(t)
	wfID, runID := run["workflow_id"].(string), run["run_id"].(string)
	if !strings.HasPrefix(wfID, "trigger-"+id+"-") || runID == "" || run["trigger_id"] != id {
		t.Fatalf("run = %v", run)
	}
	typ, attrs := describeRun(t, s, wfID, runID)
	if typ != "FlowRunWorkflow" || attrs["TriggerFlowTrigger"] != id || attrs["TemporalScheduledById"] != "trigger-"+id {
		t.Fatalf("workflow %s: type %s, search attributes %v", wfID, typ, attrs)
	}
	done := runOf(t, s, "/v1/triggers/"+id+"/runs", "succeeded")
	if done["workflow_id"] != wfID || done["flow_id"] != flowID || done["finished_at"] == nil {
		t.Fatalf("finished run = %v", done)
	}
	var list struct{ Total int }
	s.MustDo(200, "GET", "/v1/triggers/"+id+"/runs", nil).JSON(t, &list)
	if list.Total != 1 {
		t.Fatalf("one fire-now is one run, got %d", list.Total)
	}
	if r := s.Do("GET", "/v1/triggers/"+id+"/runs?status=exploded", nil); r.Status != 400 {
		t.Fatalf("bad status filter: %d", r.Status)
	}
	// The schedule itself remembers the action.
	d, err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+id).Describe(context.Background())
	if err != nil || len(d.Info.RecentActions) != 1 || d.Info.RecentActions[0].StartWorkflowResult.WorkflowID != wfID {
		t.Fatalf("schedule's recent actions: %v %+v", err, d.Info.RecentActions)
	}
}

func TestOnEventTriggerAndQueueHookRunOnlyForMatchingEvents(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	flowID := seedFlow(t, s.DB, "notify", "service")
	tr := postTrigger(t, s, map[string]any{"name": "Urgent case", "type": "on_event", "flow": "notify",
		"object": "case", "event": "created",
		"conditions": []map[string]any{{"reference": "case.priority", "operator": "in", "value": "high, urgent"}}})
	trID := tr["id"].(string)
	hook := s.MustDo(201, "POST", "/v1/queues/42/hooks", map[string]any{"event": "missed", "flow": "notify"}).Map(t)
	hookID := hook["id"].(string)

	publish(t, s, "case-1", "case.created", map[string]any{"case": map[string]any{"priority": "urgent"}})
	publish(t, s, "case-2", "case.created", map[string]any{"case": map[string]any{"priority": "low"}})
	publish(t, s, "case-3", "case.updated", map[string]any{"case": map[string]any{"priority": "urgent"}})
	publish(t, s, "q-1", "queue.missed", map[string]any{"queue_id": "42"})
	publish(t, s, "q-2", "queue.missed", map[string]any{"queue_id": 42})
	publish(t, s, "q-3", "queue.missed", map[string]any{"queue_id": "7"})
	publish(t, s, "q-4", "queue.joined", map[string]any{"queue_id": "42"})
	publish(t, s, "case-1", "case.created", map[string]any{"case": map[string]any{"priority": "urgent"}}) // repeated id

	runsOf := func(eventID string) []map[string]any {
		var ev struct {
			Runs []map[string]any `json:"runs"`
		}
		s.MustDo(200, "GET", "/v1/events/"+eventID, nil).JSON(t, &ev)
		return ev.Runs
	}
	for _, id := range []string{"case-2", "case-3", "q-3", "q-4"} {
		if runs := runsOf(id); len(runs) != 0 {
			t.Errorf("event %s does not match, yet led to runs %v", id, runs)
		}
	}
	// Each run makes its try inline in its trigger's (or hook's) batch run
	// workflow, which carries the trigger's and the queue's attributes.
	check := func(eventID, source, attr, attrValue string) {
		t.Helper()
		var run map[string]any
		testkit.Eventually(t, 60*time.Second, "the run of "+eventID+" succeeds", func() bool {
			runs := runsOf(eventID)
			if len(runs) != 1 {
				return false
			}
			run = runs[0]
			return run["status"] == "succeeded"
		})
		wf, _ := run["workflow_id"].(string)
		if !strings.HasPrefix(wf, "trigger-batch-") || !strings.HasSuffix(wf, "-"+source) || run["flow_id"] != flowID {
			t.Fatalf("run of %s = %v, want a batch run workflow of %s", eventID, run, source)
		}
		typ, attrs := describeRun(t, s, wf, run["run_id"].(string))
		if typ != "RunBatchWorkflow" || attrs[attr] != attrValue || attrs["TriggerFlowTrigger"] != source {
			t.Fatalf("workflow %s: type %s, search attributes %v", wf, typ, attrs)
		}
	}
	check("case-1", trID, "TriggerFlowEventType", "case.created")
	check("q-1", hookID, "TriggerFlowQueue", "42")
	check("q-2", hookID, "TriggerFlowQueue", "42")

	var list struct{ Total int }
	s.MustDo(200, "GET", "/v1/triggers/"+trID+"/runs", nil).JSON(t, &list)
	if list.Total != 1 {
		t.Fatalf("trigger runs = %d, want 1 (a repeated event id is one run)", list.Total)
	}
	s.MustDo(200, "GET", "/v1/queues/42/hooks/"+hookID+"/runs?status=succeeded", nil).JSON(t, &list)
	if list.Total != 2 {
		t.Fatalf("hook runs = %d, want 2", list.Total)
	}

	// Disabled definitions match nothing.
	s.MustDo(200, "POST", "/v1/triggers/"+trID+"/stop", nil)
	s.MustDo(200, "PATCH", "/v1/queues/42/hooks/"+hookID, map[string]any{"enabled": false})
	publish(t, s, "case-4", "case.created", map[string]any{"case": map[string]any{"priority": "high"}})
	publish(t, s, "q-5", "queue.missed", map[string]any{"queue_id": "42"})
	if len(runsOf("case-4")) != 0 || len(runsOf("q-5")) != 0 {
		t.Fatal("disabled trigger or hook still runs")
	}
}

func TestOnEventRunNowWithAGivenOrSampleEvent(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	seedFlow(t, s.DB, "notify", "service")
	tr := postTrigger(t, s, map[string]any{"name": "Comment edited", "type": "on_event", "flow": "notify",
		"object": "case_comment", "event": "updated", "timeout": "45s"})
	id := tr["id"].(string)

	run := s.MustDo(http.StatusAccepted, "POST", "/v1/triggers/"+id+"/run", map[string]any{
		"event": map[string]any{"id": "manual-1", "data": map[string]any{"comment": "hello"}}}).Map(t)
	if run["workflow_id"] != "trigger-"+id+"-manual-1" || run["event_id"] != "manual-1" || run["status"] != "running" {
		t.Fatalf("run = %v", run)
	}
	typ, attrs := describeRun(t, s, run["workflow_id"].(string), run["run_id"].(string))
	if typ != "FlowRunWorkflow" || attrs["TriggerFlowTrigger"] != id || attrs["TriggerFlowEventType"] != "case_comment.updated" {
		t.Fatalf("workflow: %s %v", typ, attrs)
	}
	d, err := s.Temporal.DescribeWorkflowExecution(context.Background(), run["workflow_id"].(string), "")
	if err != nil || d.GetExecutionConfig().GetWorkflowExecutionTimeout().AsDuration() != 45*time.Second {
		t.Fatalf("execution timeout is not the trigger's: %v %v", err, d.GetExecutionConfig())
	}
	// The event is stored (not published) and shows its run.
	ev := s.MustDo(200, "GET", "/v1/events/manual-1", nil).Map(t)
	if ev["type"] != "case_comment.updated" || len(ev["runs"].([]any)) != 1 {
		t.Fatalf("event = %v", ev)
	}
	// The same event id again is the same run.
	again := s.MustDo(http.StatusOK, "POST", "/v1/triggers/"+id+"/run", map[string]any{"event": map[string]any{"id": "manual-1"}}).Map(t)
	if again["id"] != run["id"] {
		t.Fatalf("repeated event id made another run: %v", again)
	}
	if r := s.Do("POST", "/v1/triggers/"+id+"/run", map[string]any{"event": map[string]any{"type": "case.created"}}); r.Status != 400 {
		t.Fatalf("event of another type: %d %s", r.Status, r.Body)
	}
	// Without a body, a sample event.
	sample := s.MustDo(http.StatusAccepted, "POST", "/v1/triggers/"+id+"/run", nil).Map(t)
	if !strings.HasPrefix(sample["event_id"].(string), "evt_") {
		t.Fatalf("sample run = %v", sample)
	}
	testkit.Eventually(t, 60*time.Second, "both runs succeed", func() bool {
		var list struct{ Total int }
		s.MustDo(200, "GET", "/v1/triggers/"+id+"/runs?status=succeeded", nil).JSON(t, &list)
		return list.Total == 2
	})
}

func TestSaveAllRecreatesLostSchedules(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	seedFlow(t, s.DB, "report", "service")
	a := postTrigger(t, s, map[string]any{"name": "A", "type": "at_time", "flow": "report", "expression": "@daily"})
	b := postTrigger(t, s, map[string]any{"name": "B", "type": "at_time", "flow": "report", "expression": "@weekly", "enabled": false})
	postTrigger(t, s, map[string]any{"name": "C", "type": "on_event", "flow": "report", "object": "case", "event": "created"})
	for _, id := range []string{a["id"].(string), b["id"].(string)} {
		if err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+id).Delete(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	triggers, err := (&store.Triggers{DB: s.DB}).AtTime(context.Background())
	if err != nil || len(triggers) != 2 {
		t.Fatalf("at_time triggers: %d %v", len(triggers), err)
	}
	n, err := dispatch.Schedules{Client: s.Temporal}.SaveAll(context.Background(), triggers)
	if err != nil || n != 2 || !s.ScheduleExists(t, a["id"].(string)) {
		t.Fatalf("save all: %d %v", n, err)
	}
	d, err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+b["id"].(string)).Describe(context.Background())
	if err != nil || !d.Schedule.State.Paused {
		t.Fatalf("a disabled trigger's schedule comes back paused: %v", err)
	}
}
