package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/triggerflow/triggerflow/domain"
)

// templateCache keeps parsed templates by source: webhooks render the same
// few templates for every event, and parsing dominates rendering.
type templateCache struct {
	mu sync.RWMutex
	m  map[string]*domain.Template
}

var templates = &templateCache{m: map[string]*domain.Template{}}

func (c *templateCache) render(src string, scope map[string]any) (string, error) {
	if !strings.Contains(src, "{{") && !strings.Contains(src, "{%") {
		return src, nil
	}
	c.mu.RLock()
	t, ok := c.m[src]
	c.mu.RUnlock()
	if !ok {
		var err error
		if t, err = domain.ParseTemplate(src); err != nil {
			return "", err
		}
		c.mu.Lock()
		if len(c.m) > 10000 { // bound memory when definitions churn
			c.m = map[string]*domain.Template{}
		}
		c.m[src] = t
		c.mu.Unlock()
	}
	return t.Render(scope)
}

// urlTemplateCache keeps parsed URL templates by source, like templateCache.
type urlTemplateCache struct {
	mu sync.RWMutex
	m  map[string]*domain.URLTemplate
}

var urlTemplates = &urlTemplateCache{m: map[string]*domain.URLTemplate{}}

// render fills a URL template (domain.URLTemplate: values are escaped and
// cannot change the host). A URL without placeholders is only trimmed.
func (c *urlTemplateCache) render(src string, scope map[string]any) (string, error) {
	if !strings.Contains(src, "{{") && !strings.Contains(src, "{%") {
		return strings.TrimSpace(src), nil
	}
	c.mu.RLock()
	t, ok := c.m[src]
	c.mu.RUnlock()
	if !ok {
		var err error
		if t, err = domain.ParseURLTemplate(src); err != nil {
			return "", err
		}
		c.mu.Lock()
		if len(c.m) > 10000 { // bound memory when definitions churn
			c.m = map[string]*domain.URLTemplate{}
		}
		c.m[src] = t
		c.mu.Unlock()
	}
	return t.Render(scope)
}

// outboundRequest is a rendered request, before signing.
type outboundRequest struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    []byte
}

// eventBody is the default body: the event as JSON.
type eventBody struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurred_at"`
	Subject    string          `json:"subject,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// errPermanentRequest marks a request that cannot be built (a template that
// renders to a bad URL): retrying will not help.
var errPermanentRequest = errors.New("request cannot be built")

// hasTemplates reports whether any part of w's request is a template.
func hasTemplates(w *domain.Webhook) bool {
	isTemplate := func(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "{%") }
	if isTemplate(w.URL) || (w.Body != nil && isTemplate(*w.Body)) {
		return true
	}
	for _, m := range []map[string]string{w.Params, w.Headers} {
		for _, v := range m {
			if isTemplate(v) {
				return true
			}
		}
	}
	return false
}

// eventScopes keeps the scope of each event one call delivers, so the
// webhooks an event fans out to decode its data once. Templates never
// change a scope's values (Liquid's assign writes to a copy of its top
// level), so the webhooks share them. A nil *eventScopes keeps none.
type eventScopes struct {
	mu sync.Mutex
	m  map[string]map[string]any
}

// of is event ev's scope, as a map of the caller's own.
func (s *eventScopes) of(ev domain.Event) (map[string]any, error) {
	if s == nil || ev.ID == "" {
		return ev.Scope()
	}
	s.mu.Lock()
	base, ok := s.m[ev.ID]
	s.mu.Unlock()
	if !ok {
		var err error
		if base, err = ev.Scope(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.m == nil {
			s.m = map[string]map[string]any{}
		}
		s.m[ev.ID] = base
		s.mu.Unlock()
	}
	return maps.Clone(base), nil
}

// renderRequest fills a webhook's templates from the event.
func renderRequest(w *domain.Webhook, ev domain.Event) (outboundRequest, error) {
	return renderRequestWith(w, ev, nil)
}

// renderRequestWith is renderRequest taking the event's scope from scopes.
func renderRequestWith(w *domain.Webhook, ev domain.Event, scopes *eventScopes) (outboundRequest, error) {
	// The scope is built only for templates: most webhooks have none, and
	// building it costs more than the rest of the request.
	scope := map[string]any{}
	if hasTemplates(w) {
		var err error
		if scope, err = scopes.of(ev); err != nil {
			return outboundRequest{}, fmt.Errorf("%w: event data: %v", errPermanentRequest, err)
		}
		scope["webhook"] = map[string]any{"code": w.Code, "name": w.Name, "id": w.ID}
	}
	rawURL, err := urlTemplates.render(w.URL, scope)
	if err != nil {
		return outboundRequest{}, fmt.Errorf("%w: url: %v", errPermanentRequest, err)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return outboundRequest{}, fmt.Errorf("%w: url %q is not an absolute http(s) URL", errPermanentRequest, rawURL)
	}
	if len(w.Params) > 0 {
		q := u.Query()
		for _, k := range sortedNames(w.Params) {
			v, err := templates.render(w.Params[k], scope)
			if err != nil {
				return outboundRequest{}, fmt.Errorf("%w: params[%q]: %v", errPermanentRequest, k, err)
			}
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	req := outboundRequest{Method: w.Method, URL: u.String(), Headers: map[string]string{}}
	for _, k := range sortedNames(w.Headers) {
		v, err := templates.render(w.Headers[k], scope)
		if err != nil {
			return outboundRequest{}, fmt.Errorf("%w: headers[%q]: %v", errPermanentRequest, k, err)
		}
		req.Headers[http.CanonicalHeaderKey(k)] = strings.NewReplacer("\r", "", "\n", "").Replace(v)
	}
	switch {
	case w.Body != nil:
		body, err := templates.render(*w.Body, scope)
		if err != nil {
			return outboundRequest{}, fmt.Errorf("%w: body: %v", errPermanentRequest, err)
		}
		req.Body = []byte(body)
	case w.Method != http.MethodGet:
		data := ev.Data
		if len(data) == 0 {
			data = json.RawMessage("{}")
		}
		req.Body, _ = json.Marshal(eventBody{ID: ev.ID, Type: ev.Type, Subject: ev.Subject,
			OccurredAt: ev.OccurredAt.UTC().Format(time.RFC3339Nano), Data: data})
	}
	if len(req.Body) > 0 {
		if _, ok := req.Headers["Content-Type"]; !ok {
			req.Headers["Content-Type"] = "application/json"
		}
	}
	if _, ok := req.Headers["User-Agent"]; !ok {
		req.Headers["User-Agent"] = "TriggerFlow-Webhooks/1"
	}
	return req, nil
}

// sortedNames are a map's keys in order, so headers and params are sent
// (and signed) the same way every time.
func sortedNames(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// sendResult is the outcome of one HTTP try.
type sendResult struct {
	// EgressDenied: the destination is not allowed (no request was sent).
	EgressDenied    bool
	Status          int
	ResponseHeaders map[string]string
	ResponseBody    string
	Truncated       bool
	Duration        time.Duration
	Err             string
	// Permanent: retrying cannot help (a 400-class answer or a bad request).
	Permanent bool
	// RetryAfter is the receiver's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// Success reports a 2xx answer.
func (r sendResult) Success() bool { return r.Err == "" && domain.SuccessStatus(r.Status) }

// send performs one signed HTTP try of req for message msgID.
func send(ctx context.Context, client *http.Client, req outboundRequest, msgID string, timeout time.Duration,
	now time.Time, secrets ...string) (sendResult, map[string]string) {
	headers := make(map[string]string, len(req.Headers)+3)
	for k, v := range req.Headers {
		headers[k] = v
	}
	sig, err := Sign(msgID, now, req.Body, secrets...)
	if err != nil {
		return sendResult{Err: err.Error(), Permanent: true}, headers
	}
	headers["Webhook-Id"] = msgID
	headers["Webhook-Timestamp"] = strconv.FormatInt(now.Unix(), 10)
	headers["Webhook-Signature"] = sig

	// The rendered URL is checked once more where it is sent.
	if _, err := checkOutboundURL(req.URL); err != nil {
		return sendResult{Err: err.Error(), Permanent: true}, headers
	}
	var body io.Reader
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	httpReq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return sendResult{Err: err.Error(), Permanent: true}, headers
	}
	for k, v := range headers {
		httpReq.Header[k] = []string{v}
	}
	ex, err := roundTrip(client, httpReq, timeout)
	if err != nil {
		res := sendResult{Duration: ex.Duration, Err: describeSendError(err, timeout)}
		// A refused destination is a configuration problem, not a glitch.
		res.EgressDenied = IsEgressDenied(err)
		res.Permanent = res.EgressDenied
		return res, headers
	}
	res := sendResult{
		Status:          ex.Status,
		ResponseHeaders: maskHeaders(flattenHeaders(ex.Header)),
		// Any bytes: the store keeps what it cannot hold as text in base64.
		ResponseBody: string(ex.Body),
		Truncated:    ex.Truncated,
		Duration:     ex.Duration,
	}
	if ex.ReadErr != nil && !ex.Truncated {
		res.Err = "reading the response: " + describeSendError(ex.ReadErr, timeout)
	}
	if !domain.SuccessStatus(ex.Status) {
		res.Permanent = domain.PermanentStatus(ex.Status)
		if ra := parseRetryAfter(ex.Header.Get("Retry-After"), time.Now()); ra > 0 {
			res.RetryAfter = ra
		}
		if res.Err == "" {
			res.Err = fmt.Sprintf("HTTP %d", ex.Status)
		}
	}
	return res, headers
}

func describeSendError(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		return fmt.Sprintf("timed out after %s", timeout)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}

func flattenHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// parseRetryAfter reads delay-seconds or an HTTP date. Values beyond what a
// Duration holds saturate rather than overflow; callers bound the wait
// (domain.BoundRetryAfter).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || secs > uint64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// maskHeaders returns a copy of h with credential values replaced, by the
// one rule of domain.MaskHeaders.
func maskHeaders(h map[string]string) map[string]string { return domain.MaskHeaders(h, false) }
