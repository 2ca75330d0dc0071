//go:build !fuzzsmoke

package apiserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/triggerflow/triggerflow/apiserver"
	"github.com/triggerflow/triggerflow/internal/openapicheck"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/store"
)

// seedFlow stores a one-step flow straight into the database, so trigger
// tests do not depend on the flow API, and returns its id.
func seedFlow(t *testing.T, db *sqlx.DB, name, typ string) string {
	t.Helper()
	id := store.NewID(store.PrefixFlow)
	steps := `[{"name": "say", "action": "log", "params": {"message": "fired {{ event.type }}"}}]`
	db.MustExec(`INSERT INTO flows (id, name, type, steps) VALUES ($1, $2, $3, $4)`, id, name, typ, steps)
	db.MustExec(`INSERT INTO flow_versions (flow_id, version, steps) VALUES ($1, 1, $2)`, id, steps)
	return id
}

// postTrigger creates a trigger and deletes its schedule when the test ends:
// the embedded Temporal server outlives each test's database.
func postTrigger(t *testing.T, s *teststack.Stack, body map[string]any) map[string]any {
	t.Helper()
	tr := s.MustDo(http.StatusCreated, "POST", "/v1/triggers", body).Map(t)
	forgetSchedule(t, s, tr["id"].(string))
	return tr
}

func forgetSchedule(t *testing.T, s *teststack.Stack, triggerID string) {
	t.Cleanup(func() {
		_ = s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+triggerID).Delete(context.Background())
	})
}

func fieldErrors(t *testing.T, r teststack.Response) (string, map[string]string) {
	t.Helper()
	var e struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.JSON(t, &e)
	return e.Error.Code, e.Error.Fields
}

func TestTriggerValidationRefusesWithFieldErrorsAndSavesNothing(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	seedFlow(t, s.DB, "report", "service")
	seedFlow(t, s.DB, "ivr", "default")
	atTime := func() map[string]any {
		return map[string]any{"name": "Report", "type": "at_time", "flow": "report", "expression": "0 */1 12 * * *", "timezone": "Europe/Kyiv"}
	}
	onEvent := func() map[string]any {
		return map[string]any{"name": "Case", "type": "on_event", "flow": "report", "object": "case", "event": "created"}
	}
	with := func(base func() map[string]any, kv ...any) map[string]any {
		b := base()
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(b, kv[i].(string))
				continue
			}
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	webhook := func(params any) []map[string]any {
		return []map[string]any{{"action": "webhook", "parameters": params}}
	}
	cases := []struct {
		name  string
		body  any
		field string
		want  string // part of the message, optional
	}{
		{"invalid JSON", `{"name": "x",`, "body", "not valid JSON"},
		{"unknown field", with(atTime, "schema", "report"), "schema", ""},
		{"wrong type", with(atTime, "enabled", "yes"), "enabled", ""},
		{"name missing", with(atTime, "name", nil), "name", "required"},
		{"type missing", with(atTime, "type", nil), "type", "required"},
		{"type unknown", with(atTime, "type", "at_noon"), "type", "not a trigger type"},
		{"at_time without expression", with(atTime, "expression", nil), "expression", "required"},
		{"bad cron", with(atTime, "expression", "0 61 12 * * *"), "expression", "out of range"},
		{"too many cron fields", with(atTime, "expression", "0 0 0 12 * * * *"), "expression", "fields"},
		{"bad time zone", with(atTime, "timezone", "Europe/Atlantis"), "timezone", "unknown time zone"},
		{"at_time with object", with(atTime, "object", "case"), "object", "only for on_event"},
		{"at_time with conditions", with(atTime, "conditions", []map[string]any{{"reference": "a", "operator": "=", "value": "1"}}), "conditions", ""},
		{"on_event without object", with(onEvent, "object", nil, "event", nil), "object", "is required"},
		{"event without object", with(onEvent, "object", nil), "object", "is required"},
		{"object unknown", with(onEvent, "object", "invoice"), "object", "not a known object"},
		{"event not of object", with(onEvent, "object", "case_file", "event", "updated"), "event", "not an event of object"},
		{"event missing", with(onEvent, "event", nil), "event", "is required"},
		{"on_event with expression", with(onEvent, "expression", "@daily"), "expression", "only for at_time"},
		{"bad condition", with(onEvent, "conditions", []map[string]any{{"reference": "campaignId", "operator": "~", "value": "53"}}), "conditions[0].operator", ""},
		{"timeout too short", with(atTime, "timeout", "500ms"), "timeout", "between 1s and 24h"},
		{"timeout zero", with(atTime, "timeout", "0s"), "timeout", "between 1s and 24h"},
		{"timeout too long", with(atTime, "timeout", "25h"), "timeout", "between 1s and 24h"},
		{"timeout not a duration", with(atTime, "timeout", "soon"), "timeout", "duration"},
		{"overlap unknown", with(atTime, "overlap_policy", "queue_up"), "overlap_policy", "not an overlap policy"},
		{"no flow nor actions", with(onEvent, "flow", nil), "flow", "required unless actions"},
		{"flow unknown", with(onEvent, "flow", "no-such-flow"), "flow", "no flow has the id or name"},
		{"flow not a service flow", with(onEvent, "flow", "ivr"), "flow", "service"},
		{"flow and actions", with(onEvent, "actions", webhook(map[string]any{"url": "https://example.com"})), "actions", "cannot be combined"},
		{"actions empty", with(onEvent, "flow", nil, "actions", []any{}), "actions", "at least one action"},
		{"actions not a list", with(onEvent, "flow", nil, "actions", map[string]any{"action": "webhook"}), "actions", "must be a list"},
		{"action unknown", with(onEvent, "flow", nil, "actions", []map[string]any{{"action": "lead.explode", "parameters": map[string]any{"x": "1"}}}), "actions[0].action", "not a registered action"},
		{"action parameters missing", with(onEvent, "flow", nil, "actions", []map[string]any{{"action": "webhook"}}), "actions[0].parameters", "must not be empty"},
		{"action parameters not an object", with(onEvent, "flow", nil, "actions", webhook("https://example.com")), "actions[0].parameters", "must be an object"},
		{"webhook url not http", with(onEvent, "flow", nil, "actions", webhook(map[string]any{"url": "ftp://example.com"})), "actions[0].parameters.url", ""},
		{"lead list id missing", with(onEvent, "flow", nil, "actions", []map[string]any{{"action": "lead.update.list", "parameters": map[string]any{"list": "10"}}}), "actions[0].parameters.listId", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do("POST", "/v1/triggers", tc.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
			code, fields := fieldErrors(t, r)
			if code != "invalid" || fields[tc.field] == "" || !strings.Contains(fields[tc.field], tc.want) {
				t.Fatalf("want a field error on %q containing %q, got %s", tc.field, tc.want, r.Body)
			}
		})
	}
	var list struct{ Total int }
	s.MustDo(200, "GET", "/v1/triggers", nil).JSON(t, &list)
	if list.Total != 0 {
		t.Fatalf("%d triggers saved by refused requests", list.Total)
	}
}

func TestTriggerCRUDListFiltersAndSchedules(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	flowID := seedFlow(t, s.DB, "report", "service")
	seedFlow(t, s.DB, "other", "service")

	at := postTrigger(t, s, map[string]any{"name": "Daily report", "type": "at_time", "flow": "report",
		"expression": "0 0 9 * * 1-5", "timezone": "Europe/Kyiv", "description": "mornings"})
	atID := at["id"].(string)
	if !strings.HasPrefix(atID, "trg_") || at["flow"] != flowID || at["flow_name"] != "report" || at["timeout"] != "5m0s" ||
		at["overlap_policy"] != "skip" || at["enabled"] != true || at["expression_text"] != "At 09:00, Monday through Friday" {
		t.Fatalf("created = %v", at)
	}
	if !s.ScheduleExists(t, atID) {
		t.Fatal("no schedule for the at_time trigger")
	}
	on := postTrigger(t, s, map[string]any{"name": "Case created", "type": "on_event", "flow": flowID,
		"object": "case", "event": "created", "timeout": "30s",
		"conditions": []map[string]any{{"reference": "priority", "operator": "=", "value": "high"}}})
	onID := on["id"].(string)
	if on["event_type"] != "case.created" || on["timeout"] != "30s" || on["next_runs"] != nil || on["expression_text"] != nil {
		t.Fatalf("on_event = %v", on)
	}
	if s.ScheduleExists(t, onID) {
		t.Fatal("an on_event trigger has no schedule")
	}
	// ipSCAPE style: actions instead of a flow.
	ip := postTrigger(t, s, map[string]any{"name": "Move leads", "type": "on_event", "object": "lead", "event": "outcome_predictive",
		"conditions": []map[string]any{{"reference": "campaignId", "operator": "=", "value": "53"}, {"reference": "lead.totalAttempts", "operator": ">=", "value": "3"}},
		"actions":    []map[string]any{{"action": "lead.update.list", "parameters": map[string]any{"listId": "354"}}, {"action": "webhook", "parameters": map[string]any{"url": "https://example.com/hook"}}},
	})
	if ip["flow"] != nil || len(ip["actions"].([]any)) != 2 {
		t.Fatalf("actions trigger = %v", ip)
	}

	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	s.MustDo(200, "GET", "/v1/triggers", nil).JSON(t, &list)
	if list.Total != 3 || list.Items[0]["id"] != ip["id"] || list.Items[2]["id"] != atID {
		t.Fatalf("list is not newest first: %v", list.Items)
	}
	if runs := list.Items[2]["next_runs"].([]any); len(runs) != 5 {
		t.Fatalf("listed at_time trigger has next_runs %v", runs)
	}
	for query, want := range map[string]int{
		"?type=at_time": 1, "?type=on_event": 2, "?object=case": 1, "?event=created": 1, "?flow=" + flowID: 2,
		"?q=REPORT": 1, "?enabled=false": 0, "?per_page=1&page=2": 3, "?sort=name": 3,
	} {
		s.MustDo(200, "GET", "/v1/triggers"+query, nil).JSON(t, &list)
		if list.Total != want {
			t.Errorf("%s: total %d, want %d", query, list.Total, want)
		}
	}
	if r := s.Do("GET", "/v1/triggers?type=sometimes", nil); r.Status != 400 {
		t.Fatalf("bad type filter: %d", r.Status)
	}

	// PATCH: change the flow by name, the expression and the zone in place.
	p := s.MustDo(200, "PATCH", "/v1/triggers/"+atID, map[string]any{"flow": "other", "expression": "*/30 * * * *",
		"timezone": "America/New_York", "overlap_policy": "buffer_one", "timeout": "2m"}).Map(t)
	if p["flow_name"] != "other" || p["expression_text"] != "Every 30 minutes" || p["timezone"] != "America/New_York" ||
		p["overlap_policy"] != "buffer_one" || p["timeout"] != "2m0s" {
		t.Fatalf("patched = %v", p)
	}
	d, err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+atID).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Schedule.Spec.TimeZoneName != "America/New_York" || d.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE {
		t.Fatalf("schedule not updated in place: zone %q overlap %v", d.Schedule.Spec.TimeZoneName, d.Schedule.Policy.Overlap)
	}
	if r := s.Do("PATCH", "/v1/triggers/"+atID, map[string]any{"expression": "not cron"}); r.Status != 400 {
		t.Fatalf("bad expression patch: %d %s", r.Status, r.Body)
	}
	// Switching type clears the other type's fields and moves the schedule.
	p = s.MustDo(200, "PATCH", "/v1/triggers/"+atID, map[string]any{"type": "on_event", "object": "task", "event": "updated"}).Map(t)
	if p["event_type"] != "task.updated" || p["expression"] != nil || s.ScheduleExists(t, atID) {
		t.Fatalf("at_time → on_event: %v (schedule kept: %v)", p, s.ScheduleExists(t, atID))
	}
	p = s.MustDo(200, "PATCH", "/v1/triggers/"+atID, map[string]any{"type": "at_time", "expression": "@hourly"}).Map(t)
	if p["object"] != nil || p["expression_text"] != "Every hour" || !s.ScheduleExists(t, atID) {
		t.Fatalf("on_event → at_time: %v", p)
	}
	// Actions ↔ flow.
	p = s.MustDo(200, "PATCH", "/v1/triggers/"+ip["id"].(string), map[string]any{"flow": "report"}).Map(t)
	if p["flow"] != flowID || p["actions"] != nil {
		t.Fatalf("actions → flow: %v", p)
	}

	// Bulk disable pauses schedules; bulk delete removes them.
	var bulk struct {
		Affected []string `json:"affected"`
		Count    int      `json:"count"`
	}
	s.MustDo(200, "POST", "/v1/triggers/bulk-disable", map[string]any{"ids": []string{atID, onID, "trg_missing"}}).JSON(t, &bulk)
	if bulk.Count != 2 {
		t.Fatalf("bulk disable = %+v", bulk)
	}
	d, _ = s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+atID).Describe(context.Background())
	if !d.Schedule.State.Paused {
		t.Fatal("bulk disable did not pause the schedule")
	}
	s.MustDo(200, "GET", "/v1/triggers?enabled=false", nil).JSON(t, &list)
	if list.Total != 2 {
		t.Fatalf("disabled = %d", list.Total)
	}
	s.MustDo(200, "POST", "/v1/triggers/bulk-enable", map[string]any{"ids": []string{atID}}).JSON(t, &bulk)
	d, _ = s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+atID).Describe(context.Background())
	if bulk.Count != 1 || d.Schedule.State.Paused {
		t.Fatalf("bulk enable = %+v, paused %v", bulk, d.Schedule.State.Paused)
	}
	s.MustDo(200, "POST", "/v1/triggers/bulk-delete", map[string]any{"ids": []string{atID, onID}}).JSON(t, &bulk)
	if bulk.Count != 2 || s.ScheduleExists(t, atID) {
		t.Fatalf("bulk delete = %+v", bulk)
	}
	if r := s.Do("POST", "/v1/triggers/bulk-delete", map[string]any{"ids": []string{}}); r.Status != 400 {
		t.Fatalf("empty bulk: %d", r.Status)
	}
	s.MustDo(http.StatusNoContent, "DELETE", "/v1/triggers/"+ip["id"].(string), nil)
	s.MustDo(http.StatusNotFound, "GET", "/v1/triggers/"+ip["id"].(string), nil)
	s.MustDo(http.StatusNotFound, "DELETE", "/v1/triggers/"+ip["id"].(string), nil)
	s.MustDo(http.StatusNotFound, "GET", "/v1/triggers/"+atID+"/runs", nil)
}

func TestMissingScheduleIsShownAndRecreated(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	seedFlow(t, s.DB, "report", "service")
	tr := postTrigger(t, s, map[string]any{"name": "Report", "type": "at_time", "flow": "report", "expression": "0 9 * * *"})
	id := tr["id"].(string)
	// As if an older version had saved the row without a schedule.
	if err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+id).Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := s.MustDo(200, "GET", "/v1/triggers/"+id, nil).Map(t)
	sched := got["schedule"].(map[string]any)
	if sched["state"] != "missing" || sched["next_runs_from"] != "local" || len(got["next_runs"].([]any)) != 5 {
		t.Fatalf("missing schedule shown as %v", got)
	}
	s.MustDo(200, "PATCH", "/v1/triggers/"+id, map[string]any{"description": "now with a schedule"})
	if !s.ScheduleExists(t, id) {
		t.Fatal("update did not create the missing schedule")
	}
	// start/stop also repair it.
	if err := s.Temporal.ScheduleClient().GetHandle(context.Background(), "trigger-"+id).Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	got = s.MustDo(200, "POST", "/v1/triggers/"+id+"/stop", nil).Map(t)
	if got["paused"] != true || !s.ScheduleExists(t, id) {
		t.Fatalf("stop with a missing schedule: %v", got)
	}
}

func TestTriggerNotSavedWhenScheduleCannotBeMade(t *testing.T) {
	db := testkit.DB(t)
	seedFlow(t, db, "report", "service")
	// No Temporal: the schedule cannot be created.
	srv := apiserver.New(apiserver.Options{DB: db, AdminToken: teststack.Token, Logger: testkit.Logger()})
	hs := httptest.NewServer(openapicheck.Handler(t, srv.Handler()))
	defer hs.Close()
	do := func(body string) int {
		req, _ := http.NewRequest("POST", hs.URL+"/v1/triggers", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+teststack.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := do(`{"name": "r", "type": "at_time", "flow": "report", "expression": "@daily"}`); st != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", st)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM triggers`); err != nil || n != 0 {
		t.Fatalf("%d triggers left behind (%v)", n, err)
	}
	// On Event triggers need no schedule.
	if st := do(`{"name": "c", "type": "on_event", "flow": "report", "object": "case", "event": "created"}`); st != http.StatusCreated {
		t.Fatalf("on_event status %d", st)
	}
}

func TestQueueHooksCRUD(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	flowID := seedFlow(t, s.DB, "callback", "service")
	seedFlow(t, s.DB, "ivr", "default")
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"event missing":     {map[string]any{"flow": "callback"}, "event"},
		"event unknown":     {map[string]any{"event": "created", "flow": "callback"}, "event"},
		"flow missing":      {map[string]any{"event": "missed"}, "flow"},
		"flow unknown":      {map[string]any{"event": "missed", "flow": "nope"}, "flow"},
		"flow not service":  {map[string]any{"event": "missed", "flow": "ivr"}, "flow"},
		"queue in the body": {map[string]any{"event": "missed", "flow": "callback", "queue_id": "7"}, "queue_id"},
		"invalid JSON":      {`{"event": `, "body"},
	} {
		r := s.Do("POST", "/v1/queues/42/hooks", tc.body)
		if code, fields := fieldErrors(t, r); r.Status != 400 || code != "invalid" || fields[tc.field] == "" {
			t.Errorf("%s: %d %s, want a field error on %s", name, r.Status, r.Body, tc.field)
		}
	}
	if r := s.Do("POST", "/v1/queues/%20/hooks", map[string]any{"event": "missed", "flow": "callback"}); r.Status != 400 {
		t.Fatalf("blank queue id: %d", r.Status)
	}

	missed := s.MustDo(201, "POST", "/v1/queues/42/hooks", map[string]any{"event": "missed", "flow": "callback"}).Map(t)
	joined := s.MustDo(201, "POST", "/v1/queues/42/hooks", map[string]any{"event": "joined", "flow": flowID, "enabled": false}).Map(t)
	s.MustDo(201, "POST", "/v1/queues/7/hooks", map[string]any{"event": "missed", "flow": "callback"})
	if missed["queue_id"] != "42" || missed["event_type"] != "queue.missed" || missed["flow"] != flowID ||
		missed["flow_name"] != "callback" || missed["enabled"] != true || joined["enabled"] != false {
		t.Fatalf("created = %v / %v", missed, joined)
	}
	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	s.MustDo(200, "GET", "/v1/queues/42/hooks", nil).JSON(t, &list)
	if list.Total != 2 || list.Items[0]["id"] != joined["id"] {
		t.Fatalf("registry = %v", list)
	}
	for query, want := range map[string]int{"?enabled=true": 1, "?enabled=false": 1, "?event=missed": 1, "?event=bridged": 0, "?sort=event": 2} {
		s.MustDo(200, "GET", "/v1/queues/42/hooks"+query, nil).JSON(t, &list)
		if list.Total != want {
			t.Errorf("%s: %d, want %d", query, list.Total, want)
		}
	}
	hookPath := "/v1/queues/42/hooks/" + missed["id"].(string)
	s.MustDo(200, "GET", hookPath, nil)
	s.MustDo(404, "GET", "/v1/queues/7/hooks/"+missed["id"].(string), nil)
	p := s.MustDo(200, "PATCH", hookPath, map[string]any{"event": "answered", "enabled": false}).Map(t)
	if p["event"] != "answered" || p["enabled"] != false || p["flow"] != flowID {
		t.Fatalf("patched = %v", p)
	}
	if r := s.Do("PATCH", hookPath, map[string]any{"event": "exploded"}); r.Status != 400 {
		t.Fatalf("bad event patch: %d", r.Status)
	}
	var bulk struct{ Count int }
	s.MustDo(200, "POST", "/v1/queues/42/hooks/bulk-enable", map[string]any{"ids": []string{missed["id"].(string), joined["id"].(string)}}).JSON(t, &bulk)
	if bulk.Count != 2 {
		t.Fatalf("bulk enable: %d", bulk.Count)
	}
	s.MustDo(200, "POST", "/v1/queues/42/hooks/bulk-delete", map[string]any{"ids": []string{joined["id"].(string)}}).JSON(t, &bulk)
	s.MustDo(204, "DELETE", hookPath, nil)
	s.MustDo(404, "DELETE", hookPath, nil)
	s.MustDo(200, "GET", "/v1/queues/42/hooks", nil).JSON(t, &list)
	if bulk.Count != 1 || list.Total != 0 {
		t.Fatalf("after deletes: bulk %d, left %d", bulk.Count, list.Total)
	}
	s.MustDo(200, "GET", "/v1/queues/7/hooks", nil).JSON(t, &list)
	if list.Total != 1 {
		t.Fatalf("other queue's hooks touched: %d", list.Total)
	}
}

func TestCatalog(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	var cat struct {
		Objects []struct {
			Name   string `json:"name"`
			Label  string `json:"label"`
			Events []struct{ Name, Label, Type string }
		} `json:"objects"`
		EventTypes      []string `json:"event_types"`
		TimeZones       []string `json:"timezones"`
		QueueEvents     []string `json:"queue_events"`
		OverlapPolicies []string `json:"overlap_policies"`
		TriggerActions  []string `json:"trigger_actions"`
	}
	s.MustDo(200, "GET", "/v1/catalog", nil).JSON(t, &cat)
	events := map[string][]string{}
	for _, o := range cat.Objects {
		for _, e := range o.Events {
			events[o.Name] = append(events[o.Name], e.Name)
			if e.Type != o.Name+"."+e.Name || e.Label == "" {
				t.Errorf("event %+v of %s", e, o.Name)
			}
		}
	}
	// Webitel's objects and their events.
	for obj, want := range map[string]string{
		"case": "created,updated,deleted,planned_resolution_time", "case_file": "created,deleted",
		"case_comment": "created,updated,deleted", "case_link": "created,updated,deleted", "related_case": "created,deleted",
		"queue": "joined,answered,offering,bridged,missed,leaving,processing,active",
	} {
		if got := strings.Join(events[obj], ","); got != want {
			t.Errorf("%s events = %s, want %s", obj, got, want)
		}
	}
	if strings.Join(cat.QueueEvents, ",") != "joined,answered,offering,bridged,missed,leaving,processing,active" ||
		strings.Join(cat.OverlapPolicies, ",") != "skip,buffer_one,buffer_all,cancel_other,terminate_other,allow_all" ||
		len(cat.EventTypes) < 30 || len(cat.TimeZones) < 300 {
		t.Fatalf("catalog = %+v", cat)
	}
	has := func(list []string, v string) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	if !has(cat.TimeZones, "Europe/Kyiv") || !has(cat.EventTypes, "case.planned_resolution_time") ||
		!has(cat.TriggerActions, "webhook") || !has(cat.TriggerActions, "lead.update.list") {
		t.Fatalf("catalog lacks expected entries: %+v", cat)
	}
	if r := s.DoAs("", "GET", "/v1/catalog", nil); r.Status != 401 {
		t.Fatalf("catalog without a key: %d", r.Status)
	}
}
