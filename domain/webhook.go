package domain

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Webhook limits and defaults (seeds: a request answers within 5–10 s, never
// above 30 s; API.md: 1s–30s, default 10s).
const (
	DefaultWebhookTimeout = 10 * time.Second
	MinWebhookTimeout     = time.Second
	MaxWebhookTimeout     = 30 * time.Second
	MaxURLLength          = 2048
	MaxHeaders            = 50
	MaxHeaderValue        = 8192
	MaxEventTypes         = 100
)

// Webhook is an outbound subscription: events of EventTypes that satisfy
// Conditions (and Filters for their type, and Expression) are sent to URL.
type Webhook struct {
	ID          string
	Code        string
	Name        string
	Description string
	URL         string
	Method      string
	Headers     map[string]string
	Params      map[string]string
	// Body is a template; nil sends the event as JSON.
	Body       *string
	EventTypes []string
	// Filters holds per-type conditions: key is an event type or pattern
	// ("task.*"), value the conditions events of that type must also meet
	// (e.g. only tasks of one workflow).
	Filters    map[string][]Condition
	Conditions []Condition
	// Expression is an optional CEL expression that must also be true.
	Expression string
	Retry      RetryPolicy
	Timeout    time.Duration
	Ordered    bool
	Enabled    bool
	// SuccessStatus is which answers count as SUCCESS: codes and ranges
	// within 200-299 ("200-209", Cotalker's rule; default "200-299").
	SuccessStatus string
	// UseCase is the object the webhook was created for ("contact"), fixed
	// at creation; its event types must belong to it. "" for none.
	UseCase string
	// Secret is the current signing secret (whsec_…). PreviousSecret also
	// signs until PreviousSecretUntil, so receivers can roll over.
	Secret              string
	PreviousSecret      string
	PreviousSecretUntil *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// HTTP methods a webhook may use.
var webhookMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// Normalize fills defaults: method POST, timeout 10s, retry every_10m_48h,
// a code suggested from the name.
func (w *Webhook) Normalize() {
	w.Method = strings.ToUpper(strings.TrimSpace(w.Method))
	if w.Method == "" {
		w.Method = "POST"
	}
	if w.Timeout == 0 {
		w.Timeout = DefaultWebhookTimeout
	}
	w.SuccessStatus = strings.ReplaceAll(strings.TrimSpace(w.SuccessStatus), " ", "")
	if w.SuccessStatus == "" {
		w.SuccessStatus = DefaultSuccessStatus
	}
	w.UseCase = ObjectName(strings.TrimSpace(w.UseCase))
	if w.Retry == (RetryPolicy{}) {
		w.Retry = DefaultRetryPolicy()
	}
	w.Name = strings.TrimSpace(w.Name)
	w.URL = strings.TrimSpace(w.URL)
	if w.Code == "" {
		w.Code = SuggestCode(w.Name)
	}
	if w.Headers == nil {
		w.Headers = map[string]string{}
	}
	if w.Params == nil {
		w.Params = map[string]string{}
	}
	if w.Filters == nil {
		w.Filters = map[string][]Condition{}
	}
	if w.Conditions == nil {
		w.Conditions = []Condition{}
	}
}

// Validate checks every field of a normalized webhook and names each problem
// by its JSON path. Event types must be catalog types or patterns.
func (w *Webhook) Validate() error { return w.ValidateWith(EventTypeSet{}) }

// ValidateWith is Validate with the installation's custom event types, which
// a webhook may subscribe to like catalog ones.
func (w *Webhook) ValidateWith(known EventTypeSet) error {
	f := FieldErrors{}
	if w.Name == "" {
		f.Add("name", "is required")
	} else if len(w.Name) > 200 {
		f.Add("name", "must be at most 200 characters")
	}
	if w.Code == "" {
		f.Add("code", "is required (it could not be suggested from the name)")
	} else if err := ValidateCode(w.Code); err != nil {
		f.Add("code", err.Error())
	}
	if len(w.Description) > 2000 {
		f.Add("description", "must be at most 2000 characters")
	}
	validateURLTemplate(f, "url", w.URL)
	if !contains(webhookMethods, w.Method) {
		f.Add("method", fmt.Sprintf("%q is not allowed; use one of %s", w.Method, strings.Join(webhookMethods, ", ")))
	}
	validateTemplateMap(f, "headers", w.Headers, true)
	validateTemplateMap(f, "params", w.Params, false)
	if w.Body != nil {
		if err := ValidateTemplate(*w.Body); err != nil {
			f.Add("body", err.Error())
		}
	}
	if len(w.EventTypes) == 0 {
		f.Add("event_types", "must list at least one event type (e.g. \"case.created\", \"task.*\" or \"*\")")
	} else if len(w.EventTypes) > MaxEventTypes {
		f.Add("event_types", fmt.Sprintf("must list at most %d event types", MaxEventTypes))
	}
	for i, t := range w.EventTypes {
		if err := known.ValidatePattern(t); err != nil {
			f.Add(fmt.Sprintf("event_types[%d]", i), err.Error())
		}
	}
	f.Merge("conditions", ValidateConditions(w.Conditions))
	for _, pattern := range sortedKeys(w.Filters) {
		path := fmt.Sprintf("filters[%q]", pattern)
		if err := known.ValidatePattern(pattern); err != nil {
			f.Add(path, err.Error())
			continue
		}
		if !w.subscribesToPattern(pattern) {
			f.Add(path, "filters an event type the webhook does not subscribe to")
		}
		f.Merge(path, ValidateConditions(w.Filters[pattern]))
	}
	if w.Expression != "" {
		if _, err := CompileExpression(w.Expression); err != nil {
			f.Add("expression", err.Error())
		}
	}
	if _, err := ParseSuccessStatus(w.SuccessStatus); err != nil {
		f.Add("success_status", err.Error())
	}
	if w.UseCase != "" {
		f.Merge("", w.validateUseCase(known))
	}
	f.Merge("retry", w.Retry.Validate())
	if w.Timeout < MinWebhookTimeout || w.Timeout > MaxWebhookTimeout {
		f.Add("timeout", fmt.Sprintf("must be between %s and %s", MinWebhookTimeout, MaxWebhookTimeout))
	}
	return f.Err()
}

// subscribesToPattern reports whether a filter's pattern overlaps the
// webhook's event types.
func (w *Webhook) subscribesToPattern(pattern string) bool {
	for _, t := range w.EventTypes {
		if t == pattern || MatchEventType(t, pattern) || MatchEventType(pattern, t) {
			return true
		}
		// "task.*" filter on a webhook subscribed to "*" or "task.created".
		if obj, ok := strings.CutSuffix(pattern, ".*"); ok && strings.HasPrefix(t, obj+".") {
			return true
		}
	}
	return false
}

// validateURLTemplate checks a URL that may contain placeholders: it must
// parse as a template and, with placeholders blanked, be an absolute http(s)
// URL with a host.
func validateURLTemplate(f FieldErrors, path, raw string) {
	if raw == "" {
		f.Add(path, "is required")
		return
	}
	if len(raw) > MaxURLLength {
		f.Add(path, fmt.Sprintf("must be at most %d characters", MaxURLLength))
		return
	}
	if err := ValidateTemplate(raw); err != nil {
		f.Add(path, err.Error())
		return
	}
	probe := blankPlaceholders(raw)
	u, err := url.Parse(probe)
	if err != nil {
		f.Add(path, "is not a valid URL: "+err.Error())
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		f.Add(path, "must be an http:// or https:// URL")
		return
	}
	if u.Host == "" || strings.HasPrefix(u.Host, ":") {
		f.Add(path, "must name a host")
		return
	}
	if u.User != nil {
		f.Add(path, "must not carry credentials; use headers instead")
	}
}

// blankPlaceholders replaces {{ … }} and {% … %} with a harmless token so the
// rest of a templated URL can be checked.
func blankPlaceholders(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{")
		if i < 0 || i+1 >= len(s) || (s[i+1] != '{' && s[i+1] != '%') {
			if i < 0 || i+1 >= len(s) {
				b.WriteString(s)
				return b.String()
			}
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		closer := "}}"
		if s[i+1] == '%' {
			closer = "%}"
		}
		j := strings.Index(s[i:], closer)
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("x")
		s = s[i+j+2:]
	}
}

func validateTemplateMap(f FieldErrors, path string, m map[string]string, headers bool) {
	if len(m) > MaxHeaders {
		f.Add(path, fmt.Sprintf("must have at most %d entries", MaxHeaders))
		return
	}
	for _, k := range sortedKeys(m) {
		p := fmt.Sprintf("%s[%q]", path, k)
		if k == "" {
			f.Add(p, "name must not be empty")
			continue
		}
		if headers {
			if !validHeaderName(k) {
				f.Add(p, "is not a valid HTTP header name")
				continue
			}
			if reservedHeader(k) {
				f.Add(p, "is set by TriggerFlow and cannot be overridden")
				continue
			}
		}
		if len(m[k]) > MaxHeaderValue {
			f.Add(p, fmt.Sprintf("must be at most %d characters", MaxHeaderValue))
			continue
		}
		if err := ValidateTemplate(m[k]); err != nil {
			f.Add(p, err.Error())
		}
	}
}

func validHeaderName(k string) bool {
	for _, r := range k {
		if r > 126 || r <= 32 || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}

// reservedHeader names headers that signing and transport own.
func reservedHeader(k string) bool {
	switch strings.ToLower(k) {
	case "webhook-id", "webhook-timestamp", "webhook-signature", "host", "content-length", "transfer-encoding", "connection":
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// DefaultSuccessStatus is every 2xx answer.
const DefaultSuccessStatus = "200-299"

// ParseSuccessStatus reads a success_status: comma-separated codes and
// ranges within 200-299 ("200-209", "200,201,204"). It narrows 2xx; it
// cannot make a 3xx, 4xx or 5xx a success.
func ParseSuccessStatus(s string) ([][2]int, error) {
	if s == "" {
		return nil, errors.New(`is empty; use a range such as "200-209"`)
	}
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, errA := strconv.Atoi(lo)
		b := a
		var errB error
		if isRange {
			b, errB = strconv.Atoi(hi)
		}
		switch {
		case errA != nil || errB != nil || len(part) > 7:
			return nil, fmt.Errorf("%q is not a status code or a range such as 200-209", truncateForMessage(part))
		case a < 200 || b > 299:
			return nil, fmt.Errorf("%q is outside 200-299: success_status narrows which 2xx answers count as SUCCESS", part)
		case a > b:
			return nil, fmt.Errorf("range %q is backwards", part)
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

// Succeeded reports whether an answer with this status is SUCCESS for the
// webhook: within its success_status (every 2xx by default).
func (w *Webhook) Succeeded(status int) bool {
	ranges, err := ParseSuccessStatus(w.SuccessStatus)
	if err != nil {
		return SuccessStatus(status)
	}
	for _, r := range ranges {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}

// validateUseCase checks the use case (webhook scripts: "the use case
// determines which related data you can read"): a known object, and every
// event type and filter of that object.
func (w *Webhook) validateUseCase(known EventTypeSet) FieldErrors {
	f := FieldErrors{}
	if !known.HasObject(w.UseCase) {
		f.Add("use_case", fmt.Sprintf("%q is not a known object; allowed: %s", truncateForMessage(w.UseCase), objectNames()))
		return f
	}
	belongs := func(p string) bool {
		object, _ := SplitEventType(p)
		return p != "*" && object == w.UseCase
	}
	for i, t := range w.EventTypes {
		if !belongs(t) {
			f.Add(fmt.Sprintf("event_types[%d]", i), fmt.Sprintf("%q is not an event of the use case %q; use %s.* or one of its events", truncateForMessage(t), w.UseCase, w.UseCase))
		}
	}
	for _, pattern := range sortedKeys(w.Filters) {
		if !belongs(pattern) {
			f.Add(fmt.Sprintf("filters[%q]", pattern), fmt.Sprintf("is not an event of the use case %q", w.UseCase))
		}
	}
	return f
}
