package domain

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Webitel's Case → "Planned resolution time" event is a moment, not a
// publish: a case event that carries data.case.planned_resolution_at arms a
// timer for the case, a later one moves it, and at that moment TriggerFlow
// raises case.planned_resolution_time itself. These are the rules that read
// case events; the timer is a workflow per case (workflows.CaseTimerWorkflow).

// MaxCaseIDLength bounds the case ids that get a timer.
const MaxCaseIDLength = 200

// PlannedResolutionEventType is the event raised when a case's planned
// resolution time comes.
const PlannedResolutionEventType = "case.planned_resolution_time"

// ResolvedCaseStatuses are the values of data.case.status (compared without
// case and surrounding spaces) that mean the case needs no resolution any
// more: its timer is canceled. A case whose data.case.resolved_at or
// data.case.closed_at holds a value is resolved too.
var ResolvedCaseStatuses = []string{"resolved", "closed", "done", "completed", "canceled", "cancelled"}

// CasePlanChange is what one case event does to its case's timer.
type CasePlanChange struct {
	CaseID string
	// Cancel ends the timer (deleted, resolved, or the plan removed);
	// otherwise the timer fires at PlannedAt.
	Cancel    bool
	PlannedAt time.Time
	// Reason says why a timer is canceled: "deleted", "resolved" or
	// "plan removed".
	Reason string
	// EventID and OccurredAt name the event: a timer applies a change only
	// when it is newer than the last it applied (OccurredAt, then EventID),
	// so a change delivered twice, or late, changes nothing.
	EventID    string
	OccurredAt time.Time
}

// Newer reports whether c comes after the change named by (at, eventID).
func (c CasePlanChange) Newer(at time.Time, eventID string) bool {
	if !c.OccurredAt.Equal(at) {
		return c.OccurredAt.After(at)
	}
	return c.EventID > eventID
}

// CasePlanOf reads what ev does to its case's timer; ok is false when it
// does nothing: not a case.* event (or the raised event itself), no
// data.case.id, or an event that neither carries
// data.case.planned_resolution_at nor deletes or resolves the case. A
// planned_resolution_at that is not an RFC 3339 time changes nothing.
func CasePlanOf(ev Event) (CasePlanChange, bool) {
	if !strings.HasPrefix(ev.Type, "case.") || ev.Type == PlannedResolutionEventType {
		return CasePlanChange{}, false
	}
	// Most events are no case events: a cheap look before decoding.
	if !bytes.Contains(ev.Data, []byte(`"case"`)) {
		return CasePlanChange{}, false
	}
	var data struct {
		Case map[string]json.RawMessage `json:"case"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.Case == nil {
		return CasePlanChange{}, false
	}
	id := caseIDText(data.Case["id"])
	if id == "" || len(id) > MaxCaseIDLength || strings.ContainsFunc(id, unicode.IsControl) {
		// The id names the case's timer workflow: one that cannot is
		// ignored rather than hold up the dispatch of its group.
		return CasePlanChange{}, false
	}
	ch := CasePlanChange{CaseID: id, EventID: ev.ID, OccurredAt: ev.OccurredAt.UTC()}
	switch {
	case ev.Type == "case.deleted":
		ch.Cancel, ch.Reason = true, "deleted"
		return ch, true
	case caseResolved(data.Case):
		ch.Cancel, ch.Reason = true, "resolved"
		return ch, true
	}
	raw, present := data.Case["planned_resolution_at"]
	if !present {
		return CasePlanChange{}, false
	}
	var text *string
	if err := json.Unmarshal(raw, &text); err != nil {
		return CasePlanChange{}, false
	}
	if text == nil || strings.TrimSpace(*text) == "" {
		ch.Cancel, ch.Reason = true, "plan removed"
		return ch, true
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*text))
	if err != nil {
		return CasePlanChange{}, false
	}
	ch.PlannedAt = at.UTC()
	return ch, true
}

// CasePlanChanges reads the timer changes of events and keeps the newest
// per case (the only one a timer would apply), in case id order.
func CasePlanChanges(events []Event) []CasePlanChange {
	newest := map[string]CasePlanChange{}
	for _, ev := range events {
		ch, ok := CasePlanOf(ev)
		if !ok {
			continue
		}
		if cur, seen := newest[ch.CaseID]; !seen || ch.Newer(cur.OccurredAt, cur.EventID) {
			newest[ch.CaseID] = ch
		}
	}
	out := make([]CasePlanChange, 0, len(newest))
	for _, ch := range newest {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CaseID < out[j].CaseID })
	return out
}

// PlannedResolutionEventID is the id of the event raised for caseID at
// plannedAt: the same plan raises one event however often it is tried.
func PlannedResolutionEventID(caseID string, plannedAt time.Time) string {
	return "case-" + caseID + "-planned-resolution-" + plannedAt.UTC().Format("20060102T150405.000000000Z")
}

// caseIDText is a case id as text: a JSON string or number.
func caseIDText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// caseResolved reports a resolved status or a resolved_at / closed_at value.
func caseResolved(c map[string]json.RawMessage) bool {
	var status string
	if json.Unmarshal(c["status"], &status) == nil {
		status = strings.ToLower(strings.TrimSpace(status))
		for _, s := range ResolvedCaseStatuses {
			if status == s {
				return true
			}
		}
	}
	for _, k := range []string{"resolved_at", "closed_at"} {
		if v := bytes.TrimSpace(c[k]); len(v) > 0 && string(v) != "null" && string(v) != `""` {
			return true
		}
	}
	return false
}
