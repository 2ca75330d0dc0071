package domain

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// CatalogObject is a kind of business object whose changes TriggerFlow knows
// about, with the events it can have. On Event triggers pick one object and
// one of its events; the UI shows the labels.
type CatalogObject struct {
	Name   string         `json:"name"`
	Label  string         `json:"label"`
	Events []CatalogEvent `json:"events"`
}

// CatalogEvent is one event of an object. Type is the published event type,
// "<object>.<event>".
type CatalogEvent struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

// MaxEventTypeLength bounds published event type names.
const MaxEventTypeLength = 128

// catalogSpec is the catalog as data: object, label, then event name/label
// pairs. Names are snake_case and events are in the past tense, as the seeds'
// products (Webitel, ipSCAPE, Cotalker, webhook scripts) describe them.
var catalogSpec = []struct {
	name, label string
	events      []string // name, label, name, label, ...
}{
	{"case", "Cases", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted", "planned_resolution_time", "Planned resolution time"}},
	{"case_file", "Case files", []string{"created", "Created", "deleted", "Deleted"}},
	{"case_comment", "Case comments", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted"}},
	{"case_link", "Case links", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted"}},
	{"related_case", "Related cases", []string{"created", "Created", "deleted", "Deleted"}},
	{"queue", "Queues", []string{"joined", "Joined", "answered", "Answered", "offering", "Offering", "bridged", "Bridged",
		"missed", "Missed", "leaving", "Leaving", "processing", "Processing", "active", "Active"}},
	{"agent", "Agents", []string{"wrap", "Wrap"}},
	{"lead", "Dialler leads", []string{"outcome_predictive", "Dialler call outcome (predictive)", "outcome_preview", "Dialler call outcome (preview)"}},
	{"mpiq", "MPIQ", []string{"attempt", "MPIQ attempt"}},
	{"inbound", "Inbound calls", []string{"workflow_abandoned", "Abandoned in workflow", "queue_abandoned", "Abandoned in queue"}},
	{"user", "Users", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted", "logout", "Logout"}},
	{"task", "Tasks", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted"}},
	{"survey", "Surveys", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted"}},
	{"element", "Elements", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted"}},
	{"note", "Notes", []string{"updated", "Updated"}},
	{"contact", "Contacts", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted"}},
	{"ticket", "Tickets", []string{"created", "Created", "updated", "Updated", "deleted", "Deleted"}},
}

var (
	catalogObjects []CatalogObject
	catalogByName  map[string]*CatalogObject
	catalogTypes   map[string]bool
	eventTypeList  []string
)

func init() {
	catalogByName = map[string]*CatalogObject{}
	catalogTypes = map[string]bool{}
	for _, spec := range catalogSpec {
		obj := CatalogObject{Name: spec.name, Label: spec.label}
		for i := 0; i+1 < len(spec.events); i += 2 {
			t := spec.name + "." + spec.events[i]
			obj.Events = append(obj.Events, CatalogEvent{Name: spec.events[i], Label: spec.events[i+1], Type: t})
			eventTypeList = append(eventTypeList, t)
			catalogTypes[t] = true
		}
		catalogObjects = append(catalogObjects, obj)
	}
	for i := range catalogObjects {
		catalogByName[catalogObjects[i].Name] = &catalogObjects[i]
	}
	initBuiltinEventTypes()
}

// Catalog returns the objects and their events, in display order. The result
// is a copy the caller may change.
func Catalog() []CatalogObject {
	out := make([]CatalogObject, len(catalogObjects))
	for i, o := range catalogObjects {
		out[i] = CatalogObject{Name: o.Name, Label: o.Label, Events: append([]CatalogEvent(nil), o.Events...)}
	}
	return out
}

// EventTypes returns every catalog event type ("case.created", …) in catalog order.
func EventTypes() []string {
	return append([]string(nil), eventTypeList...)
}

// ObjectName maps the names an object is also known by to the catalog's:
// Webitel's objects list calls related cases "Linked cases".
func ObjectName(object string) string {
	if object == "linked_case" {
		return "related_case"
	}
	return object
}

// IsCatalogEventType reports whether t is one of EventTypes.
func IsCatalogEventType(t string) bool { return catalogTypes[t] }

// EventType joins an object and an event into the event type they match:
// ("case", "created") → "case.created".
func EventType(object, event string) string { return object + "." + event }

// EventTypeSet is what webhooks and triggers may subscribe to: the catalog,
// plus the installation's own event types from the registry, passed in by
// the caller (the domain does not read the database). Its zero value is the
// catalog alone.
type EventTypeSet struct {
	custom  map[string]bool
	objects map[string][]string // object → its custom events
}

// NewEventTypeSet is the catalog plus the custom types named.
func NewEventTypeSet(custom []string) EventTypeSet {
	s := EventTypeSet{custom: map[string]bool{}, objects: map[string][]string{}}
	for _, t := range custom {
		s.custom[t] = true
		object, event := SplitEventType(t)
		s.objects[object] = append(s.objects[object], event)
	}
	return s
}

// HasObject reports whether object is a catalog object or the object of a
// custom type.
func (s EventTypeSet) HasObject(object string) bool {
	_, known := catalogByName[object]
	return known || len(s.objects[object]) > 0
}

// Has reports whether t is a catalog or custom type.
func (s EventTypeSet) Has(t string) bool { return catalogTypes[t] || s.custom[t] }

// ValidateObjectEvent checks an On Event trigger's object and event, keyed by
// the JSON fields "object" and "event". As in Webitel's form, the event only
// makes sense once an object is chosen, and must be one of that object's.
func ValidateObjectEvent(object, event string) FieldErrors {
	return EventTypeSet{}.ValidateObjectEvent(object, event)
}

// ValidateObjectEvent is the package function, also knowing the set's
// custom types: "invoice" and "paid" for a registered "invoice.paid".
// "linked_case" is accepted for "related_case" (Webitel's list calls
// related cases "Linked cases"); the caller stores ObjectName's answer.
func (s EventTypeSet) ValidateObjectEvent(object, event string) FieldErrors {
	errs := FieldErrors{}
	object = ObjectName(object)
	if object != "" && event != "" && s.custom[EventType(object, event)] {
		return errs
	}
	if _, known := catalogByName[object]; !known && len(s.objects[object]) > 0 {
		if event == "" {
			errs.Add("event", fmt.Sprintf("is required; allowed for %q: %s", object, strings.Join(s.objects[object], ", ")))
		} else {
			errs.Add("event", fmt.Sprintf("%q is not an event of object %q; allowed: %s", truncateForMessage(event), object, strings.Join(s.objects[object], ", ")))
		}
		return errs
	}
	if object == "" {
		errs.Add("object", "is required")
		if event == "" {
			errs.Add("event", "is required")
		}
		return errs
	}
	obj, ok := catalogByName[object]
	if !ok {
		errs.Add("object", fmt.Sprintf("%q is not a known object; allowed: %s", truncateForMessage(object), objectNames()))
		return errs
	}
	if event == "" {
		errs.Add("event", fmt.Sprintf("is required; allowed for %q: %s", object, eventNames(obj)))
		return errs
	}
	for _, e := range obj.Events {
		if e.Name == event {
			return errs
		}
	}
	errs.Add("event", fmt.Sprintf("%q is not an event of object %q; allowed: %s", truncateForMessage(event), object, eventNames(obj)))
	return errs
}

func objectNames() string {
	names := make([]string, len(catalogObjects))
	for i, o := range catalogObjects {
		names[i] = o.Name
	}
	return strings.Join(names, ", ")
}

func eventNames(obj *CatalogObject) string {
	names := make([]string, len(obj.Events))
	for i, e := range obj.Events {
		names[i] = e.Name
	}
	return strings.Join(names, ", ")
}

// ValidateEventTypePattern checks what a webhook or trigger subscribes to:
// an exact catalog type ("case.created"), every event of a known object
// ("case.*"), or everything ("*"). Subscriptions are limited to the catalog
// so that a typo cannot create a webhook that silently never fires.
func ValidateEventTypePattern(p string) error { return EventTypeSet{}.ValidatePattern(p) }

// ValidatePattern is ValidateEventTypePattern knowing the set's custom
// types too ("invoice.paid", "invoice.*").
func (s EventTypeSet) ValidatePattern(p string) error {
	switch {
	case p == "":
		return errors.New("is required")
	case p == "*":
		return nil
	case s.Has(p):
		return nil
	}
	if object, ok := strings.CutSuffix(p, ".*"); ok {
		if _, known := catalogByName[object]; known || len(s.objects[object]) > 0 {
			return nil
		}
		return fmt.Errorf("%q: %q is not a known object; allowed: %s", truncateForMessage(p), truncateForMessage(object), objectNames())
	}
	object, _, _ := strings.Cut(p, ".")
	if obj, known := catalogByName[object]; known {
		return fmt.Errorf("%q is not an event type of object %q; allowed: %s (or %s.*)", truncateForMessage(p), object, eventNames(obj), object)
	}
	return fmt.Errorf("%q is not a catalog event type; use \"<object>.<event>\", \"<object>.*\" or \"*\" with an object of: %s", truncateForMessage(p), objectNames())
}

// MatchEventType reports whether eventType falls under pattern ("*",
// "<object>.*" or an exact type). Wildcards also match custom types published
// under the same object ("case.*" matches "case.escalated"), since a
// subscription to everything about cases should see them.
func MatchEventType(pattern, eventType string) bool {
	switch {
	case pattern == "*":
		return eventType != ""
	case pattern == eventType:
		return true
	}
	if object, ok := strings.CutSuffix(pattern, ".*"); ok {
		return len(eventType) > len(object)+1 && eventType[len(object)] == '.' && strings.HasPrefix(eventType, object)
	}
	return false
}

var eventTypeName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// ValidEventTypeName checks the type of a published event. Publishers may use
// types outside the catalog — business systems grow new events before anyone
// updates TriggerFlow — as long as they look like catalog types: dot-separated
// snake_case words, at least two, at most MaxEventTypeLength characters.
// Webhooks and triggers still subscribe only to catalog types and patterns
// (see ValidateEventTypePattern), so custom types reach them only via "*" and
// "<object>.*".
func ValidEventTypeName(t string) error {
	switch {
	case t == "":
		return errors.New("is required")
	case len(t) > MaxEventTypeLength:
		return fmt.Errorf("is %d characters long; at most %d are allowed", len(t), MaxEventTypeLength)
	case !eventTypeName.MatchString(t):
		return fmt.Errorf("%q is not a valid event type: use \"<object>.<event>\" in lowercase snake_case, e.g. \"case.created\"", truncateForMessage(t))
	}
	return nil
}
