package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The causal order check counts an event received after one that was sent
// only once it had been accepted, and nothing else.
func TestBenchReceiverCountsCausalInversions(t *testing.T) {
	rc := &benchReceiver{sentAt: map[string]time.Time{}, acceptedAt: map[string]time.Time{},
		groups: map[string]*benchGroup{"p": {causal: true}}}
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// a: sent 0, accepted 10. b: sent 20 (after a was accepted). c: sent 5,
	// accepted 30, concurrent with a: either order is fine.
	rc.sentAt["a"], rc.acceptedAt["a"] = at(0), at(10)
	rc.sentAt["b"], rc.acceptedAt["b"] = at(20), at(25)
	rc.sentAt["c"], rc.acceptedAt["c"] = at(5), at(30)

	rc.groups["p"].receipts = []string{"c", "a", "b"}
	if n := rc.inversions("p"); n != 0 {
		t.Fatalf("c, a, b: %d inversions, want 0", n)
	}
	rc.groups["p"].receipts = []string{"b", "c", "a"}
	if n := rc.inversions("p"); n != 1 {
		t.Fatalf("b before a: %d inversions, want 1 (a)", n)
	}
}

func TestBenchNoisyRatesAreAListOfPositiveRates(t *testing.T) {
	rates, err := parseNoisyRates(defaultNoisyRates)
	if err != nil || len(rates) != 2 || rates[0] != 500 || rates[1] != 200 {
		t.Fatalf("default rates = %v, %v; want [500 200]", rates, err)
	}
	if rates, err := parseNoisyRates(" 300 "); err != nil || len(rates) != 1 || rates[0] != 300 {
		t.Fatalf("one rate = %v, %v", rates, err)
	}
	for _, bad := range []string{"", "fast", "500,", "0", "-5", "2.5"} {
		if _, err := parseNoisyRates(bad); err == nil || !strings.Contains(err.Error(), "--noisy-rate") {
			t.Errorf("parseNoisyRates(%q) = %v; want an error naming --noisy-rate", bad, err)
		}
	}
	// A bad rate is refused before any stack starts.
	err = runBench(context.Background(), Config{}, []string{"--noisy-rate", "fast"})
	if err == nil || !strings.Contains(err.Error(), `"fast"`) {
		t.Fatalf("runBench with --noisy-rate fast = %v", err)
	}
}
