//go:build !fuzzsmoke

package apiserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

// createKey makes an API key with scopes and returns it.
func createKey(t *testing.T, s *teststack.Stack, name string, scopes ...string) string {
	t.Helper()
	r := s.MustDo(http.StatusCreated, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes})
	return r.Map(t)["key"].(string)
}

func TestMeTellsTheKeysNameAndScopes(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	boot := s.MustDo(http.StatusOK, "GET", "/v1/me", nil).Map(t)
	if boot["admin"] != true || boot["name"] != "bootstrap admin token" || boot["key_id"] != nil {
		t.Fatalf("bootstrap key: %v", boot)
	}
	key := createKey(t, s, "dashboard viewer", "read")
	r := s.DoAs(key, "GET", "/v1/me", nil)
	me := r.Map(t)
	if r.Status != http.StatusOK || me["admin"] != false || me["name"] != "dashboard viewer" ||
		fmt.Sprint(me["scopes"]) != "[read]" || !strings.HasPrefix(fmt.Sprint(me["key_id"]), "key_") {
		t.Fatalf("read key: %d %v", r.Status, me)
	}
	if r := s.DoAs("", "GET", "/v1/me", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", r.Status)
	}
}

func TestCronPreviewDescribesAndListsNextRunsInTheZone(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	before := time.Now()
	r := s.MustDo(http.StatusOK, "POST", "/v1/cron/preview", map[string]any{"expression": "0 */1 12 * * *", "timezone": "Europe/Kyiv"})
	after := time.Now()
	var got struct {
		ExpressionText string   `json:"expression_text"`
		NextRuns       []string `json:"next_runs"`
		TimeZone       string   `json:"timezone"`
	}
	r.JSON(t, &got)
	if !strings.Contains(got.ExpressionText, "12:00") || !strings.Contains(got.ExpressionText, "12:59") {
		t.Errorf("expression_text = %q, want every minute from 12:00 to 12:59 in words", got.ExpressionText)
	}
	want1, want2 := testkit.MinutesOfHour(t, "Europe/Kyiv", 12, before, 5), testkit.MinutesOfHour(t, "Europe/Kyiv", 12, after, 5)
	if fmt.Sprint(got.NextRuns) != fmt.Sprint(want1) && fmt.Sprint(got.NextRuns) != fmt.Sprint(want2) {
		t.Errorf("next_runs = %v, want %v", got.NextRuns, want1)
	}
	// Without a zone: UTC.
	utc := s.MustDo(http.StatusOK, "POST", "/v1/cron/preview", map[string]any{"expression": "0 9 * * 1-5"}).Map(t)
	if utc["timezone"] != "UTC" || !strings.HasSuffix(utc["next_runs"].([]any)[0].(string), "T09:00:00Z") {
		t.Errorf("default zone: %v", utc)
	}

	bad := s.Do("POST", "/v1/cron/preview", map[string]any{"expression": "61 * * * *", "timezone": "Mars/Olympus"})
	var e struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	bad.JSON(t, &e)
	if bad.Status != http.StatusBadRequest || !strings.Contains(e.Error.Fields["expression"], "61") || e.Error.Fields["timezone"] == "" {
		t.Fatalf("bad input: %d %s", bad.Status, bad.Body)
	}
}

func TestSuggestCodeOffersAFreeVariantWhenTaken(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	suggest := func(name string) map[string]any {
		t.Helper()
		return s.MustDo(http.StatusOK, "GET", "/v1/webhooks/suggest-code?name="+url.QueryEscape(name), nil).Map(t)
	}
	if got := suggest("Case updates"); got["code"] != "case_updates" || got["available"] != true {
		t.Fatalf("fresh name: %v", got)
	}
	create := func(code string) {
		t.Helper()
		s.MustDo(http.StatusCreated, "POST", "/v1/webhooks", map[string]any{
			"name": "Case updates", "code": code, "url": "https://example.com/h", "event_types": []string{"case.created"}})
	}
	create("case_updates")
	if got := suggest("Case updates"); got["code"] != "case_updates_2" || got["available"] != true {
		t.Fatalf("after case_updates is taken: %v", got)
	}
	create("case_updates_2")
	if got := suggest("Case  Updates!"); got["code"] != "case_updates_3" {
		t.Fatalf("after _2 is taken: %v", got)
	}
	if got := suggest("Нове звернення"); got["code"] != "nove_zvernennia" {
		t.Fatalf("transliterated: %v", got)
	}
	if got := suggest("!!!"); got["code"] != "" || got["available"] != false {
		t.Fatalf("nothing usable: %v", got)
	}
	publisher := createKey(t, s, "publisher", "publish")
	if r := s.DoAs(publisher, "GET", "/v1/webhooks/suggest-code?name=x", nil); r.Status != http.StatusForbidden {
		t.Fatalf("a key without read: %d", r.Status)
	}
}

func TestStatsCountDeliveriesAndPutFailingWebhooksFirst(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	ok, bad := testkit.NewReceiver(t), testkit.NewReceiver(t)
	bad.FailFirst(1000, http.StatusGone) // 410 ends a delivery at once
	createWebhook(t, s, map[string]any{"name": "Healthy", "url": ok.URL, "event_types": []string{"task.created"}})
	createWebhook(t, s, map[string]any{"name": "Broken", "url": bad.URL, "event_types": []string{"task.created"}})
	createWebhook(t, s, map[string]any{"name": "Idle", "url": ok.URL, "event_types": []string{"user.logout"}, "enabled": false})
	for i := range 3 {
		s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": fmt.Sprintf("task-%d", i), "type": "task.created", "data": map[string]any{"n": i}})
	}
	var st struct {
		Webhooks   struct{ Total, Enabled int }
		Deliveries struct {
			LastHour struct{ Succeeded, Failed, Pending int } `json:"last_hour"`
			LastDay  struct{ Succeeded, Failed, Pending int } `json:"last_day"`
		}
		FailingWebhooks []struct {
			Code    string
			LastDay struct{ Failed int } `json:"last_day"`
		} `json:"failing_webhooks"`
	}
	testkit.Eventually(t, 30*time.Second, "deliveries settle", func() bool {
		s.MustDo(http.StatusOK, "GET", "/v1/stats", nil).JSON(t, &st)
		return st.Deliveries.LastHour.Succeeded == 3 && st.Deliveries.LastHour.Failed == 3
	})
	if st.Webhooks.Total != 3 || st.Webhooks.Enabled != 2 || st.Deliveries.LastDay.Succeeded != 3 || st.Deliveries.LastDay.Failed != 3 ||
		st.Deliveries.LastHour.Pending != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if len(st.FailingWebhooks) != 1 || st.FailingWebhooks[0].Code != "broken" || st.FailingWebhooks[0].LastDay.Failed != 3 {
		t.Fatalf("failing webhooks: %+v", st.FailingWebhooks)
	}

	var events struct {
		Items []struct {
			ID         string
			Deliveries struct{ Succeeded, Failed int }
		}
		Total int
	}
	s.MustDo(http.StatusOK, "GET", "/v1/events?per_page=2", nil).JSON(t, &events)
	if events.Total != 3 || len(events.Items) != 2 || events.Items[0].ID != "task-2" ||
		events.Items[0].Deliveries.Succeeded != 1 || events.Items[0].Deliveries.Failed != 1 {
		t.Fatalf("events, latest first: %+v", events)
	}
	s.MustDo(http.StatusOK, "GET", "/v1/events?q=TASK-1", nil).JSON(t, &events)
	if events.Total != 1 || events.Items[0].ID != "task-1" {
		t.Fatalf("events by id: %+v", events)
	}
}

func TestDeliveriesAndRunsLinkToTheirWorkflowInTemporalUI(t *testing.T) {
	const ui = "http://temporal-ui.example:8233"
	s := teststack.Start(t, teststack.Options{TemporalUIURL: ui})
	rc := testkit.NewReceiver(t)
	createWebhook(t, s, map[string]any{"name": "Linked", "url": rc.URL, "event_types": []string{"case.created"}})
	s.MustDo(http.StatusCreated, "POST", "/v1/flows", map[string]any{"name": "log-it", "steps": []map[string]any{
		{"name": "note", "action": "log", "params": map[string]any{"message": "case {{ case.id }}"}}}})
	s.MustDo(http.StatusCreated, "POST", "/v1/triggers", map[string]any{"name": "On case", "type": "on_event", "flow": "log-it",
		"object": "case", "event": "created"})
	s.MustDo(http.StatusAccepted, "POST", "/v1/events", map[string]any{"id": "case-9", "type": "case.created", "data": map[string]any{"case": map[string]any{"id": 9}}})

	type carried struct {
		Status        string `json:"status"`
		WorkflowID    string `json:"workflow_id"`
		RunID         string `json:"run_id"`
		TemporalUIURL string `json:"temporal_ui_url"`
	}
	var ev struct {
		Deliveries []carried `json:"deliveries"`
		Runs       []carried `json:"runs"`
	}
	testkit.Eventually(t, 30*time.Second, "delivery and run finish", func() bool {
		s.MustDo(http.StatusOK, "GET", "/v1/events/case-9", nil).JSON(t, &ev)
		return len(ev.Deliveries) == 1 && ev.Deliveries[0].Status == "succeeded" && len(ev.Runs) == 1 && ev.Runs[0].Status == "succeeded"
	})
	ns := testkit.TemporalNamespace(t)
	for what, c := range map[string]carried{"delivery": ev.Deliveries[0], "run": ev.Runs[0]} {
		want := ui + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(c.WorkflowID)
		if c.RunID != "" && what == "run" {
			want += "/" + c.RunID
		}
		if c.WorkflowID == "" || !strings.HasPrefix(c.TemporalUIURL, want) {
			t.Errorf("%s link = %q, want %q", what, c.TemporalUIURL, want)
		}
	}
	var list struct {
		Items []carried `json:"items"`
	}
	s.MustDo(http.StatusOK, "GET", "/v1/webhooks/linked/deliveries", nil).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].TemporalUIURL != ev.Deliveries[0].TemporalUIURL {
		t.Errorf("deliveries list link: %+v", list.Items)
	}

}

func TestConsoleIsServedWithoutAKeyAndRootLeadsToIt(t *testing.T) {
	s := teststack.Start(t, teststack.Options{NoWorker: true})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r := s.DoAs("", "GET", "/ui/triggers/trg_1", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `<base href="/ui/">`) {
		t.Fatalf("deep link without a key: %d %.100s", r.Status, r.Body)
	}
	if r := s.DoAs("", "GET", "/v1/me", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the API still needs a key: %d", r.Status)
	}
}
