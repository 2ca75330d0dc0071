//go:build !fuzzsmoke

package apiserver_test

// Fault tests ("Fault…") on the real in-process stack: a receiver down for
// the whole retry window, a flood at an ordered webhook with a slow receiver,
// and concurrent publishing of repeated ids. See README "Guarantees".

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
	"github.com/triggerflow/triggerflow/workflows"
)

// closedPortURL is an http URL on loopback where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/hook"
}

// TestFaultReceiverDownForWholeRetryWindow: with nothing listening at the
// webhook's URL, a policy of 4 attempts makes exactly 4 (the first try and 3
// retries), then the delivery is FAILED with all 4 attempts in its log.
func TestFaultReceiverDownForWholeRetryWindow(t *testing.T) {
	s := teststack.Start(t, teststack.Options{})
	createWebhook(t, s, map[string]any{"name": "down", "url": closedPortURL(t), "event_types": []string{"case.created"},
		"retry": map[string]any{"initial_interval": "1s", "backoff": 1, "max_attempts": 4}})
	publish(t, s, "down-1", "case.created", nil)
	d := s.DeliveryOf(t, "down-1", "failed")
	atts := attemptsOf(d)
	if len(atts) != 4 || d["attempt_count"].(float64) != 4 {
		t.Fatalf("%d attempts logged, attempt_count %v; want exactly 4", len(atts), d["attempt_count"])
	}
	seen := map[float64]bool{}
	for _, a := range atts {
		if a["result"] != "FAILED" || a["error"] == "" || a["response_status"] != nil {
			t.Fatalf("attempt %v", a)
		}
		seen[a["attempt"].(float64)] = true
	}
	for n := 1.0; n <= 4; n++ {
		if !seen[n] {
			t.Fatalf("attempt %v missing from the log: %v", n, atts)
		}
	}
	// And it stays that way: no fifth try shows up.
	time.Sleep(2500 * time.Millisecond)
	if d := s.MustDo(200, "GET", "/v1/deliveries/"+d["id"].(string), nil).Map(t); len(attemptsOf(d)) != 4 || d["status"] != "failed" {
		t.Fatalf("after giving up: %v", d)
	}
}

// TestFaultFloodAtOrderedWebhook publishes 5,000 events at an ordered webhook
// whose receiver takes 5 ms each: the first 1,000 arrive in publish order,
// the heap stays bounded while the backlog exists, and the queue workflow's
// history stays short.
func TestFaultFloodAtOrderedWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	rc.Script(func(int, testkit.Received) testkit.Response {
		return testkit.Response{Status: 200, Delay: 5 * time.Millisecond}
	})
	wh := createWebhook(t, s, map[string]any{"name": "flood", "url": rc.URL + "/e/{{ event.id }}",
		"event_types": []string{"task.created"}, "ordered": true})
	id, code := wh["id"].(string), wh["code"].(string)
	t.Cleanup(func() { s.Do("DELETE", "/v1/webhooks/"+id, nil) })

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	const total, checked = 5000, 1000
	for start := 0; start < total; start += 1000 {
		var evs []map[string]any
		for i := start; i < start+1000; i++ {
			evs = append(evs, map[string]any{"id": fmt.Sprintf("flood-%05d", i), "type": "task.created", "data": map[string]any{"seq": i}})
		}
		s.MustDo(202, "POST", "/v1/events", map[string]any{"events": evs})
	}
	got := rc.WaitFor(t, checked, 45*time.Second)
	close(stop)
	wg.Wait()

	for i := 0; i < checked; i++ {
		if want := fmt.Sprintf("/e/flood-%05d", i); got[i].Path != want {
			t.Fatalf("receipt %d is %s, want %s (publish order)", i, got[i].Path, want)
		}
	}
	var pending int
	if err := s.DB.Get(&pending, `SELECT count(*) FROM deliveries WHERE webhook_id = $1 AND status = 'pending'`, id); err != nil {
		t.Fatal(err)
	}
	if pending == 0 {
		t.Fatal("the backlog drained before the checks; the test no longer measures memory under a backlog")
	}
	if p := peak.Load(); p > 300<<20 {
		t.Fatalf("heap in use peaked at %d MB with a backlog of %d", p>>20, pending)
	}
	desc, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflows.WebhookQueueWorkflowID(code, id), "")
	if err != nil {
		t.Fatal(err)
	}
	if h := desc.GetWorkflowExecutionInfo().GetHistoryLength(); h >= 10000 {
		t.Fatalf("queue workflow history is %d events long", h)
	}
	t.Logf("peak heap in use %d MB; backlog %d; queue history %d events", peak.Load()>>20, pending,
		desc.GetWorkflowExecutionInfo().GetHistoryLength())
}

// TestFaultConcurrentPublishRepeatedIDs: eight clients publish the same 500
// ids at once, each in its own random order, mixing single events and
// batches. Each id is one event: one delivery per webhook, delivered once.
func TestFaultConcurrentPublishRepeatedIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	s := teststack.Start(t, teststack.Options{})
	rc := testkit.NewReceiver(t)
	unordered := createWebhook(t, s, map[string]any{"name": "dup unordered", "url": rc.URL + "/u/{{ event.id }}",
		"event_types": []string{"case.created"}})
	ordered := createWebhook(t, s, map[string]any{"name": "dup ordered", "url": rc.URL + "/o/{{ event.id }}",
		"event_types": []string{"case.created"}, "ordered": true})
	const n, clients = 500, 8
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, fmt.Sprintf("dup-%03d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			order := append([]string(nil), ids...)
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for len(order) > 0 {
				k := 1
				if rand.IntN(3) > 0 {
					k = min(len(order), 1+rand.IntN(40))
				}
				var body any
				if k == 1 && rand.IntN(2) == 0 {
					body = map[string]any{"id": order[0], "type": "case.created", "data": map[string]any{"client": c}}
				} else {
					var evs []map[string]any
					for _, id := range order[:k] {
						evs = append(evs, map[string]any{"id": id, "type": "case.created", "data": map[string]any{"client": c}})
					}
					body = map[string]any{"events": evs}
				}
				if r := s.Do("POST", "/v1/events", body); r.Status != 202 {
					errs <- fmt.Errorf("client %d: publish %d %s", c, r.Status, r.Body)
					return
				}
				order = order[k:]
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rc.WaitFor(t, 2*n, 45*time.Second)
	time.Sleep(time.Second) // a duplicate would show up meanwhile
	for _, wh := range []map[string]any{unordered, ordered} {
		var rows int
		if err := s.DB.Get(&rows, `SELECT count(*) FROM deliveries WHERE webhook_id = $1`, wh["id"]); err != nil {
			t.Fatal(err)
		}
		if rows != n {
			t.Fatalf("webhook %s has %d deliveries, want %d", wh["code"], rows, n)
		}
	}
	perHook := map[string]map[string]int{"u": {}, "o": {}}
	webhookIDs := map[string]map[string]bool{"u": {}, "o": {}}
	for _, r := range rc.Requests() {
		hook, ev, _ := strings.Cut(strings.TrimPrefix(r.Path, "/"), "/")
		perHook[hook][ev]++
		webhookIDs[hook][r.Header.Get("webhook-id")] = true
	}
	for hook, byEvent := range perHook {
		if len(byEvent) != n || len(webhookIDs[hook]) != n {
			t.Fatalf("webhook %s: %d distinct events, %d distinct webhook-ids; want %d", hook, len(byEvent), len(webhookIDs[hook]), n)
		}
		for ev, k := range byEvent {
			if k != 1 {
				t.Fatalf("webhook %s received %s %d times", hook, ev, k)
			}
		}
	}
	if c := rc.Count(); c != 2*n {
		t.Fatalf("receiver got %d requests, want %d", c, 2*n)
	}
}
