package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/triggerflow/triggerflow/activities"
	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

// actionEnv is an activity test environment with every registered action
// bound to deps under its name, as the worker registers them.
func actionEnv(t *testing.T, deps *activities.Actions) *testsuite.TestActivityEnvironment {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	for _, a := range activities.RegisteredActions() {
		if fn := a.Activity(deps); fn != nil {
			env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name()})
		}
	}
	return env
}

// loopbackClient is the egress-checked client with loopback allowed, as
// the test stack configures it.
func loopbackClient(t *testing.T) *http.Client {
	t.Helper()
	p, err := activities.NewEgressPolicy([]string{"127.0.0.0/8", "::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	return activities.NewHTTPClient(p)
}

// appError unwraps the application error an activity failed with.
func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("want an application error, got %v", err)
	}
	return ae
}

func TestBuiltInActionsAreRegisteredWithValidSchemas(t *testing.T) {
	want := []string{"delay", "email.send", "http.request", "lead.update.list", "log", "notify", "webhook"}
	names := activities.ActionCatalog().ActionNames()
	for _, n := range want {
		a, ok := activities.LookupAction(n)
		if !ok {
			t.Fatalf("action %s is not registered (have %v)", n, names)
		}
		if err := a.Spec().CheckSpec(); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		if (n == "delay") != a.RunsInWorkflow() {
			t.Errorf("%s: runs in workflow = %v", n, a.RunsInWorkflow())
		}
	}
}

type mismatchedInput struct {
	Text string `json:"text"`
}

func TestNewActionRefusesParamsMissingFromInput(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(error).Error(), `"colour"`) {
			t.Fatalf("recover = %v, want a panic naming the param", r)
		}
	}()
	activities.NewAction(domain.ActionSpec{Name: "paint", Description: "paints", Params: []domain.ParamSpec{
		{Name: "colour", Type: domain.ParamString, Description: "which"},
	}}, func(*activities.Actions, context.Context, mismatchedInput) (struct{}, error) { return struct{}{}, nil })
}

func TestHTTPRequestExposesStatusHeadersAndJSON(t *testing.T) {
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 201, Body: []byte(`{"id": 12345678901234567891, "name": "Ann"}`),
			Header: map[string]string{"Content-Type": "application/json", "X-Req": "r-1"}}
	})
	env := actionEnv(t, &activities.Actions{HTTP: loopbackClient(t)})
	val, err := env.ExecuteActivity(activities.ActionHTTPRequest, map[string]any{
		"url": rc.URL + "/contacts", "method": "PUT", "params": map[string]any{"q": "a b"},
		"headers": map[string]any{"X-Token": "t"}, "body": map[string]any{"name": "Ann"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.HTTPRequestResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Response.Status != 201 || res.Response.Headers["X-Req"] != "r-1" || res.Response.Truncated {
		t.Fatalf("response = %+v", res.Response)
	}
	if !strings.Contains(string(res.Response.JSON), "12345678901234567891") {
		t.Fatalf("json = %s", res.Response.JSON)
	}
	got := rc.Requests()[0]
	if got.Method != "PUT" || got.Path != "/contacts" || got.Query != "q=a+b" || got.Header.Get("X-Token") != "t" ||
		got.Header.Get("Content-Type") != "application/json" || string(got.Body) != `{"name":"Ann"}` {
		t.Fatalf("request = %+v body %s", got, got.Body)
	}
}

func TestHTTPRequestCutsBigBodiesAndSendsTextAsIs(t *testing.T) {
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 200, Body: []byte("{\"a\":\"" + strings.Repeat("x", 20_000) + "\"}"),
			Header: map[string]string{"Content-Type": "application/json"}}
	})
	env := actionEnv(t, &activities.Actions{HTTP: loopbackClient(t)})
	val, err := env.ExecuteActivity(activities.ActionHTTPRequest, map[string]any{"url": rc.URL, "body": "plain words"})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.HTTPRequestResult
	_ = val.Get(&res)
	if !res.Response.Truncated || len(res.Response.Body) != activities.MaxResponseBody || res.Response.JSON != nil {
		t.Fatalf("truncated=%v len=%d json=%d", res.Response.Truncated, len(res.Response.Body), len(res.Response.JSON))
	}
	got := rc.Requests()[0]
	if got.Method != "POST" || string(got.Body) != "plain words" || !strings.HasPrefix(got.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("request %s %q %s", got.Method, got.Body, got.Header.Get("Content-Type"))
	}
}

func TestHTTPRequestFailuresAreClassified(t *testing.T) {
	cases := []struct {
		status     int
		retryAfter string
		retryable  bool
	}{
		{404, "", false}, {400, "", false}, {302, "", false}, {408, "", true}, {429, "7", true}, {503, "", true},
	}
	for _, tc := range cases {
		rc := testkit.NewReceiver(t)
		rc.Script(func(int, testkit.Received) testkit.Response {
			return testkit.Response{Status: tc.status, Body: []byte("nope"), RetryAfter: tc.retryAfter}
		})
		env := actionEnv(t, &activities.Actions{HTTP: loopbackClient(t)})
		_, err := env.ExecuteActivity(activities.ActionHTTPRequest, map[string]any{"url": rc.URL})
		ae := appError(t, err)
		if ae.NonRetryable() == tc.retryable || !strings.Contains(ae.Message(), "HTTP") {
			t.Errorf("status %d: non-retryable=%v message %q", tc.status, ae.NonRetryable(), ae.Message())
		}
		if tc.retryAfter != "" && ae.NextRetryDelay() != 7*time.Second {
			t.Errorf("status %d: next retry delay %s, want Retry-After's 7s", tc.status, ae.NextRetryDelay())
		}
		var res activities.HTTPRequestResult
		if ae.Details(&res) != nil || res.Response.Status != tc.status {
			t.Errorf("status %d: details = %+v", tc.status, res)
		}
	}
}

func TestHTTPRequestRefusesPrivateAddresses(t *testing.T) {
	rc := testkit.NewReceiver(t)
	env := actionEnv(t, &activities.Actions{HTTP: activities.NewHTTPClient(nil)})
	_, err := env.ExecuteActivity(activities.ActionHTTPRequest, map[string]any{"url": rc.URL})
	if ae := appError(t, err); !ae.NonRetryable() || !strings.Contains(ae.Message(), "not allowed") {
		t.Fatalf("loopback reached without an allow rule: %v", err)
	}
	if rc.Count() != 0 {
		t.Fatal("the receiver was called")
	}
}

func TestNotifyStoresOneRowPerUserOnce(t *testing.T) {
	db := testkit.DB(t)
	deps := &activities.Actions{Notifications: &store.Notifications{DB: db}, Runs: &store.Runs{DB: db}}
	env := actionEnv(t, deps)
	in := map[string]any{"text": "Case 42 created", "user_ids": []any{"7", 9, "7"}}
	val, err := env.ExecuteActivity(activities.ActionNotify, in)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.NotifyResult
	_ = val.Get(&res)
	if res.Notified != 2 || len(res.IDs) != 2 {
		t.Fatalf("result = %+v", res)
	}
	// Ids derive from the workflow run, activity and user, so a retried
	// attempt stores nothing twice (store.Notifications.Create skips ids it has).
	list, err := deps.Notifications.List(context.Background(), store.NotificationFilter{}, domain.Page{Number: 1, PerPage: 10})
	if err != nil || list.Total != 2 {
		t.Fatalf("stored %d notifications, want 2 (%v)", list.Total, err)
	}
	_, err = env.ExecuteActivity(activities.ActionNotify, map[string]any{"text": "x", "user_ids": ""})
	if ae := appError(t, err); !ae.NonRetryable() {
		t.Fatal("an empty user list must fail at once")
	}
}

func TestLeadUpdateListCallsTheLeadAPI(t *testing.T) {
	var got struct {
		path, auth, key string
		body            map[string]string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.auth, got.key = r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key")
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		if strings.Contains(r.URL.Path, "missing") {
			w.WriteHeader(404)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"moved": true}`))
	}))
	defer srv.Close()
	deps := &activities.Actions{Settings: activities.ActionSettings{LeadAPIURL: srv.URL + "/api/", LeadAPIToken: "s3cret"}}
	env := actionEnv(t, deps)
	val, err := env.ExecuteActivity(activities.ActionLeadUpdateList, map[string]any{"listId": "354", "leadId": "131413"})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.LeadUpdateListResult
	_ = val.Get(&res)
	if got.path != "/api/leads/131413/list" || got.body["listId"] != "354" || got.auth != "Bearer s3cret" || got.key == "" {
		t.Fatalf("request = %+v", got)
	}
	if res.Status != 200 || string(res.Response) != `{"moved":true}` {
		t.Fatalf("result = %+v", res)
	}
	_, err = env.ExecuteActivity(activities.ActionLeadUpdateList, map[string]any{"listId": "354", "leadId": "missing"})
	if ae := appError(t, err); !ae.NonRetryable() || !strings.Contains(ae.Message(), "404") {
		t.Fatalf("404: %v", err)
	}
	_, err = env.ExecuteActivity(activities.ActionLeadUpdateList, map[string]any{"listId": "354", "leadId": ""})
	if ae := appError(t, err); !ae.NonRetryable() || !strings.Contains(ae.Message(), "leadId") {
		t.Fatalf("no lead: %v", err)
	}
	unconfigured := actionEnv(t, &activities.Actions{})
	_, err = unconfigured.ExecuteActivity(activities.ActionLeadUpdateList, map[string]any{"listId": "1", "leadId": "2"})
	if ae := appError(t, err); !ae.NonRetryable() || !strings.Contains(ae.Message(), "TRIGGERFLOW_LEAD_API_URL") {
		t.Fatalf("unconfigured: %v", err)
	}
}

func TestLogReturnsTheLine(t *testing.T) {
	env := actionEnv(t, &activities.Actions{Logger: testkit.Logger()})
	val, err := env.ExecuteActivity(activities.ActionLog, map[string]any{"message": "case 42", "level": "warn", "fields": map[string]any{"case": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.LogResult
	_ = val.Get(&res)
	if res.Message != "case 42" || res.Level != "warn" || res.Fields["case"] != "42" || res.LoggedAt.IsZero() {
		t.Fatalf("result = %+v", res)
	}
}

// TestLogStepMasksCredentialFields: the log action's credential-like
// fields are masked in its line and output by the one rule.
func TestLogStepMasksCredentialFields(t *testing.T) {
	var line bytes.Buffer
	env := actionEnv(t, &activities.Actions{Logger: slog.New(slog.NewTextHandler(&line, nil))})
	val, err := env.ExecuteActivity(activities.ActionLog, map[string]any{"message": "m",
		"fields": map[string]any{"api_token": "t0ps3cret", "case": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.LogResult
	_ = val.Get(&res)
	if res.Fields["api_token"] != domain.Masked || res.Fields["case"] != "42" || strings.Contains(line.String(), "t0ps3cret") {
		t.Fatalf("result %+v, line %s", res, line.String())
	}
}

func TestEmailSendNeedsSettings(t *testing.T) {
	env := actionEnv(t, &activities.Actions{})
	_, err := env.ExecuteActivity(activities.ActionEmailSend, map[string]any{"to": "a@example.com", "subject": "s", "body": "b"})
	if ae := appError(t, err); !ae.NonRetryable() || !strings.Contains(ae.Message(), "TRIGGERFLOW_SMTP_URL") {
		t.Fatalf("unconfigured: %v", err)
	}
}

func TestParseSMTPURL(t *testing.T) {
	c, err := activities.ParseSMTPURL("smtp://user:p%40ss@mail.example.com:587?from=TriggerFlow%20%3Cnoreply@example.com%3E&starttls=require")
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "mail.example.com" || c.Port != "587" || c.Username != "user" || c.Password != "p@ss" ||
		c.From.Address != "noreply@example.com" || !c.RequireTLS || c.ImplicitTLS {
		t.Fatalf("config = %+v", c)
	}
	if c, err = activities.ParseSMTPURL("smtps://mail.example.com?from=a@example.com"); err != nil || c.Port != "465" || !c.ImplicitTLS {
		t.Fatalf("smtps = %+v, %v", c, err)
	}
	for _, bad := range []string{"http://x?from=a@example.com", "smtp://x", "smtp://?from=a@example.com", "smtp://x?from=nobody", "smtp://x:99999?from=a@example.com"} {
		if _, err := activities.ParseSMTPURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
