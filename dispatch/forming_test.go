package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/store"
)

func item(batch string, deliveries int) dispatchItem {
	it := dispatchItem{batch: store.StoredBatch{BatchID: batch}}
	for range deliveries {
		it.batch.Plan.Deliveries = append(it.batch.Plan.Deliveries, store.PlannedDelivery{})
	}
	return it
}

func settled(g *formingGroup) bool {
	select {
	case <-g.settled:
		return true
	default:
		return false
	}
}

// The dispatcher seals a group while a commit into it is still in flight:
// the group settles only when that commit ends, with its batch in it, and
// commits starting after the seal go to a new group.
func TestAFormingGroupSettlesOnlyOnceItsCommitsEnd(t *testing.T) {
	f := newForming(2000, 4, nil)
	a := f.join()
	f.leave(a, item("bat_a", 1), true)
	b := f.join() // in flight
	if b != a {
		t.Fatal("a commit starting while the group forms joins another group")
	}
	g := f.next(context.Background(), false, time.Second)
	if g != a || !g.sealed || settled(g) {
		t.Fatalf("next = %p sealed=%v settled=%v; want the forming group, sealed, not settled", g, g.sealed, settled(g))
	}
	if c := f.join(); c == a {
		t.Fatal("a commit starting after the seal joined the sealed group")
	} else {
		f.leave(c, dispatchItem{}, false)
	}
	f.leave(b, item("bat_b", 1), true)
	if !settled(g) || len(g.items) != 2 || g.items[1].batch.BatchID != "bat_b" {
		t.Fatalf("settled=%v items=%d; want settled with both batches", settled(g), len(g.items))
	}
	// A failed commit leaves nothing in its group.
	c := f.join()
	f.leave(c, dispatchItem{}, false)
	if len(c.items) != 0 {
		t.Fatalf("a failed commit added %d batches", len(c.items))
	}
}

// A group that reaches maxGroup is sealed and queued at once; past
// maxFull waiting groups the oldest is left to the sweep.
func TestFullGroupsQueueAndTheOldestIsLeftToTheSweep(t *testing.T) {
	var dropped []string
	f := newForming(10, 1, func(g *formingGroup) { dropped = append(dropped, g.items[0].batch.BatchID) })
	for _, b := range []string{"bat_1", "bat_2", "bat_3"} {
		g := f.join()
		f.leave(g, item(b, 10), true)
		if !g.sealed || !settled(g) {
			t.Fatalf("%s: a full group is not sealed and settled", b)
		}
	}
	if len(dropped) != 2 || dropped[0] != "bat_1" || dropped[1] != "bat_2" {
		t.Fatalf("left to the sweep: %v; want bat_1 and bat_2", dropped)
	}
	g := f.next(context.Background(), true, time.Hour)
	if g == nil || g.items[0].batch.BatchID != "bat_3" {
		t.Fatal("the full group waiting is not handed over at once")
	}
}

// While publishes arrive faster than groups go over, a group fills for the
// window after its first batch.
func TestABusyDispatcherLetsAGroupFillForTheWindow(t *testing.T) {
	f := newForming(2000, 4, nil)
	g := f.join()
	f.leave(g, item("bat_1", 1), true)
	go func() {
		time.Sleep(20 * time.Millisecond)
		h := f.join()
		f.leave(h, item("bat_2", 1), true)
	}()
	start := time.Now()
	got := f.next(context.Background(), true, 100*time.Millisecond)
	<-got.settled
	if took := time.Since(start); took < 90*time.Millisecond || len(got.items) != 2 {
		t.Fatalf("handed over after %s with %d batches; want the window and both", took, len(got.items))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if f.next(ctx, false, 0) != nil {
		t.Fatal("next returned a group with nothing forming")
	}
}
