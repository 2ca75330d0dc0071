package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// Action names of this family.
const (
	ActionHTTPRequest = "http.request"
	ActionWebhook     = "webhook"
)

// Request timeouts of http.request (seeds: answer within 5–10 s, default
// 10 s, never above 30 s).
const (
	DefaultHTTPActionTimeout = 10 * time.Second
	MaxHTTPActionTimeout     = 30 * time.Second
)

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}

// responseOutputs are what later steps read of an HTTP step.
var responseOutputs = []domain.OutputField{
	{Path: "response.status", Type: domain.ParamNumber, Description: "the HTTP status code"},
	{Path: "response.headers", Type: domain.ParamStringMap, Description: "the response headers (repeated ones joined with \", \")"},
	{Path: "response.body", Type: domain.ParamString, Description: "the response body as text, at most 10 KB"},
	{Path: "response.json", Type: domain.ParamAny, Description: "the body parsed as JSON, when it is JSON and was not cut (e.g. {{ steps.lookup.response.json.id }})"},
	{Path: "response.truncated", Type: domain.ParamBoolean, Description: "true when the body was longer than 10 KB and was cut"},
	{Path: "request.method", Type: domain.ParamString, Description: "the method sent"},
	{Path: "request.url", Type: domain.ParamString, Description: "the URL sent, with params"},
	{Path: "duration_ms", Type: domain.ParamNumber, Description: "how long the request took"},
}

func init() {
	RegisterAction(NewAction(domain.ActionSpec{
		Name: ActionHTTPRequest,
		Description: "Sends an HTTP request and makes the response available to later steps. " +
			"A 2xx answer succeeds; 408, 429, 5xx and network errors are retried by the step's retry policy " +
			"(Retry-After honoured); any other answer fails the step at once. Bodies over 10 KB are cut.",
		Params: []domain.ParamSpec{
			{Name: "url", Type: domain.ParamString, Required: true, Format: domain.FormatURL,
				Description: "absolute http(s) URL; placeholders allowed"},
			{Name: "method", Type: domain.ParamString, Enum: httpMethods,
				Description: "HTTP method; default POST when a body is given, else GET"},
			{Name: "headers", Type: domain.ParamStringMap, Format: domain.FormatHeaders,
				Description: "request headers, values are templates"},
			{Name: "params", Type: domain.ParamStringMap, Description: "query parameters added to the URL, values are templates"},
			{Name: "body", Type: domain.ParamAny,
				Description: "request body: an object or array is sent as JSON (strings inside are templates), a text as is"},
			{Name: "timeout", Type: domain.ParamString, Format: domain.FormatDuration,
				Description: "how long to wait for the answer, 1s–30s; default 10s"},
		},
		Outputs: responseOutputs,
		Check:   checkHTTPTimeout,
	}, (*Actions).HTTPRequest))

	RegisterAction(NewAction(domain.ActionSpec{
		Name: ActionWebhook,
		Description: "Delivers the event (or the given payload) as JSON to a URL, as ipSCAPE's webhook action does: " +
			"the request is a delivery of the run's trigger (GET /v1/triggers/{id}/deliveries), signed with the trigger's " +
			"signing secret (Standard Webhooks headers), retried on any non-2xx answer by its retry policy (default " +
			"every 10 minutes for 48 hours), every attempt logged with request and response (bodies over 10 KB cut), and " +
			"retryable by hand. The step ends once the delivery is handed over; its tries go on by themselves, whatever " +
			"the run's timeout.",
		Params: []domain.ParamSpec{
			{Name: "url", Type: domain.ParamString, Required: true, Format: domain.FormatURL,
				Description: "absolute http(s) URL; placeholders allowed"},
			{Name: "method", Type: domain.ParamString, Enum: []string{"POST", "PUT", "PATCH"}, Default: "POST",
				Description: "HTTP method"},
			{Name: "headers", Type: domain.ParamStringMap, Format: domain.FormatHeaders,
				Description: "request headers, values are templates"},
			{Name: "payload", Type: domain.ParamAny, Default: "{{ event }}",
				Description: "what is sent; default the event {id, type, occurred_at, subject, data} as JSON"},
			{Name: "timeout", Type: domain.ParamString, Format: domain.FormatDuration,
				Description: "how long each try waits for the answer, 1s–30s; default 10s"},
			{Name: "retry", Type: domain.ParamString, Enum: []string{domain.RetryEvery10m48h, domain.Retry30sX3, domain.RetryNone},
				Description: "retry preset: every_10m_48h (the default: every 10 minutes for 48 hours until 2xx), " +
					"30s_x3 (after 30 s, up to two more tries) or none; every non-2xx answer is retried"},
		},
		Outputs: webhookActionOutputs,
		Check:   checkHTTPTimeout,
	}, (*Actions).Webhook))
}

func checkHTTPTimeout(params map[string]any) domain.FieldErrors {
	errs := domain.FieldErrors{}
	if s, ok := params["timeout"].(string); ok && !strings.Contains(s, "{{") {
		if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil && (d < time.Second || d > MaxHTTPActionTimeout) {
			errs.Add("timeout", fmt.Sprintf("must be between 1s and %s", MaxHTTPActionTimeout))
		}
	}
	return errs
}

// HTTPRequestInput is the rendered params of http.request.
type HTTPRequestInput struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Params  map[string]string `json:"params"`
	Body    json.RawMessage   `json:"body"`
	Timeout string            `json:"timeout"`
}

// HTTPRequestResult is an HTTP step's output.
type HTTPRequestResult struct {
	Request    HTTPRequestSummary `json:"request"`
	Response   HTTPResponse       `json:"response"`
	DurationMS int64              `json:"duration_ms"`
}

// HTTPRequestSummary is what was sent.
type HTTPRequestSummary struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// HTTPResponse is what came back. JSON is set when the body is JSON and was
// read whole.
type HTTPResponse struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	JSON      json.RawMessage   `json:"json,omitempty"`
	Truncated bool              `json:"truncated"`
}

// WebhookActionInput is the rendered params of webhook.
type WebhookActionInput struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Payload json.RawMessage   `json:"payload"`
	Timeout string            `json:"timeout"`
	Retry   string            `json:"retry"`
}

// HTTPRequest sends one request over the egress-checked client.
func (a *Actions) HTTPRequest(ctx context.Context, in HTTPRequestInput) (HTTPRequestResult, error) {
	timeout := DefaultHTTPActionTimeout
	if s := strings.TrimSpace(in.Timeout); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > MaxHTTPActionTimeout {
			return HTTPRequestResult{}, permanentActionError("timeout %q must be a duration between 1s and %s", s, MaxHTTPActionTimeout)
		}
		timeout = d
	}
	method := strings.ToUpper(strings.TrimSpace(in.Method))
	if method == "" {
		method = http.MethodGet
		if len(in.Body) > 0 && string(in.Body) != "null" {
			method = http.MethodPost
		}
	}
	return a.doHTTP(ctx, method, in.URL, in.Params, in.Headers, in.Body, timeout)
}

// Webhook hands the event (or the given payload) to the delivery engine as
// a delivery of the run's trigger (see WebhookActions).
func (a *Actions) Webhook(ctx context.Context, in WebhookActionInput) (WebhookActionResult, error) {
	if a.WebhookActions == nil {
		return WebhookActionResult{}, permanentActionError("this worker has no delivery engine for webhook actions")
	}
	req, err := webhookActionRequest(in)
	if err != nil {
		return WebhookActionResult{}, err
	}
	return a.WebhookActions.Deliver(ctx, stepInfoOf(ctx), req)
}

// doHTTP is one try of an HTTP step: a 2xx answer is the output, a retryable
// failure a retryable error (with Retry-After as the next delay), anything
// else a permanent error. Failure errors carry the response as details, so
// operators see it in Temporal UI.
func (a *Actions) doHTTP(ctx context.Context, method, rawURL string, query, headers map[string]string,
	body json.RawMessage, timeout time.Duration) (res HTTPRequestResult, err error) {
	u, err := checkOutboundURL(strings.TrimSpace(rawURL))
	if err != nil {
		return res, permanentActionError("%v", err)
	}
	if len(query) > 0 {
		q := u.Query()
		for k, v := range query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	payload, contentType := requestBody(body)
	res.Request = HTTPRequestSummary{Method: method, URL: u.String()}

	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return res, permanentActionError("cannot build the request: %v", err)
	}
	for _, k := range sortedNames(headers) {
		if reservedRequestHeader(k) {
			continue
		}
		req.Header.Set(k, strings.NewReplacer("\r", "", "\n", "").Replace(headers[k]))
	}
	if payload != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "TriggerFlow-Flows/1")
	}
	client := a.HTTP
	if client == nil {
		return res, permanentActionError("no HTTP client is configured for flow actions")
	}
	start := time.Now()
	var ex exchange
	defer func() { a.logTry(ctx, req, payload, ex.Body, start, res, err) }()
	ex, err = roundTrip(client, req, timeout)
	res.DurationMS = ex.Duration.Milliseconds()
	if err != nil {
		msg := describeSendError(err, timeout)
		if IsEgressDenied(err) {
			return res, permanentActionError("%s %s: %s", method, u.Redacted(), msg)
		}
		return res, retryableActionError(0, nil, "%s %s: %s", method, u.Redacted(), msg)
	}
	res.Response = HTTPResponse{
		Status: ex.Status, Headers: flattenHeaders(ex.Header),
		Body: strings.ToValidUTF8(string(ex.Body), "\uFFFD"), Truncated: ex.Truncated,
	}
	if ex.ReadErr != nil && !ex.Truncated {
		return res, retryableActionError(0, res, "%s %s: reading the response: %s", method, u.Redacted(), describeSendError(ex.ReadErr, timeout))
	}
	if !ex.Truncated && looksLikeJSON(ex.Header.Get("Content-Type"), ex.Body) && json.Valid(ex.Body) {
		res.Response.JSON = json.RawMessage(ex.Body)
	}
	if domain.SuccessStatus(ex.Status) {
		return res, nil
	}
	msg := fmt.Sprintf("%s %s answered HTTP %d", method, u.Redacted(), ex.Status)
	if excerpt := strings.TrimSpace(firstRunes(res.Response.Body, 200)); excerpt != "" {
		msg += ": " + excerpt
	}
	if domain.RetryableStepStatus(ex.Status) {
		return res, retryableActionError(parseRetryAfter(ex.Header.Get("Retry-After"), time.Now()), res, "%s", msg)
	}
	return res, nonRetryableWithDetails(msg, res)
}

// logTry records one try of an HTTP step with what it sent and received
// (credential headers masked, the response's first 10 KB as received), so
// the run's log shows it (GET /v1/runs/{id}). A try that cannot be recorded
// is logged and does not fail the step: the request was made, and failing
// would send it again.
func (a *Actions) logTry(ctx context.Context, req *http.Request, body, respBody []byte, start time.Time, res HTTPRequestResult, err error) {
	if a.StepAttempts == nil {
		return
	}
	si := stepInfoOf(ctx)
	errText := ""
	if err != nil {
		errText = err.Error()
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			errText = appErr.Message()
		}
	}
	var status int
	var respHeaders map[string]string
	if res.Response.Status > 0 {
		status, respHeaders = res.Response.Status, maskHeaders(res.Response.Headers)
	}
	att := store.NewAttempt("", req.Method, req.URL.String(), maskHeaders(flattenHeaders(req.Header)), string(body),
		status, respHeaders, string(respBody), res.Response.Truncated, time.Duration(res.DurationMS)*time.Millisecond,
		errText, start, err == nil)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var werr error
	for try := range 3 {
		if werr = a.tries.record(wctx, a.StepAttempts, store.StepTry{RunWorkflowID: si.WorkflowID, StepID: si.StepID, Attempt: att}); werr == nil {
			return
		}
		time.Sleep(time.Duration(200<<try) * time.Millisecond)
	}
	a.logger().Warn("a try of an HTTP step could not be logged", "workflow", si.WorkflowID, "step", si.StepID, "error", werr)
}

// requestBody encodes a body param: text is sent as is (JSON-looking text as
// application/json), anything else as JSON.
func requestBody(body json.RawMessage) ([]byte, string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil, ""
	}
	if body[0] == '"' {
		var s string
		if err := json.Unmarshal(body, &s); err == nil {
			t := strings.TrimSpace(s)
			if (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Valid([]byte(t)) {
				return []byte(s), "application/json"
			}
			return []byte(s), "text/plain; charset=utf-8"
		}
	}
	return body, "application/json"
}

func looksLikeJSON(contentType string, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return true
	}
	t := bytes.TrimSpace(body)
	return mt == "" || mt == "text/plain" && len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func reservedRequestHeader(k string) bool {
	switch strings.ToLower(k) {
	case "host", "content-length", "transfer-encoding", "connection":
		return true
	}
	return false
}

func firstRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
