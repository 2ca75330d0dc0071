package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Flow types. Webitel has several kinds of flow schema (voice, chat, …); only
// service flows may be run by triggers and queue hooks.
const (
	FlowTypeService = "service"
	FlowTypeDefault = "default"
)

// Flow limits and defaults. A step's timeout is the StartToClose timeout of
// its activity; the whole run is bounded by its trigger's timeout.
const (
	MaxFlowSteps       = 100
	MaxStepNameLength  = 64
	DefaultStepTimeout = 30 * time.Second
	MinStepTimeout     = time.Second
	MaxStepTimeout     = time.Hour
	// DefaultStepAttempts, DefaultStepInitialInterval and
	// DefaultStepBackoff are the retry policy of a step that names none:
	// three tries, one second apart, doubling.
	DefaultStepAttempts        = 3
	DefaultStepInitialInterval = time.Second
	DefaultStepBackoff         = 2.0
)

// Flow is a named, versioned list of steps. Version goes up each time the
// steps change; a run keeps the version that was current when it started.
type Flow struct {
	ID          string
	Name        string
	Type        string
	Description string
	Version     int
	Steps       []Step
	// EventTypes are the event types the flow expects (exact types or
	// "<object>.*"); empty means any. A trigger or queue hook on another
	// event is refused (Webitel: a trigger's flow must match its event).
	EventTypes []string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Step is one action of a flow: Action names a registered action, Params are
// its parameters (strings are templates over the run's scope, nested maps and
// arrays included), If are conditions that must hold for the step to run,
// and Timeout and Retry bound its activity.
type Step struct {
	Name    string         `json:"name"`
	Action  string         `json:"action"`
	Params  map[string]any `json:"params"`
	If      []Condition    `json:"if,omitempty"`
	Timeout Duration       `json:"timeout,omitempty"`
	Retry   *RetryPolicy   `json:"retry,omitempty"`
}

// UnmarshalJSON reads a step keeping numbers in params exact (json.Number),
// so an id such as 12345678901234567891 survives storage and Temporal.
func (s *Step) UnmarshalJSON(b []byte) error {
	type plainStep Step
	var raw struct {
		plainStep
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = Step(raw.plainStep)
	s.Params = nil
	if len(raw.Params) > 0 && string(raw.Params) != "null" {
		if err := decodeJSONNumber(string(raw.Params), &s.Params); err != nil {
			return fmt.Errorf("params: %w", err)
		}
	}
	return nil
}

// EffectiveTimeout is the step's timeout, or DefaultStepTimeout.
func (s Step) EffectiveTimeout() time.Duration {
	if s.Timeout > 0 {
		return time.Duration(s.Timeout)
	}
	return DefaultStepTimeout
}

// EffectiveRetry is the step's retry policy with presets expanded, or the
// default (3 attempts, 1s, backoff 2).
func (s Step) EffectiveRetry() RetryPolicy {
	if s.Retry == nil || *s.Retry == (RetryPolicy{}) {
		return RetryPolicy{
			InitialInterval: Duration(DefaultStepInitialInterval),
			Backoff:         DefaultStepBackoff,
			MaxInterval:     Duration(100 * DefaultStepInitialInterval),
			MaxAttempts:     DefaultStepAttempts,
		}
	}
	return s.Retry.Resolved()
}

// Statuses of one step of a run.
const (
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
	StepSkipped   = "skipped" // its "if" conditions did not hold
	StepCanceled  = "canceled"
)

// StepOutcome is what one step of a run did. Steps after a failed one are
// not listed: they never began.
type StepOutcome struct {
	Name       string     `json:"name"`
	Action     string     `json:"action"`
	Status     string     `json:"status"`
	Error      string     `json:"error,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// FlowUsableByTriggers reports whether a flow of type flowType may be run by
// triggers and queue hooks: only service flows may (Webitel: "Only Flow
// schemes with the Service type are suitable for selection").
func FlowUsableByTriggers(flowType string) bool { return flowType == FlowTypeService }

// Normalize trims names and fills defaults: type service, empty params.
func (f *Flow) Normalize() {
	f.Name = strings.TrimSpace(f.Name)
	f.Type = strings.TrimSpace(f.Type)
	if f.Type == "" {
		f.Type = FlowTypeService
	}
	NormalizeSteps(f.Steps)
	if f.EventTypes == nil {
		f.EventTypes = []string{}
	}
}

// NormalizeSteps trims step and action names and gives every step a params
// object, so stored steps always read the same way.
func NormalizeSteps(steps []Step) {
	for i := range steps {
		steps[i].Name = strings.TrimSpace(steps[i].Name)
		steps[i].Action = strings.TrimSpace(steps[i].Action)
		if steps[i].Params == nil {
			steps[i].Params = map[string]any{}
		}
	}
}

// Validate checks a normalized flow against the registered actions and names
// every problem by its JSON path ("steps[1].params.url").
func (f *Flow) Validate(actions ActionCatalog) error {
	return f.ValidateWith(actions, EventTypeSet{})
}

// ValidateWith is Validate knowing the installation's custom event types,
// which a flow may expect like catalog ones.
func (f *Flow) ValidateWith(actions ActionCatalog, known EventTypeSet) error {
	errs := FieldErrors{}
	if len(f.EventTypes) > MaxEventTypes {
		errs.Add("event_types", fmt.Sprintf("must list at most %d event types", MaxEventTypes))
	}
	for i, t := range f.EventTypes {
		if t == "*" {
			errs.Add(fmt.Sprintf("event_types[%d]", i), `"*" is every type: leave event_types empty instead`)
		} else if err := known.ValidatePattern(t); err != nil {
			errs.Add(fmt.Sprintf("event_types[%d]", i), err.Error())
		}
	}
	validateName(errs, f.Name)
	if strings.Contains(f.Name, "/") {
		// A flow is addressed by id or name in URLs (/v1/flows/{id}).
		errs.Add("name", `must not contain "/"`)
	}
	if hasControlChars(f.Name) {
		errs.Add("name", "must not contain control characters")
	}
	if err := ValidateCode(f.Type); err != nil {
		errs.Add("type", fmt.Sprintf("%s (e.g. %q, the type triggers can use)", err.Error(), FlowTypeService))
	}
	if len(f.Description) > MaxDescriptionLength {
		errs.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	}
	errs.Merge("steps", ValidateSteps(f.Steps, actions))
	return errs.Err()
}

// Accepts reports whether the flow may handle events of eventType: it
// declares no event types, or one of them matches.
func (f *Flow) Accepts(eventType string) bool {
	if len(f.EventTypes) == 0 {
		return true
	}
	for _, p := range f.EventTypes {
		if MatchEventType(p, eventType) {
			return true
		}
	}
	return false
}

// CheckHandles says why a trigger or queue hook on events of eventType ("" for
// an At Time trigger, which has no event) may not run the flow; nil when it
// may.
func (f *Flow) CheckHandles(eventType string) error {
	switch {
	case len(f.EventTypes) == 0:
		return nil
	case eventType == "":
		return fmt.Errorf("flow %q expects events of %s; an at_time trigger has none (clear the flow's event_types to run it on a timetable)",
			f.Name, strings.Join(f.EventTypes, ", "))
	case !f.Accepts(eventType):
		return fmt.Errorf("flow %q expects events of %s, not %s", f.Name, strings.Join(f.EventTypes, ", "), eventType)
	}
	return nil
}

var stepNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ValidateSteps checks a step list: not empty, unique names in [a-z0-9_],
// registered actions with well-formed parameters, conditions, timeouts and
// retry policies. Paths are relative to the list ("[1].params.url").
func ValidateSteps(steps []Step, actions ActionCatalog) FieldErrors {
	errs := FieldErrors{}
	switch {
	case len(steps) == 0:
		errs.Add("", `must list at least one step, e.g. {"name": "notify_team", "action": "notify", "params": {…}}`)
		return errs
	case len(steps) > MaxFlowSteps:
		errs.Add("", fmt.Sprintf("must list at most %d steps", MaxFlowSteps))
		return errs
	}
	earlier := map[string]bool{}
	for i, s := range steps {
		p := fmt.Sprintf("[%d]", i)
		switch {
		case s.Name == "":
			errs.Add(p+".name", "is required")
		case len(s.Name) > MaxStepNameLength:
			errs.Add(p+".name", fmt.Sprintf("must be at most %d characters", MaxStepNameLength))
		case !stepNamePattern.MatchString(s.Name):
			errs.Add(p+".name", "must start with a lowercase letter and use only lowercase letters, digits and underscores (it is how later steps refer to this one: {{ steps.<name>… }})")
		case earlier[s.Name]:
			errs.Add(p+".name", fmt.Sprintf("%q is already the name of an earlier step", s.Name))
		}
		validateStepAction(errs, p, s, actions)
		errs.Merge(p+".if", ValidateConditions(s.If))
		for j, c := range s.If {
			if msg := stepReferenceProblem(c.Reference, earlier); msg != "" {
				errs.Add(fmt.Sprintf("%s.if[%d].reference", p, j), msg)
			}
		}
		if s.Timeout != 0 && (time.Duration(s.Timeout) < MinStepTimeout || time.Duration(s.Timeout) > MaxStepTimeout) {
			errs.Add(p+".timeout", fmt.Sprintf("must be between %s and %s", MinStepTimeout, MaxStepTimeout))
		}
		if s.Retry != nil {
			if s.Retry.RetryAll {
				errs.Add(p+".retry.retry_all", "applies to webhooks only; an action decides itself which failures cannot succeed on retry")
			}
			if *s.Retry != (RetryPolicy{}) {
				errs.Merge(p+".retry", s.Retry.Validate())
			}
		}
		if s.Name != "" {
			earlier[s.Name] = true
		}
	}
	errs.Merge("", ValidateStepReferences(steps))
	return errs
}

func validateStepAction(errs FieldErrors, p string, s Step, actions ActionCatalog) {
	if s.Action == "" {
		errs.Add(p+".action", "is required; use one of "+strings.Join(actions.ActionNames(), ", "))
		return
	}
	spec, ok := actions.ActionSpec(s.Action)
	if !ok {
		errs.Add(p+".action", fmt.Sprintf("%q is not a registered action; use one of %s (GET /v1/actions)",
			truncateForMessage(s.Action), strings.Join(actions.ActionNames(), ", ")))
		return
	}
	errs.Merge(p+".params", spec.ValidateParams(s.Params))
}

// stepRefPattern finds "steps.<name>" inside {{ }} or {% %}.
var stepRefPattern = regexp.MustCompile(`\bsteps\.([A-Za-z0-9_]+)`)

// stepReferenceProblem reports a reference to a step that does not run
// before the current one: it would always read as empty.
func stepReferenceProblem(ref string, earlier map[string]bool) string {
	name, ok := strings.CutPrefix(ref, "steps.")
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, ".")
	if name != "" && !earlier[name] {
		return fmt.Sprintf("refers to step %q, which does not run before this step", name)
	}
	return ""
}

// ValidateStepReferences checks that templates in each step's params only
// read the outputs of earlier steps ({{ steps.lookup.response.json.id }}).
func ValidateStepReferences(steps []Step) FieldErrors {
	errs := FieldErrors{}
	earlier := map[string]bool{}
	for i, s := range steps {
		walkTemplates(s.Params, fmt.Sprintf("[%d].params", i), func(path, src string) {
			for _, blk := range templateBlocks(src) {
				for _, m := range stepRefPattern.FindAllStringSubmatch(blk, -1) {
					if !earlier[m[1]] {
						errs.Add(path, fmt.Sprintf("refers to step %q, which does not run before this step", m[1]))
					}
				}
			}
		})
		if s.Name != "" {
			earlier[s.Name] = true
		}
	}
	return errs
}

// templateBlocks returns the insides of {{ }} and {% %} in src.
func templateBlocks(src string) []string {
	var out []string
	for {
		i := strings.Index(src, "{")
		if i < 0 || i+1 >= len(src) {
			return out
		}
		closer := ""
		switch src[i+1] {
		case '{':
			closer = "}}"
		case '%':
			closer = "%}"
		default:
			src = src[i+1:]
			continue
		}
		j := strings.Index(src[i+2:], closer)
		if j < 0 {
			return out
		}
		out = append(out, src[i+2:i+2+j])
		src = src[i+2+j+2:]
	}
}

// walkTemplates calls f for every string inside v (maps and arrays walked),
// with its JSON path.
func walkTemplates(v any, path string, f func(path, src string)) {
	switch x := v.(type) {
	case string:
		f(path, x)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walkTemplates(x[k], keyPath(path, k), f)
		}
	case []any:
		for i, e := range x {
			walkTemplates(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	}
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keyPath appends an object key to a JSON path: ".key" for plain names,
// `["X-Key"]` otherwise.
func keyPath(path, key string) string {
	if plainKey.MatchString(key) {
		return JoinPath(path, key)
	}
	return fmt.Sprintf("%s[%q]", path, key)
}

func hasControlChars(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return true
		}
	}
	return false
}

// StepsFromTriggerActions turns a trigger's ipSCAPE-style actions into flow
// steps named action_1, action_2, …, so both forms run through one engine.
func StepsFromTriggerActions(actions []TriggerAction) []Step {
	steps := make([]Step, 0, len(actions))
	for i, a := range actions {
		params := make(map[string]any, len(a.Parameters))
		for k, v := range a.Parameters {
			params[k] = v
		}
		steps = append(steps, Step{Name: fmt.Sprintf("action_%d", i+1), Action: a.Action, Params: params})
	}
	return steps
}

// ParamType is the JSON type of an action parameter. Every type also accepts
// a string template that renders to a value of the type.
type ParamType string

// Parameter types.
const (
	ParamString  ParamType = "string"
	ParamNumber  ParamType = "number"
	ParamBoolean ParamType = "boolean"
	ParamObject  ParamType = "object"
	ParamArray   ParamType = "array"
	// ParamStringMap is an object of text values, e.g. HTTP headers.
	ParamStringMap ParamType = "string-map"
	// ParamAny is any JSON value, e.g. a request body.
	ParamAny ParamType = "any"
)

// Parameter formats: extra checks on text parameters (and array items).
const (
	FormatURL      = "url"      // an absolute http(s) URL (placeholders allowed)
	FormatDuration = "duration" // a Go duration such as "30s" or "10m"
	FormatHeaders  = "headers"  // a string-map whose keys are HTTP header names
	FormatEmail    = "email"    // an e-mail address
)

// ParamSpec describes one parameter of an action.
type ParamSpec struct {
	Name        string    `json:"name"`
	Type        ParamType `json:"type"`
	Required    bool      `json:"required"`
	Description string    `json:"description"`
	// Default is used when the parameter is absent; strings in it are
	// templates too ("{{ leadId }}" reads the event).
	Default any      `json:"default,omitempty"`
	Format  string   `json:"format,omitempty"`
	Enum    []string `json:"enum,omitempty"`
	// Aliases are other names accepted for the parameter (ipSCAPE's own
	// example writes "lead.listId" for "listId").
	Aliases []string `json:"aliases,omitempty"`
}

// OutputField describes one value of an action's result, as later steps
// read it under steps.<name>.
type OutputField struct {
	Path        string    `json:"path"`
	Type        ParamType `json:"type"`
	Description string    `json:"description"`
}

// ActionSpec is what flows know about an action: its name, its parameters
// and what it returns. The activities package registers them.
type ActionSpec struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Params      []ParamSpec   `json:"params"`
	Outputs     []OutputField `json:"outputs,omitempty"`
	// Check, when set, adds action-specific checks of literal params (e.g.
	// a timeout range) after the schema checks; paths are relative to params.
	Check func(params map[string]any) FieldErrors `json:"-"`
}

// ActionCatalog is the set of registered actions a flow is validated
// against; the activities package provides it.
type ActionCatalog interface {
	ActionSpec(name string) (ActionSpec, bool)
	ActionNames() []string
}

var actionNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// CheckSpec reports mistakes in an action's own description (a programming
// error: registering such an action panics).
func (a ActionSpec) CheckSpec() error {
	if !actionNamePattern.MatchString(a.Name) {
		return fmt.Errorf("action name %q must be dot-separated lowercase words such as \"http.request\"", a.Name)
	}
	if strings.TrimSpace(a.Description) == "" {
		return fmt.Errorf("action %s: a description is required", a.Name)
	}
	seen := map[string]bool{}
	for _, p := range a.Params {
		for _, n := range append([]string{p.Name}, p.Aliases...) {
			if n == "" || seen[n] {
				return fmt.Errorf("action %s: parameter name %q is empty or used twice", a.Name, n)
			}
			seen[n] = true
		}
		switch p.Type {
		case ParamString, ParamNumber, ParamBoolean, ParamObject, ParamArray, ParamStringMap, ParamAny:
		default:
			return fmt.Errorf("action %s: parameter %s has unknown type %q", a.Name, p.Name, p.Type)
		}
		if strings.TrimSpace(p.Description) == "" {
			return fmt.Errorf("action %s: parameter %s needs a description", a.Name, p.Name)
		}
		if p.Default != nil {
			if errs := a.validateParam(FieldErrors{}, p, p.Name, p.Default); len(errs) > 0 {
				return fmt.Errorf("action %s: default of %s is invalid: %v", a.Name, p.Name, errs)
			}
		}
	}
	return nil
}

// param finds a parameter by name or alias.
func (a ActionSpec) param(name string) (ParamSpec, bool) {
	for _, p := range a.Params {
		if p.Name == name {
			return p, true
		}
		for _, al := range p.Aliases {
			if al == name {
				return p, true
			}
		}
	}
	return ParamSpec{}, false
}

func (a ActionSpec) paramNames() string {
	names := make([]string, 0, len(a.Params))
	for _, p := range a.Params {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// ValidateParams checks a step's params against the action's schema: no
// unknown names, required ones present, values of the right type, templates
// that parse and formats that hold. Paths are relative ("url", `headers["X"]`).
func (a ActionSpec) ValidateParams(params map[string]any) FieldErrors {
	errs := FieldErrors{}
	given := map[string]string{} // canonical name -> the key used
	for _, k := range sortedKeys(params) {
		p, ok := a.param(k)
		if !ok {
			errs.Add(keyPath("", k), fmt.Sprintf("is not a parameter of action %q; its parameters are %s", a.Name, a.paramNames()))
			continue
		}
		if other, dup := given[p.Name]; dup {
			errs.Add(keyPath("", k), fmt.Sprintf("duplicates %s; give one of them", other))
			continue
		}
		given[p.Name] = k
		if params[k] == nil {
			continue // null is absent
		}
		a.validateParam(errs, p, keyPath("", k), params[k])
	}
	for _, p := range a.Params {
		key, ok := given[p.Name]
		if p.Required && p.Default == nil && (!ok || params[key] == nil) {
			errs.Add(keyPath("", p.Name), "is required: "+p.Description)
		} else if p.Required && ok {
			if s, isString := params[key].(string); isString && strings.TrimSpace(s) == "" {
				errs.Add(keyPath("", key), "must not be empty")
			}
		}
	}
	if len(errs) == 0 && a.Check != nil {
		errs.Merge("", a.Check(params))
	}
	return errs
}

func (a ActionSpec) validateParam(errs FieldErrors, p ParamSpec, path string, v any) FieldErrors {
	templates := func() {
		walkTemplates(v, path, func(tp, src string) {
			if err := ValidateTemplate(src); err != nil {
				errs.Add(tp, err.Error())
			}
		})
	}
	s, isString := v.(string)
	isTemplate := isString && strings.Contains(s, "{{") || isString && strings.Contains(s, "{%")
	switch p.Type {
	case ParamString:
		switch v.(type) {
		case string:
		case json.Number, float64, int, int64, bool:
			// A number or true/false is taken as its text, except where
			// the text has a format (a URL, a duration, an address).
			if p.Format != "" || len(p.Enum) > 0 {
				errs.Add(path, "must be text")
				return errs
			}
		default:
			errs.Add(path, "must be text")
			return errs
		}
		if isString {
			if err := ValidateTemplate(s); err != nil {
				errs.Add(path, err.Error())
				return errs
			}
			checkFormat(errs, p, path, s, isTemplate)
		}
		if len(p.Enum) > 0 && !isTemplate {
			if _, ok := enumValue(p.Enum, scalarString(v)); !ok {
				errs.Add(path, fmt.Sprintf("%q is not allowed; use one of %s", truncateForMessage(scalarString(v)), strings.Join(p.Enum, ", ")))
			}
		}
	case ParamNumber:
		switch v.(type) {
		case json.Number, float64, int, int64:
		case string:
			if isTemplate {
				templates()
			} else if !numberText.MatchString(s) {
				errs.Add(path, "must be a number (or a template that renders one)")
			}
		default:
			errs.Add(path, "must be a number")
		}
	case ParamBoolean:
		switch v.(type) {
		case bool:
		case string:
			if isTemplate {
				templates()
			} else if _, err := strconv.ParseBool(strings.TrimSpace(s)); err != nil {
				errs.Add(path, "must be true or false (or a template that renders one)")
			}
		default:
			errs.Add(path, "must be true or false")
		}
	case ParamObject:
		switch v.(type) {
		case map[string]any, string:
			templates()
		default:
			errs.Add(path, "must be an object (or a template that renders one as JSON)")
		}
	case ParamArray:
		switch x := v.(type) {
		case []any:
			templates()
			for i, e := range x {
				if es, ok := e.(string); ok {
					checkFormat(errs, p, fmt.Sprintf("%s[%d]", path, i), es, strings.Contains(es, "{{") || strings.Contains(es, "{%"))
				}
			}
		case string:
			templates()
			if !isTemplate {
				for _, item := range strings.Split(s, ",") {
					checkFormat(errs, p, path, strings.TrimSpace(item), false)
				}
			}
		default:
			errs.Add(path, "must be an array (or a comma-separated text)")
		}
	case ParamStringMap:
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				kp := fmt.Sprintf("%s[%q]", path, k)
				switch e := x[k].(type) {
				case string:
					if err := ValidateTemplate(e); err != nil {
						errs.Add(kp, err.Error())
					}
				case json.Number, float64, int, int64, bool, nil:
				default:
					errs.Add(kp, "must be text")
				}
				if p.Format == FormatHeaders {
					if k == "" || !validHeaderName(k) {
						errs.Add(kp, "is not a valid HTTP header name")
					} else if reservedHeader(k) {
						errs.Add(kp, "is set by TriggerFlow and cannot be overridden")
					}
				}
			}
		case string:
			templates()
		default:
			errs.Add(path, "must be an object of names to text")
		}
	case ParamAny:
		templates()
	}
	return errs
}

func checkFormat(errs FieldErrors, p ParamSpec, path, s string, isTemplate bool) {
	switch p.Format {
	case FormatURL:
		validateURLTemplate(errs, path, strings.TrimSpace(s))
	case FormatDuration:
		if !isTemplate {
			if d, err := time.ParseDuration(strings.TrimSpace(s)); err != nil || d <= 0 {
				errs.Add(path, fmt.Sprintf("%q is not a positive duration such as \"30s\" or \"10m\"", truncateForMessage(s)))
			}
		}
	case FormatEmail:
		if !isTemplate && s != "" {
			if _, err := mail.ParseAddress(s); err != nil {
				errs.Add(path, fmt.Sprintf("%q is not an e-mail address", truncateForMessage(s)))
			}
		}
	}
}

func enumValue(enum []string, v string) (string, bool) {
	v = strings.TrimSpace(v)
	for _, e := range enum {
		if strings.EqualFold(e, v) {
			return e, true
		}
	}
	return "", false
}

// scalarString is the text of a scalar parameter value.
func scalarString(v any) string {
	text, _ := scalarText(v)
	return text
}

// RenderParams prepares a step's params for its activity: aliases become
// canonical names, absent params take their defaults, every string (nested
// ones too) is rendered as a template over scope, and each value is turned
// into its declared type ("5" for a number becomes 5, a rendered JSON text
// for an object becomes the object). Unknown params are dropped. An error
// names the parameter; it means the step cannot run with this scope.
func (a ActionSpec) RenderParams(params map[string]any, scope map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(a.Params))
	for _, p := range a.Params {
		v, ok := params[p.Name]
		for _, al := range p.Aliases {
			if ok && v != nil {
				break
			}
			v, ok = params[al]
		}
		if !ok || v == nil {
			if p.Default == nil {
				if p.Required {
					return nil, fmt.Errorf("params.%s is required", p.Name)
				}
				continue
			}
			v = p.Default
		}
		var rendered any
		var err error
		if s, isText := v.(string); isText && p.Format == FormatURL {
			// A URL renders by URLTemplate's rules: values cannot change
			// its host or shape.
			rendered, err = RenderURL(s, scope)
		} else {
			rendered, err = renderValue(v, scope)
		}
		if err != nil {
			return nil, fmt.Errorf("params.%s: %w", p.Name, err)
		}
		typed, err := coerceParam(p, rendered)
		if err != nil {
			return nil, fmt.Errorf("params.%s: %w", p.Name, err)
		}
		if typed == nil {
			if p.Required {
				return nil, fmt.Errorf("params.%s is required but rendered empty", p.Name)
			}
			continue
		}
		out[p.Name] = typed
	}
	return out, nil
}

// renderValue renders every string in v as a template.
func renderValue(v any, scope map[string]any) (any, error) {
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, "{{") && !strings.Contains(x, "{%") {
			return x, nil
		}
		t, err := ParseTemplate(x)
		if err != nil {
			return nil, err
		}
		return t.Render(scope)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := renderValue(e, scope)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := renderValue(e, scope)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

var errRenderedEmpty = errors.New("rendered empty")

// coerceParam turns a rendered value into the parameter's type; nil means
// "absent" (an optional param whose template rendered nothing).
func coerceParam(p ParamSpec, v any) (any, error) {
	s, isString := v.(string)
	if isString {
		s = strings.TrimSpace(s)
	}
	switch p.Type {
	case ParamString:
		text := scalarString(v)
		if _, ok := v.(map[string]any); ok {
			text = jsonText(v)
		} else if _, ok := v.([]any); ok {
			text = jsonText(v)
		}
		if len(p.Enum) > 0 && text != "" {
			canon, ok := enumValue(p.Enum, text)
			if !ok {
				return nil, fmt.Errorf("%q is not one of %s", truncateForMessage(text), strings.Join(p.Enum, ", "))
			}
			text = canon
		}
		if text == "" && p.Required {
			return nil, errRenderedEmpty
		}
		return text, nil
	case ParamNumber:
		if !isString {
			switch v.(type) {
			case json.Number, float64, int, int64:
				return v, nil
			}
			return nil, fmt.Errorf("must be a number, not %T", v)
		}
		if s == "" {
			return nil, nil
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return nil, fmt.Errorf("%q is not a number", truncateForMessage(s))
		}
		return json.Number(s), nil
	case ParamBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if !isString {
			return nil, fmt.Errorf("must be true or false, not %T", v)
		}
		if s == "" {
			return nil, nil
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", truncateForMessage(s))
		}
		return b, nil
	case ParamObject:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
		if !isString {
			return nil, fmt.Errorf("must be an object, not %T", v)
		}
		if s == "" {
			return nil, nil
		}
		var m map[string]any
		if err := decodeJSONNumber(s, &m); err != nil || m == nil {
			return nil, fmt.Errorf("rendered text is not a JSON object")
		}
		return m, nil
	case ParamArray:
		if a, ok := v.([]any); ok {
			return a, nil
		}
		if !isString {
			return []any{v}, nil
		}
		if s == "" {
			return nil, nil
		}
		if strings.HasPrefix(s, "[") {
			var a []any
			if err := decodeJSONNumber(s, &a); err != nil {
				return nil, fmt.Errorf("rendered text is not a JSON array")
			}
			return a, nil
		}
		var items []any
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		return items, nil
	case ParamStringMap:
		m, ok := v.(map[string]any)
		if !ok {
			if !isString {
				return nil, fmt.Errorf("must be an object of names to text, not %T", v)
			}
			if s == "" {
				return nil, nil
			}
			if err := decodeJSONNumber(s, &m); err != nil || m == nil {
				return nil, fmt.Errorf("rendered text is not a JSON object")
			}
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			switch e.(type) {
			case map[string]any, []any:
				out[k] = jsonText(e)
			default:
				out[k] = scalarString(e)
			}
		}
		return out, nil
	}
	return v, nil
}

func decodeJSONNumber(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// DecodeSteps reads stored steps, keeping numbers exact (json.Number).
func DecodeSteps(raw []byte) ([]Step, error) {
	var steps []Step
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&steps); err != nil {
		return nil, fmt.Errorf("decode steps: %w", err)
	}
	NormalizeSteps(steps)
	return steps, nil
}
