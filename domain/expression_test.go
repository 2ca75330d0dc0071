package domain

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestCompileExpressionErrors(t *testing.T) {
	tests := []struct {
		src, wantErr string
	}{
		{"", "empty"},
		{strings.Repeat("a", MaxExpressionLength+1), "at most 4096"},
		{"data.x +", "invalid expression"},
		{"1 + 2", "must produce a bool"},
		{"'text'", "must produce a bool"},
		{"nosuchvar > 1", "undeclared reference"},
	}
	for _, tc := range tests {
		_, err := CompileExpression(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("CompileExpression(%.30q) error = %v, want it to contain %q", tc.src, err, tc.wantErr)
		}
	}
}

func TestExpressionEval(t *testing.T) {
	scope := ipscapeScope(t)
	tests := []struct {
		src     string
		want    bool
		wantErr bool
	}{
		{`data.campaignId == "215"`, true, false},
		{`data.campaignId in ["215", "223"]`, true, false},
		{`int(data.lead.totalAttempts) >= 3`, true, false},
		{`data.durations.talk > 2`, true, false}, // json.Number → int
		{`data.durations.wrap > 7`, true, false}, // json.Number → double, compared with an int
		{`data.durations.wrap == 7.5`, true, false},
		{`data.durations.dial == 0`, true, false},
		{`data.lead.completed == false`, true, false},
		{`data.lead.tags.exists(t, t == "vip")`, true, false},
		{`data.items[1].id == "b"`, true, false},
		{`data.contact.czCol["15"] == "gold"`, true, false},
		{`has(data.lead.listId) && !has(data.lead.nope)`, true, false},
		{`event.type == "lead.outcome_predictive" && event.id.startsWith("evt")`, true, false},
		{`has(data.event)`, false, false}, // the envelope is not part of data
		{`data.contact.first_name.matches("^A")`, true, false},
		{`data.agentInteractionId == null`, true, false},
		{`data.nope == 1`, false, true},              // no such key
		{`data.lead.totalAttempts > 2`, false, true}, // a string sent as a string stays one
		{`data.campaignId`, false, true},             // dyn, not a bool at run time
		{`data.bigId > 0`, true, false},              // beyond int64: double
	}
	for _, tc := range tests {
		e, err := CompileExpression(tc.src)
		if err != nil {
			t.Errorf("CompileExpression(%q): %v", tc.src, err)
			continue
		}
		got, err := e.Eval(scope)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Eval(%q) = %v, %v; want %v, err %v", tc.src, got, err, tc.want, tc.wantErr)
		}
		if e.String() != tc.src {
			t.Errorf("String() = %q", e.String())
		}
	}
}

func TestExpressionCostLimit(t *testing.T) {
	list := make([]any, 2000)
	for i := range list {
		list[i] = json.Number("1")
	}
	scope := map[string]any{"l": list}
	e, err := CompileExpression(`data.l.all(a, data.l.all(b, a == b))`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Eval(scope)
	if err == nil || got {
		t.Fatalf("a 4,000,000-step expression ran: %v, %v", got, err)
	}
	if !strings.Contains(err.Error(), "cost") {
		t.Errorf("error %v does not mention the cost limit", err)
	}
}

func TestExpressionConcurrent(t *testing.T) {
	e, err := CompileExpression(`data.n > 5`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				n := i*200 + j
				got, err := e.Eval(map[string]any{"n": json.Number(strconv.Itoa(n))})
				if err != nil || got != (n > 5) {
					t.Errorf("n=%d: %v %v", n, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzCompileExpression(f *testing.F) {
	f.Add(`data.campaignId in ["215", "223"]`, []byte(`{"campaignId":"215"}`))
	f.Add(`data.lead.totalAttempts > 2`, []byte(`{"lead":{"totalAttempts":3}}`))
	f.Add(`data.l.map(x, x * 2).size() > 1`, []byte(`{"l":[1,2,3]}`))
	f.Add(`event.type.startsWith("case.")`, []byte(`{}`))
	f.Add(`data.s.matches("(a+)+$")`, []byte(`{"s":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"}`))
	f.Fuzz(func(t *testing.T, src string, data []byte) {
		e, err := CompileExpression(src)
		if err != nil {
			return
		}
		scope, err := Event{ID: "x", Type: "case.created", Data: data}.Scope()
		if err != nil {
			return
		}
		got, err := e.Eval(scope)
		if err != nil && got {
			t.Errorf("Eval returned true with an error: %v", err)
		}
	})
}

func BenchmarkExpressionEval(b *testing.B) {
	scope := ipscapeScope(b)
	e, err := CompileExpression(`data.campaignId in ["215", "223"] && int(data.lead.totalAttempts) >= 3 && data.durations.talk > 2`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := e.Eval(scope); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkCompileExpression(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileExpression(`data.campaignId in ["215", "223"] && int(data.lead.totalAttempts) >= 3`); err != nil {
			b.Fatal(err)
		}
	}
}
