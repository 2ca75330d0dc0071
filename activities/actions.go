package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// Actions holds what flow actions need. The worker makes one and binds every
// registered action to it; an action is a function of the form
// func(*Actions, context.Context, In) (Out, error), usually a method
// expression such as (*Actions).Notify.
type Actions struct {
	// HTTP is the egress-checked client for user-supplied URLs
	// (http.request, webhook).
	HTTP *http.Client
	// InternalHTTP reaches endpoints the operator configured (the lead API);
	// it is not subject to the egress policy, since those addresses are
	// trusted and often private. nil means a client with a 30s timeout.
	InternalHTTP *http.Client
	// Notifications keeps the notify action's messages.
	Notifications *store.Notifications
	// Runs finds the run a notification belongs to (optional).
	Runs *store.Runs
	// Settings are the operator's settings for actions that reach
	// configured systems (SMTP, the lead API).
	Settings ActionSettings
	// Logger receives the log action's lines; nil means slog.Default().
	Logger *slog.Logger
	// WebhookActions makes the webhook action's deliveries; nil refuses
	// the action.
	WebhookActions *WebhookActions
	// StepAttempts logs each try of http.request; nil logs none.
	StepAttempts *store.StepAttempts
	tries        tryLog
}

// ActionSettings are the operator's settings for actions that reach systems
// configured once per installation rather than per step.
type ActionSettings struct {
	// SMTPURL is the mail server of email.send (TRIGGERFLOW_SMTP_URL), e.g.
	// smtp://user:pass@mail.example.com:587?from=noreply@example.com; see
	// ParseSMTPURL. Empty disables email.send.
	SMTPURL string
	// LeadAPIURL is the base URL of the business system's lead API that
	// lead.update.list calls (TRIGGERFLOW_LEAD_API_URL). Empty disables it.
	LeadAPIURL string
	// LeadAPIToken, when set, is sent to the lead API as a bearer token
	// (TRIGGERFLOW_LEAD_API_TOKEN).
	LeadAPIToken string
}

func (a *Actions) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// defaultInternalClient serves operator-configured endpoints when the worker
// gives no client: one pool for the process, a 30s bound, no redirects.
var defaultInternalClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// internalClient is the client for operator-configured endpoints.
func (a *Actions) internalClient() *http.Client {
	if a.InternalHTTP != nil {
		return a.InternalHTTP
	}
	return defaultInternalClient
}

// Action is a step type flows can use: a description with a parameter
// schema (what GET /v1/actions shows and what flows are validated against)
// and the activity that does the work. Make one with NewAction and register
// it with RegisterAction from an init function in the action's own file.
type Action struct {
	spec domain.ActionSpec
	// bind makes the activity function for the worker; nil when the
	// workflow implements the action itself (delay).
	bind func(*Actions) any
	// call runs the action on JSON params outside Temporal's activity
	// dispatch (a run's first try inline), decoding params as the activity
	// would.
	call func(deps *Actions, ctx context.Context, params json.RawMessage) (any, error)
}

// NewAction describes an action whose activity is run. In is the activity's
// input: params arrive rendered and converted to their declared types and
// are decoded into it by their JSON names, so every param must name a JSON
// field of In. Out is the step's output, which later steps read as
// steps.<name>.…
func NewAction[In, Out any](spec domain.ActionSpec, run func(*Actions, context.Context, In) (Out, error)) Action {
	if err := checkInputFields(spec, reflect.TypeFor[In]()); err != nil {
		panic(err)
	}
	return Action{
		spec: spec,
		bind: func(deps *Actions) any {
			return func(ctx context.Context, in In) (Out, error) { return run(deps, ctx, in) }
		},
		call: func(deps *Actions, ctx context.Context, params json.RawMessage) (any, error) {
			var in In
			if err := json.Unmarshal(params, &in); err != nil {
				return nil, permanentActionError("params do not fit action %s: %v", spec.Name, err)
			}
			return run(deps, ctx, in)
		},
	}
}

// NewWorkflowAction describes an action that FlowRunWorkflow carries out
// itself instead of calling an activity (delay: a durable timer).
func NewWorkflowAction(spec domain.ActionSpec) Action { return Action{spec: spec} }

// Name is the action's registered name, also its activity type.
func (a Action) Name() string { return a.spec.Name }

// Spec is the action's description and parameter schema.
func (a Action) Spec() domain.ActionSpec { return a.spec }

// RunsInWorkflow reports an action the workflow carries out itself.
func (a Action) RunsInWorkflow() bool { return a.bind == nil }

// Activity returns the activity function bound to deps, or nil when the
// action runs in the workflow.
func (a Action) Activity(deps *Actions) any {
	if a.bind == nil {
		return nil
	}
	return a.bind(deps)
}

// checkInputFields makes sure each param decodes into a field of In, so a
// typo in a schema fails at start-up rather than silently at run time.
func checkInputFields(spec domain.ActionSpec, in reflect.Type) error {
	for in.Kind() == reflect.Pointer {
		in = in.Elem()
	}
	if in.Kind() != reflect.Struct {
		return fmt.Errorf("action %s: its input must be a struct, not %s", spec.Name, in)
	}
	fields := map[string]bool{}
	for i := 0; i < in.NumField(); i++ {
		f := in.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = true
	}
	for _, p := range spec.Params {
		if !fields[p.Name] {
			return fmt.Errorf("action %s: param %q is not a JSON field of %s", spec.Name, p.Name, in)
		}
	}
	return nil
}

// actionRegistry is the set of actions flows may use.
type actionRegistry struct {
	mu     sync.RWMutex
	byName map[string]Action
}

var registry = &actionRegistry{byName: map[string]Action{}}

// RegisterAction adds an action. It panics when the name is taken or the
// schema is malformed: both are programming errors, found at start-up.
func RegisterAction(a Action) {
	if err := a.spec.CheckSpec(); err != nil {
		panic(err)
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, dup := registry.byName[a.spec.Name]; dup {
		panic(fmt.Sprintf("action %q is registered twice", a.spec.Name))
	}
	registry.byName[a.spec.Name] = a
}

// LookupAction finds a registered action by name.
func LookupAction(name string) (Action, bool) {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	a, ok := registry.byName[name]
	return a, ok
}

// RegisteredActions lists every registered action, sorted by name.
func RegisteredActions() []Action {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	out := make([]Action, 0, len(registry.byName))
	for _, a := range registry.byName {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].spec.Name < out[j].spec.Name })
	return out
}

// ActionCatalog is the registry as flows' validation sees it.
func ActionCatalog() domain.ActionCatalog { return registry }

// ActionSpec implements domain.ActionCatalog.
func (r *actionRegistry) ActionSpec(name string) (domain.ActionSpec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.byName[name]
	return a.spec, ok
}

// ActionNames implements domain.ActionCatalog.
func (r *actionRegistry) ActionNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Errors of actions: the error type tells the workflow (and operators in
// Temporal UI) whether retrying could help.

// permanentActionError fails a step at once: retrying cannot help (bad input,
// a refused destination, a 4xx answer, a missing setting).
func permanentActionError(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypePermanent, nil)
}

// retryableActionError fails this attempt; the step's retry policy decides
// whether another comes. delay > 0 overrides the next interval (Retry-After).
func retryableActionError(delay time.Duration, details any, format string, args ...any) error {
	opts := temporal.ApplicationErrorOptions{NextRetryDelay: delay}
	if details != nil {
		opts.Details = []any{details}
	}
	return temporal.NewApplicationErrorWithOptions(fmt.Sprintf(format, args...), ErrTypeAttemptFailed, opts)
}

// StringList is a list of texts that also accepts numbers and a single
// comma-separated text, because user ids and addresses arrive in all three
// shapes ("7", 7, "7, 9").
type StringList []string

// UnmarshalJSON accepts ["a", 7], "a, b" and 7.
func (l *StringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var out StringList
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	switch {
	case len(b) == 0 || string(b) == "null":
	case b[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		for _, it := range items {
			var one StringList
			if err := one.UnmarshalJSON(it); err != nil {
				return err
			}
			out = append(out, one...)
		}
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for _, part := range strings.Split(s, ",") {
			add(part)
		}
	case b[0] == '{':
		return fmt.Errorf("expected a list of texts, got an object")
	default:
		add(string(b)) // a number or boolean, kept as its text
	}
	*l = out
	return nil
}

// nonRetryableWithDetails fails a step at once and attaches details (e.g.
// the HTTP response) for operators.
func nonRetryableWithDetails(msg string, details any) error {
	return temporal.NewApplicationErrorWithOptions(msg, ErrTypePermanent,
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{details}})
}
