package domain

import (
	"regexp"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	objects := Catalog()
	types := EventTypes()
	seen := map[string]bool{}
	n := 0
	for _, o := range objects {
		if o.Name == "" || o.Label == "" || len(o.Events) == 0 {
			t.Errorf("incomplete object %+v", o)
		}
		for _, e := range o.Events {
			if e.Type != o.Name+"."+e.Name || e.Label == "" {
				t.Errorf("bad event %+v of %s", e, o.Name)
			}
			if err := ValidEventTypeName(e.Type); err != nil {
				t.Errorf("catalog type %q is not a valid name: %v", e.Type, err)
			}
			if seen[e.Type] {
				t.Errorf("duplicate type %q", e.Type)
			}
			seen[e.Type] = true
			if types[n] != e.Type {
				t.Errorf("EventTypes()[%d] = %q, want %q", n, types[n], e.Type)
			}
			n++
		}
	}
	if n != len(types) {
		t.Errorf("EventTypes has %d entries, catalog %d", len(types), n)
	}
	// The types the API contract and the seeds name.
	for _, want := range []string{
		"case.created", "case.updated", "case.deleted", "case.planned_resolution_time",
		"case_file.created", "case_file.deleted", "case_comment.updated", "case_link.created", "related_case.deleted",
		"queue.joined", "queue.answered", "queue.offering", "queue.bridged", "queue.missed", "queue.leaving",
		"queue.processing", "queue.active", "agent.wrap", "lead.outcome_predictive", "lead.outcome_preview",
		"mpiq.attempt", "inbound.workflow_abandoned", "inbound.queue_abandoned",
		"user.created", "user.updated", "user.deleted", "user.logout", "task.created", "task.deleted",
		"survey.updated", "element.deleted", "note.updated", "contact.created", "ticket.updated",
	} {
		if !seen[want] || !IsCatalogEventType(want) {
			t.Errorf("catalog lacks %q", want)
		}
	}
	if objects[0].Label != "Cases" || objects[1].Label != "Case files" {
		t.Errorf("labels: %q, %q", objects[0].Label, objects[1].Label)
	}
	if objects[0].Events[3].Label != "Planned resolution time" {
		t.Errorf("label %q", objects[0].Events[3].Label)
	}
	// Callers get copies.
	objects[0].Events[0].Name = "changed"
	types[0] = "changed"
	if Catalog()[0].Events[0].Name == "changed" || EventTypes()[0] == "changed" {
		t.Error("Catalog or EventTypes shares memory with the package")
	}
	if EventType("case", "created") != "case.created" {
		t.Error("EventType")
	}
}

func TestValidateObjectEvent(t *testing.T) {
	tests := []struct {
		object, event string
		want          map[string]string
	}{
		{"case", "created", nil},
		{"case", "planned_resolution_time", nil},
		{"queue", "missed", nil},
		{"user", "logout", nil},
		{"", "created", map[string]string{"object": "is required"}},
		{"", "", map[string]string{"object": "is required", "event": "is required"}},
		{"case", "", map[string]string{"event": `is required; allowed for "case": created, updated, deleted, planned_resolution_time`}},
		{"case", "x", map[string]string{"event": `"x" is not an event of object "case"; allowed: created, updated, deleted, planned_resolution_time`}},
		{"case_file", "updated", map[string]string{"event": `"updated" is not an event of object "case_file"; allowed: created, deleted`}},
		{"planet", "created", map[string]string{"object": `"planet" is not a known object; allowed: case, case_file,`}},
		{"Case", "created", map[string]string{"object": "is not a known object"}},
	}
	for _, tc := range tests {
		got := ValidateObjectEvent(tc.object, tc.event)
		if len(got) != len(tc.want) {
			t.Errorf("(%q, %q) = %v, want %v", tc.object, tc.event, got, tc.want)
			continue
		}
		for k, sub := range tc.want {
			if !strings.Contains(got[k], sub) {
				t.Errorf("(%q, %q)[%s] = %q, want it to contain %q", tc.object, tc.event, k, got[k], sub)
			}
		}
	}
}

func TestEventTypePatterns(t *testing.T) {
	for _, ok := range []string{"*", "case.*", "case.created", "queue.*", "user.logout", "inbound.queue_abandoned"} {
		if err := ValidateEventTypePattern(ok); err != nil {
			t.Errorf("ValidateEventTypePattern(%q): %v", ok, err)
		}
	}
	for bad, sub := range map[string]string{
		"":             "is required",
		"case.opened":  `not an event type of object "case"`,
		"planet.*":     `"planet" is not a known object`,
		"*.created":    "not a catalog event type",
		"case":         `not an event type of object "case"`,
		"case.**":      `not an event type of object "case"`,
		"custom.thing": "not a catalog event type",
		"case.*.x":     `not an event type of object "case"`,
	} {
		err := ValidateEventTypePattern(bad)
		if err == nil || !strings.Contains(err.Error(), sub) {
			t.Errorf("ValidateEventTypePattern(%q) = %v, want %q", bad, err, sub)
		}
	}

	tests := []struct {
		pattern, typ string
		want         bool
	}{
		{"*", "case.created", true},
		{"*", "custom.thing", true},
		{"*", "", false},
		{"case.*", "case.created", true},
		{"case.*", "case.escalated", true}, // custom types under a known object
		{"case.*", "case_file.created", false},
		{"case.*", "case.", false},
		{"case.*", "case", false},
		{"case.created", "case.created", true},
		{"case.created", "case.updated", false},
		{"case_file.*", "case.created", false},
	}
	for _, tc := range tests {
		if got := MatchEventType(tc.pattern, tc.typ); got != tc.want {
			t.Errorf("MatchEventType(%q, %q) = %v", tc.pattern, tc.typ, got)
		}
	}
}

func TestValidEventTypeName(t *testing.T) {
	for _, ok := range []string{"case.created", "billing.invoice_paid", "a.b.c", "x1.y_2"} {
		if err := ValidEventTypeName(ok); err != nil {
			t.Errorf("ValidEventTypeName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "case", "Case.created", "case.Created", "case..created", ".case", "case.", "1case.x",
		"case.1x", "case-file.created", "case created", "case.*", "é.x", "a." + strings.Repeat("b", 127)} {
		if err := ValidEventTypeName(bad); err == nil {
			t.Errorf("ValidEventTypeName(%q) accepted it", bad)
		}
	}
}

var fuzzTypeShape = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

func FuzzEventType(f *testing.F) {
	f.Add("case.*", "case.created")
	f.Add("*", "x.y")
	f.Add("case.created", "case.created")
	f.Add("case_file.*", "case.")
	f.Fuzz(func(t *testing.T, pattern, typ string) {
		if MatchEventType(pattern, typ) && ValidateEventTypePattern(pattern) == nil && pattern != "*" {
			object, _, _ := strings.Cut(pattern, ".")
			if !strings.HasPrefix(typ, object+".") {
				t.Errorf("%q matched %q outside its object", pattern, typ)
			}
		}
		if err := ValidEventTypeName(typ); (err == nil) != (fuzzTypeShape.MatchString(typ) && len(typ) <= MaxEventTypeLength) {
			t.Errorf("ValidEventTypeName(%q) = %v", typ, err)
		}
		_ = ValidateObjectEvent(pattern, typ)
	})
}

func BenchmarkMatchEventType(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !MatchEventType("case_comment.*", "case_comment.updated") {
			b.Fatal("no match")
		}
	}
}

func BenchmarkValidateEventTypePattern(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateEventTypePattern("case_comment.updated"); err != nil {
			b.Fatal(err)
		}
	}
}
