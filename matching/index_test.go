package matching_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/matching"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/store"
)

func matchedCodes(t *testing.T, ix *matching.Index, typ, data string) []string {
	t.Helper()
	m, err := ix.Match(context.Background(), []domain.Event{{ID: "e", Type: typ, OccurredAt: time.Now(), Data: json.RawMessage(data)}})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, w := range m["e"].Webhooks {
		codes = append(codes, w.Code)
	}
	sort.Strings(codes)
	return codes
}

func TestIndexMatchesTypesConditionsFiltersAndExpressions(t *testing.T) {
	db := testkit.DB(t)
	ctx := context.Background()
	ix := matching.NewIndex(db, testkit.Logger())
	repo := &store.Webhooks{DB: db, OnChange: ix.Invalidate}
	for _, w := range []*domain.Webhook{
		testkit.Webhook("exact", []string{"case.created"}, nil),
		testkit.Webhook("object", []string{"task.*"}, nil),
		testkit.Webhook("everything", []string{"*"}, nil),
		testkit.Webhook("both", []string{"task.*", "task.created"}, nil), // matched once
		testkit.Webhook("campaigns", []string{"agent.wrap"}, func(w *domain.Webhook) {
			w.Conditions = []domain.Condition{{Reference: "campaignId", Operator: "in", Value: "215, 223"}, {Reference: "lead.totalAttempts", Operator: ">=", Value: "3"}}
		}),
		testkit.Webhook("one_workflow", []string{"task.*", "user.logout"}, func(w *domain.Webhook) {
			w.Filters = map[string][]domain.Condition{"task.*": {{Reference: "workflow", Operator: "=", Value: "wf1"}}}
		}),
		testkit.Webhook("cel", []string{"survey.created"}, func(w *domain.Webhook) { w.Expression = `data.score > 8 && event.type == "survey.created"` }),
		testkit.Webhook("off", []string{"*"}, func(w *domain.Webhook) { w.Enabled = false }),
	} {
		if err := repo.Create(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		typ, data string
		want      []string
	}{
		{"case.created", `{}`, []string{"everything", "exact"}},
		{"case.updated", `{}`, []string{"everything"}},
		{"task.created", `{"workflow": "wf1"}`, []string{"both", "everything", "object", "one_workflow"}},
		{"task.created", `{"workflow": "wf2"}`, []string{"both", "everything", "object"}},
		{"user.logout", `{}`, []string{"everything", "one_workflow"}}, // the task filter does not apply
		{"agent.wrap", `{"campaignId": "223", "lead": {"totalAttempts": "10"}}`, []string{"campaigns", "everything"}},
		{"agent.wrap", `{"campaignId": 215, "lead": {"totalAttempts": 2}}`, []string{"everything"}},
		{"agent.wrap", `{"campaignId": "999", "lead": {"totalAttempts": "10"}}`, []string{"everything"}},
		{"survey.created", `{"score": 9}`, []string{"cel", "everything"}},
		{"survey.created", `{"score": 3}`, []string{"everything"}},
	}
	for _, tc := range cases {
		if got := matchedCodes(t, ix, tc.typ, tc.data); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %s: matched %v, want %v", tc.typ, tc.data, got, tc.want)
		}
	}
	// A change through the repository is visible to the next match at once.
	if _, err := repo.SetEnabled(ctx, []string{"everything"}, false); err != nil {
		t.Fatal(err)
	}
	if got := matchedCodes(t, ix, "case.updated", `{}`); len(got) != 0 {
		t.Fatalf("after disabling: %v", got)
	}
}

func TestIndexSeesChangesFromOtherProcessesByNotify(t *testing.T) {
	url := testkit.DatabaseURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ix := matching.NewIndex(db, testkit.Logger())
	go ix.Listen(ctx, url)
	if got := matchedCodes(t, ix, "case.created", `{}`); len(got) != 0 {
		t.Fatal(got)
	}
	time.Sleep(300 * time.Millisecond) // let the listener connect
	// Another process's repository: no OnChange into this index.
	other := &store.Webhooks{DB: db}
	if err := other.Create(ctx, testkit.Webhook("remote", []string{"case.created"}, nil)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "index picks up the NOTIFY", func() bool {
		return len(matchedCodes(t, ix, "case.created", `{}`)) == 1
	})
}

// BenchmarkMatch1000Subscriptions matches one event against 1,000 enabled
// webhooks (a tenth subscribed to its type, with conditions).
func BenchmarkMatch1000Subscriptions(b *testing.B) {
	db := testkit.DB(b)
	ctx := context.Background()
	ix := matching.NewIndex(db, testkit.Logger())
	repo := &store.Webhooks{DB: db}
	objects := []string{"case", "task", "user", "lead", "queue", "survey", "element", "agent", "note", "contact"}
	for i := 0; i < 1000; i++ {
		obj := objects[i%len(objects)]
		w := testkit.Webhook(fmt.Sprintf("w%04d", i), []string{obj + ".*"}, func(w *domain.Webhook) {
			w.Conditions = []domain.Condition{{Reference: "campaignId", Operator: "in", Value: fmt.Sprintf("%d, %d", i, i+1)}}
		})
		if err := repo.Create(ctx, w); err != nil {
			b.Fatal(err)
		}
	}
	ev := []domain.Event{{ID: "e", Type: "case.created", Data: json.RawMessage(`{"campaignId": "10", "lead": {"totalAttempts": 3}}`)}}
	if _, err := ix.Match(ctx, ev); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, _ := ix.Match(ctx, ev)
		if len(m["e"].Webhooks) != 1 { // w0010 (case.*, campaign 10 or 11)
			b.Fatalf("matched %d", len(m["e"].Webhooks))
		}
	}
}

// Regression: with several publishers matching at once, none may use a
// snapshot that a reload in progress is replacing (the bench once saw the
// first batch after creating webhooks match none of them).
func TestIndexNeverServesAStaleSnapshotToConcurrentReaders(t *testing.T) {
	db := testkit.DB(t)
	ctx := context.Background()
	ix := matching.NewIndex(db, testkit.Logger())
	repo := &store.Webhooks{DB: db, OnChange: ix.Invalidate}
	for round := 0; round < 30; round++ {
		typ := "case.created"
		code := fmt.Sprintf("r%02d", round)
		if err := repo.Create(ctx, testkit.Webhook(code, []string{typ}, nil)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := ix.Match(ctx, []domain.Event{{ID: "e", Type: typ, Data: json.RawMessage(`{}`)}})
				if err != nil {
					errs <- err.Error()
					return
				}
				if len(m["e"].Webhooks) != round+1 {
					errs <- fmt.Sprintf("round %d: matched %d webhooks, want %d", round, len(m["e"].Webhooks), round+1)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
	}
}
