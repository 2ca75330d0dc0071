package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/triggerflow/triggerflow/store"
)

// formingGroup is a dispatch group committers are storing batches into. It
// is named before its first batch commits, so the batches are stored in it
// and its unordered deliveries carried by its workflow from the start; the
// dispatcher then hands it over once no commit into it is in flight, with
// every batch it holds (a group's workflow must never start without one of
// its batches: nothing else would carry that batch's deliveries).
type formingGroup struct {
	id    string
	refs  int // commits into it still in flight
	items []dispatchItem
	work  int
	first time.Time // when its first batch was committed
	// sealed: no commit joins it any more; settled is closed once it is
	// sealed with no commit in flight.
	sealed  bool
	settled chan struct{}
}

// forming is the group committers store into now and the sealed ones
// waiting for the dispatcher.
type forming struct {
	mu       sync.Mutex
	open     *formingGroup
	full     []*formingGroup // sealed at maxGroup, oldest first
	maxGroup int
	// maxFull bounds the sealed groups waiting: past it the oldest is left
	// to the dispatcher sweep (its batches are stored in it, so the sweep
	// hands it over whole, under its name, after the lease).
	maxFull int
	changed chan struct{} // a group got a batch or was sealed (capacity 1)
	dropped func(g *formingGroup)
}

func newForming(maxGroup, maxFull int, dropped func(*formingGroup)) *forming {
	return &forming{maxGroup: maxGroup, maxFull: maxFull, changed: make(chan struct{}, 1), dropped: dropped}
}

func (f *forming) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// join returns the group a commit starting now stores its batch in; the
// committer must call leave once the commit is over.
func (f *forming) join() *formingGroup {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open == nil {
		f.open = &formingGroup{id: store.NewID(store.PrefixGroup), settled: make(chan struct{})}
	}
	f.open.refs++
	return f.open
}

// leave ends a commit into g; item is the committed batch (ok false when
// nothing was stored). A group that reaches maxGroup is sealed and queued.
func (f *forming) leave(g *formingGroup, item dispatchItem, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ok {
		if len(g.items) == 0 {
			g.first = time.Now()
		}
		g.items = append(g.items, item)
		g.work += item.work()
	}
	g.refs--
	if g == f.open && g.work >= f.maxGroup {
		f.seal(g)
		f.full = append(f.full, g)
		if len(f.full) > f.maxFull {
			old := f.full[0]
			f.full = f.full[1:]
			if f.dropped != nil {
				f.dropped(old)
			}
		}
	}
	if g.sealed && g.refs == 0 {
		closeOnce(g.settled)
	}
	f.signal()
}

// seal stops g taking batches (f.mu held).
func (f *forming) seal(g *formingGroup) {
	g.sealed = true
	if f.open == g {
		f.open = nil
	}
	if g.refs == 0 {
		closeOnce(g.settled)
	}
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// next returns the next group to hand over, sealed: a full one, or the open
// one once it holds a batch — at once, or, when wait is set (publishes
// arrive faster than groups go over), window after its first batch. It
// returns nil when ctx ends.
func (f *forming) next(ctx context.Context, wait bool, window time.Duration) *formingGroup {
	for {
		f.mu.Lock()
		if len(f.full) > 0 {
			g := f.full[0]
			f.full = f.full[1:]
			f.mu.Unlock()
			return g
		}
		var timer <-chan time.Time
		if g := f.open; g != nil && len(g.items) > 0 {
			left := window - time.Since(g.first)
			if !wait || left <= 0 {
				f.seal(g)
				f.mu.Unlock()
				return g
			}
			timer = time.After(left)
		}
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-f.changed:
		case <-timer:
		}
	}
}
