package main

import (
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
