package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Trigger types (Webitel's At Time and On Event).
const (
	TriggerAtTime  = "at_time"
	TriggerOnEvent = "on_event"
)

// Overlap policies of an At Time trigger: what happens when a fire time comes
// while the previous run is still going. They are Temporal's schedule overlap
// policies under API names.
const (
	OverlapSkip           = "skip"
	OverlapBufferOne      = "buffer_one"
	OverlapBufferAll      = "buffer_all"
	OverlapCancelOther    = "cancel_other"
	OverlapTerminateOther = "terminate_other"
	OverlapAllowAll       = "allow_all"
)

// Trigger limits and defaults. The timeout bounds one flow run (Webitel's
// Timeout field); 24 hours keeps a stuck run from holding an overlap slot
// for days.
const (
	DefaultTriggerTimeout = 5 * time.Minute
	MinTriggerTimeout     = time.Second
	MaxTriggerTimeout     = 24 * time.Hour
	DefaultTimeZone       = "UTC"
	MaxTriggerActions     = 20
	MaxNameLength         = 200
	MaxDescriptionLength  = 2000
	MaxQueueIDLength      = 200
	// NextRunsShown is how many upcoming fire times a trigger read lists.
	NextRunsShown = 5
)

// OverlapPolicies lists the overlap policies, the default first.
func OverlapPolicies() []string {
	return []string{OverlapSkip, OverlapBufferOne, OverlapBufferAll, OverlapCancelOther, OverlapTerminateOther, OverlapAllowAll}
}

// Trigger starts a flow (or a list of ipSCAPE-style actions) at points in
// time (At Time: a cron expression in a time zone) or when an event of one
// object happens (On Event: object + event, filtered by conditions).
type Trigger struct {
	ID   string
	Name string
	Type string
	// Flow names the flow to run. On input it is the flow's id or name as
	// the client gave it; the store resolves it and saves the id, and reads
	// return the id with FlowName beside it. "" when Actions are used.
	Flow     string
	FlowName string
	// Actions are ipSCAPE-style actions run instead of a flow; nil when
	// the trigger runs a flow.
	Actions  []TriggerAction
	TimeZone string
	// Timeout bounds one run: the run workflow's execution timeout.
	Timeout time.Duration
	// Expression is the cron expression of an At Time trigger.
	Expression string
	// OverlapPolicy applies to At Time triggers (see the Overlap constants).
	OverlapPolicy string
	// Object and Event are the catalog names an On Event trigger listens to:
	// "case" + "created" matches events of type "case.created".
	Object     string
	Event      string
	Conditions []Condition
	// ConditionExpression is an optional CEL expression an event must also
	// satisfy, as webhooks have (MPIQ: "attempts == max_attempts").
	ConditionExpression string
	Description         string
	Enabled             bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// EventType is the event type an On Event trigger matches ("case.created");
// "" for At Time triggers.
func (t *Trigger) EventType() string {
	if t.Type != TriggerOnEvent || t.Object == "" {
		return ""
	}
	return EventType(t.Object, t.Event)
}

// Normalize trims text and fills defaults: time zone UTC, timeout 5m,
// overlap skip. Actions stay nil when none were given, so Validate can tell
// "no actions" (a flow is then required) from an empty list (refused).
func (t *Trigger) Normalize() {
	t.Name = strings.TrimSpace(t.Name)
	t.Type = strings.TrimSpace(t.Type)
	t.Flow = strings.TrimSpace(t.Flow)
	t.TimeZone = strings.TrimSpace(t.TimeZone)
	t.Expression = strings.TrimSpace(t.Expression)
	t.Object = ObjectName(strings.TrimSpace(t.Object))
	t.Event = strings.TrimSpace(t.Event)
	t.OverlapPolicy = strings.TrimSpace(t.OverlapPolicy)
	t.ConditionExpression = strings.TrimSpace(t.ConditionExpression)
	if t.TimeZone == "" {
		t.TimeZone = DefaultTimeZone
	}
	if t.Timeout == 0 {
		t.Timeout = DefaultTriggerTimeout
	}
	if t.OverlapPolicy == "" {
		t.OverlapPolicy = OverlapSkip
	}
	if t.Conditions == nil {
		t.Conditions = []Condition{}
	}
}

// Validate checks a normalized trigger and names every problem by its JSON
// path; actions are checked against the registered actions. Whether the
// flow exists and is a service flow is the store's check, since only the
// database knows.
func (t *Trigger) Validate(actions ActionCatalog) error {
	return t.ValidateWith(actions, EventTypeSet{})
}

// ValidateWith is Validate with the installation's custom event types, which
// an On Event trigger may choose like catalog ones.
func (t *Trigger) ValidateWith(actions ActionCatalog, known EventTypeSet) error {
	f := FieldErrors{}
	validateName(f, t.Name)
	if len(t.Description) > MaxDescriptionLength {
		f.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	}
	switch t.Type {
	case "":
		f.Add("type", `is required: "at_time" or "on_event"`)
	case TriggerAtTime:
		if t.Expression == "" {
			f.Add("expression", `is required for an at_time trigger, e.g. "0 */1 12 * * *" (every minute from 12:00 to 12:59)`)
		} else if _, err := ParseCron(t.Expression); err != nil {
			f.Add("expression", err.Error())
		}
		if t.Object != "" {
			f.Add("object", "is only for on_event triggers")
		}
		if t.Event != "" {
			f.Add("event", "is only for on_event triggers")
		}
		if len(t.Conditions) > 0 {
			f.Add("conditions", "are only for on_event triggers: an at_time trigger has no event to test")
		}
		if t.ConditionExpression != "" {
			f.Add("condition_expression", "is only for on_event triggers: an at_time trigger has no event to test")
		}
	case TriggerOnEvent:
		f.Merge("", known.ValidateObjectEvent(t.Object, t.Event))
		if t.Expression != "" {
			f.Add("expression", "is only for at_time triggers")
		}
		f.Merge("conditions", ValidateConditions(t.Conditions))
		if t.ConditionExpression != "" {
			if _, err := CompileExpression(t.ConditionExpression); err != nil {
				f.Add("condition_expression", err.Error())
			}
		}
	default:
		f.Add("type", fmt.Sprintf(`%q is not a trigger type; use "at_time" or "on_event"`, truncateForMessage(t.Type)))
	}
	if _, err := ValidateTimeZone(t.TimeZone); err != nil {
		f.Add("timezone", err.Error())
	}
	if t.Timeout < MinTriggerTimeout || t.Timeout > MaxTriggerTimeout {
		f.Add("timeout", fmt.Sprintf("must be between %s and %s", MinTriggerTimeout, MaxTriggerTimeout))
	}
	if !contains(OverlapPolicies(), t.OverlapPolicy) {
		f.Add("overlap_policy", fmt.Sprintf("%q is not an overlap policy; use one of %s",
			truncateForMessage(t.OverlapPolicy), strings.Join(OverlapPolicies(), ", ")))
	}
	switch {
	case t.Flow == "" && t.Actions == nil:
		f.Add("flow", "is required unless actions are given: name a service flow by id or name")
	case t.Flow != "" && len(t.Actions) > 0:
		f.Add("actions", "cannot be combined with flow; give one of them")
	case t.Flow == "":
		f.Merge("actions", ValidateTriggerActions(t.Actions, actions))
	}
	return f.Err()
}

// Schedule returns the parsed expression and zone of an At Time trigger.
func (t *Trigger) Schedule() (*CronExpression, *time.Location, error) {
	expr, err := ParseCron(t.Expression)
	if err != nil {
		return nil, nil, err
	}
	loc, err := ValidateTimeZone(t.TimeZone)
	if err != nil {
		return nil, nil, err
	}
	return expr, loc, nil
}

// NextRuns computes the next n fire times after after, in the trigger's
// zone, the way Temporal's scheduler does; nil for On Event triggers.
func (t *Trigger) NextRuns(after time.Time, n int) []time.Time {
	if t.Type != TriggerAtTime {
		return nil
	}
	expr, loc, err := t.Schedule()
	if err != nil {
		return nil
	}
	return expr.Next(after, loc, n)
}

func validateName(f FieldErrors, name string) {
	if name == "" {
		f.Add("name", "is required")
	} else if len(name) > MaxNameLength {
		f.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameLength))
	}
}

// TriggerAction is one ipSCAPE-style action of a trigger:
// {"action": "webhook", "parameters": {"url": "https://…"}}. Each action runs
// as a flow step, so a trigger with actions and one with a flow go through
// the same engine.
type TriggerAction struct {
	Action     string         `json:"action"`
	Parameters map[string]any `json:"parameters"`
}

// DecodeTriggerActions reads an actions list from raw JSON and reports, field
// by field, what the ipSCAPE form refuses: a value that is not a list, an
// action that is not an object, parameters that are not an object. Unknown
// keys in an action are refused too, so a typo ("parameter") is not ignored.
// Validate the result with ValidateTriggerActions.
func DecodeTriggerActions(raw json.RawMessage) ([]TriggerAction, FieldErrors) {
	f := FieldErrors{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, f
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		f.Add("", `must be a list of actions such as [{"action": "webhook", "parameters": {"url": "https://…"}}]`)
		return nil, f
	}
	out := make([]TriggerAction, 0, len(items))
	for i, item := range items {
		p := fmt.Sprintf("[%d]", i)
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(item, &fields); err != nil || fields == nil {
			f.Add(p, `must be an object {"action": …, "parameters": {…}}`)
			continue
		}
		var a TriggerAction
		for key, v := range fields {
			switch key {
			case "action":
				if err := json.Unmarshal(v, &a.Action); err != nil {
					f.Add(p+".action", "must be a string such as \"webhook\"")
				}
			case "parameters":
				v = bytes.TrimSpace(v)
				if string(v) == "null" {
					continue
				}
				dec := json.NewDecoder(bytes.NewReader(v))
				dec.UseNumber()
				if err := dec.Decode(&a.Parameters); err != nil {
					f.Add(p+".parameters", `must be an object such as {"url": "https://…"}`)
				}
			default:
				f.Add(fmt.Sprintf("%s.%s", p, key), `is not a field of an action; use "action" and "parameters"`)
			}
		}
		out = append(out, a)
	}
	return out, f
}

// ValidateTriggerActions checks an actions list against the registered
// actions (the ones flows use: ipSCAPE's webhook and lead.update.list among
// them): not empty, at most MaxTriggerActions, each naming a registered
// action with present parameters that its schema accepts. Paths are
// relative to the list ("[0].parameters.url").
func ValidateTriggerActions(actions []TriggerAction, catalog ActionCatalog) FieldErrors {
	f := FieldErrors{}
	switch {
	case len(actions) == 0:
		f.Add("", `must list at least one action, e.g. {"action": "webhook", "parameters": {"url": "https://…"}}`)
		return f
	case len(actions) > MaxTriggerActions:
		f.Add("", fmt.Sprintf("must list at most %d actions", MaxTriggerActions))
		return f
	}
	for i := range actions {
		a := &actions[i]
		p := fmt.Sprintf("[%d]", i)
		a.Action = strings.TrimSpace(a.Action)
		if a.Action == "" {
			f.Add(p+".action", "is required; use one of "+strings.Join(catalog.ActionNames(), ", "))
			continue
		}
		spec, ok := catalog.ActionSpec(a.Action)
		if !ok {
			f.Add(p+".action", fmt.Sprintf("%q is not a registered action; use one of %s (GET /v1/actions)",
				truncateForMessage(a.Action), strings.Join(catalog.ActionNames(), ", ")))
			continue
		}
		// ipSCAPE: "Check the parameters are not empty".
		if len(a.Parameters) == 0 {
			f.Add(p+".parameters", fmt.Sprintf("must not be empty: action %q needs its parameters (%s)", a.Action, spec.paramNames()))
			continue
		}
		f.Merge(p+".parameters", spec.ValidateParams(a.Parameters))
	}
	return f
}

// QueueHookEvents lists the events a queue hook may listen to, in display
// order: the events of the catalog's "queue" object.
func QueueHookEvents() []string {
	obj := catalogByName["queue"]
	out := make([]string, len(obj.Events))
	for i, e := range obj.Events {
		out[i] = e.Name
	}
	return out
}

// QueueHook runs a flow when an event happens on one queue (Webitel's queue
// hooks): a published event of type "queue.<Event>" whose data.queue_id is
// QueueID. It is an On Event trigger scoped to a queue.
type QueueHook struct {
	ID      string
	QueueID string
	Event   string
	// Flow is the flow's id or name on input and its id once saved (see
	// Trigger.Flow).
	Flow      string
	FlowName  string
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// EventType is the event type the hook matches ("queue.missed").
func (h *QueueHook) EventType() string { return EventType("queue", h.Event) }

// Normalize trims the hook's text fields.
func (h *QueueHook) Normalize() {
	h.QueueID = strings.TrimSpace(h.QueueID)
	h.Event = strings.TrimSpace(h.Event)
	h.Flow = strings.TrimSpace(h.Flow)
}

// Validate checks a normalized queue hook field by field.
func (h *QueueHook) Validate() error {
	f := FieldErrors{}
	if msg := queueIDProblem(h.QueueID); msg != "" {
		f.Add("queue_id", msg)
	}
	events := QueueHookEvents()
	switch {
	case h.Event == "":
		f.Add("event", "is required; use one of "+strings.Join(events, ", "))
	case !contains(events, h.Event):
		f.Add("event", fmt.Sprintf("%q is not a queue event; use one of %s", truncateForMessage(h.Event), strings.Join(events, ", ")))
	}
	if h.Flow == "" {
		f.Add("flow", "is required: name a service flow by id or name")
	}
	return f.Err()
}

// ValidateQueueID checks a queue id as it appears in a path: the value a
// queue event carries in data.queue_id.
func ValidateQueueID(id string) error {
	if msg := queueIDProblem(id); msg != "" {
		return Invalid("queue_id", msg)
	}
	return nil
}

func queueIDProblem(id string) string {
	switch {
	case id == "":
		return "is required"
	case len(id) > MaxQueueIDLength:
		return fmt.Sprintf("must be at most %d characters", MaxQueueIDLength)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return "must not contain spaces or control characters"
		}
	}
	return ""
}
