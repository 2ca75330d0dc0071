package activities

import (
	"context"
	"sync"
	"time"

	"github.com/triggerflow/triggerflow/store"
)

// tryLog writes the tries of http.request steps the way PostgreSQL commits
// are grouped: a try waits while the statement before it is written, and
// everything that waited meanwhile is written by the next one (at most
// tryLogMax). A lone try is written at once; many concurrent runs share a
// statement instead of taking a connection and a commit each. A statement
// that fails is retried try by try, so one try's fate stays its own.
type tryLog struct {
	mu      sync.Mutex
	waiting []pendingTry
	writing bool
}

type pendingTry struct {
	try  store.StepTry
	done chan error
}

const tryLogMax = 256

// record writes one try and returns when it is written (or could not be).
func (l *tryLog) record(ctx context.Context, db *store.StepAttempts, t store.StepTry) error {
	p := pendingTry{try: t, done: make(chan error, 1)}
	l.mu.Lock()
	l.waiting = append(l.waiting, p)
	if !l.writing {
		l.writing = true
		go l.drain(db)
	}
	l.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain writes what is waiting until nothing is.
func (l *tryLog) drain(db *store.StepAttempts) {
	for {
		l.mu.Lock()
		n := min(len(l.waiting), tryLogMax)
		if n == 0 {
			l.writing = false
			l.mu.Unlock()
			return
		}
		group := l.waiting[:n:n]
		l.waiting = l.waiting[n:]
		l.mu.Unlock()
		l.write(db, group)
	}
}

func (l *tryLog) write(db *store.StepAttempts, group []pendingTry) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tries := make([]store.StepTry, len(group))
	for i, p := range group {
		tries[i] = p.try
	}
	if len(group) > 1 {
		if err := db.RecordMany(ctx, tries); err == nil {
			for _, p := range group {
				p.done <- nil
			}
			return
		}
	}
	for _, p := range group {
		_, err := db.Record(ctx, p.try.RunWorkflowID, p.try.StepID, p.try.Attempt)
		p.done <- err
	}
}
