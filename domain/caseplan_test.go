package domain

import (
	"encoding/json"
	"testing"
	"time"
)

func TestCasePlanOfReadsArmMoveAndCancel(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	plan := time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC)
	cases := []struct {
		name, typ, data string
		ok, cancel      bool
		reason, caseID  string
	}{
		{"created with a plan", "case.created", `{"case": {"id": 1042, "status": "open", "planned_resolution_at": "2026-11-24T14:30:00+02:00"}}`, true, false, "", "1042"},
		{"string id", "case.updated", `{"case": {"id": "C-7", "planned_resolution_at": "2026-11-24T12:30:00Z"}}`, true, false, "", "C-7"},
		{"deleted", "case.deleted", `{"case": {"id": 1042}}`, true, true, "deleted", "1042"},
		{"resolved status", "case.updated", `{"case": {"id": 1042, "status": " Resolved ", "planned_resolution_at": "2026-11-24T12:30:00Z"}}`, true, true, "resolved", "1042"},
		{"closed_at set", "case.updated", `{"case": {"id": 1042, "closed_at": "2026-11-23T09:00:00Z"}}`, true, true, "resolved", "1042"},
		{"plan removed", "case.updated", `{"case": {"id": 1042, "planned_resolution_at": null}}`, true, true, "plan removed", "1042"},
		{"update without the field", "case.updated", `{"case": {"id": 1042, "status": "open"}}`, false, false, "", ""},
		{"resolved_at null", "case.updated", `{"case": {"id": 1042, "resolved_at": null}}`, false, false, "", ""},
		{"not a time", "case.updated", `{"case": {"id": 1042, "planned_resolution_at": "tomorrow"}}`, false, false, "", ""},
		{"no case id", "case.created", `{"case": {"planned_resolution_at": "2026-11-24T12:30:00Z"}}`, false, false, "", ""},
		{"another object", "case_comment.created", `{"case": {"id": 1, "planned_resolution_at": "2026-11-24T12:30:00Z"}}`, false, false, "", ""},
		{"the raised event", "case.planned_resolution_time", `{"case": {"id": 1, "planned_resolution_at": "2026-11-24T12:30:00Z"}}`, false, false, "", ""},
	}
	for _, c := range cases {
		ch, ok := CasePlanOf(Event{ID: "e1", Type: c.typ, OccurredAt: at, Data: json.RawMessage(c.data)})
		if ok != c.ok || ch.Cancel != c.cancel || ch.Reason != c.reason || ch.CaseID != c.caseID {
			t.Errorf("%s: %+v ok=%v", c.name, ch, ok)
			continue
		}
		if ok && !c.cancel && !ch.PlannedAt.Equal(plan) {
			t.Errorf("%s: planned at %s, want %s", c.name, ch.PlannedAt, plan)
		}
	}
}

func TestCasePlanChangesKeepTheNewestPerCase(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	ev := func(id string, at time.Time, data string) Event {
		return Event{ID: id, Type: "case.updated", OccurredAt: at, Data: json.RawMessage(data)}
	}
	got := CasePlanChanges([]Event{
		ev("b", t0.Add(time.Minute), `{"case": {"id": 1, "planned_resolution_at": "2026-11-25T00:00:00Z"}}`),
		ev("a", t0, `{"case": {"id": 1, "planned_resolution_at": "2026-11-24T00:00:00Z"}}`),
		ev("c", t0.Add(time.Minute), `{"case": {"id": 1, "status": "open"}}`),
		ev("d", t0, `{"case": {"id": 2, "status": "closed"}}`),
		{ID: "x", Type: "user.login", OccurredAt: t0, Data: json.RawMessage(`{"user": {"id": 1}}`)},
	})
	if len(got) != 2 || got[0].CaseID != "1" || got[0].EventID != "b" || got[1].CaseID != "2" || !got[1].Cancel {
		t.Fatalf("changes %+v", got)
	}
	if !got[0].Newer(t0.Add(time.Minute), "a") || got[0].Newer(t0.Add(time.Minute), "b") || got[0].Newer(t0.Add(2*time.Minute), "a") {
		t.Fatal("Newer orders by time, then id")
	}
	if id := PlannedResolutionEventID("1042", time.Date(2026, 11, 24, 12, 30, 0, 0, time.FixedZone("k", 7200))); id != "case-1042-planned-resolution-20261124T103000.000000000Z" {
		t.Fatalf("id %s", id)
	}
}
