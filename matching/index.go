package matching

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// Index matches events against every enabled webhook, On Event trigger and
// queue hook from memory, so publishing costs no query per event. A change
// made in this process invalidates it at once (read-your-writes for the API);
// changes from other processes arrive by LISTEN/NOTIFY, and a periodic reload
// covers a lost notification.
type Index struct {
	defs *store.Definitions
	log  *slog.Logger
	// gen counts invalidations. A snapshot is current only if it was loaded
	// at the present generation, so a reader never takes a snapshot that a
	// reload in progress is about to replace.
	gen  atomic.Uint64
	mu   sync.Mutex // serializes reloads
	snap atomic.Pointer[indexSnapshot]
}

// WebhookTarget is a webhook an event matched.
type WebhookTarget struct {
	ID      string
	Code    string
	Ordered bool
}

// RunTarget is a trigger or queue hook an event matched.
type RunTarget struct {
	TriggerID   string
	QueueHookID string
	// QueueID is a queue hook's queue.
	QueueID string
	FlowID  string
}

// Matches is what one event leads to.
type Matches struct {
	Webhooks []WebhookTarget
	Runs     []RunTarget
}

type compiledWebhook struct {
	target     WebhookTarget
	conditions []domain.Condition
	filters    map[string][]domain.Condition
	expr       *domain.Expression
}

type triggerRule struct {
	target     RunTarget
	conditions []domain.Condition
	expr       *domain.Expression
}

type hookRule struct {
	target  RunTarget
	queueID string
}

type indexSnapshot struct {
	gen      uint64 // Index.gen when loading began
	loadedAt time.Time
	byType   map[string][]*compiledWebhook // exact event type
	byObject map[string][]*compiledWebhook // "object.*"
	any      []*compiledWebhook            // "*"
	triggers map[string][]triggerRule      // by event type
	hooks    map[string][]hookRule         // by event type queue.<event>
}

// NewIndex makes an index that loads lazily on first use.
func NewIndex(db *sqlx.DB, log *slog.Logger) *Index {
	if log == nil {
		log = slog.Default()
	}
	return &Index{defs: &store.Definitions{DB: db}, log: log}
}

// Invalidate makes the next Match reload definitions first.
func (ix *Index) Invalidate() { ix.gen.Add(1) }

// reloadEvery bounds how stale the index can be if a notification is lost.
const reloadEvery = 30 * time.Second

func (ix *Index) current(ctx context.Context) (*indexSnapshot, error) {
	if s := ix.snap.Load(); ix.valid(s) {
		return s, nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if s := ix.snap.Load(); ix.valid(s) {
		return s, nil
	}
	// Read the generation before loading: a change committed during the
	// load bumps it, and the next reader reloads again.
	gen := ix.gen.Load()
	fresh, err := ix.load(ctx)
	if err != nil {
		return nil, err
	}
	fresh.gen = gen
	ix.snap.Store(fresh)
	return fresh, nil
}

func (ix *Index) valid(s *indexSnapshot) bool {
	return s != nil && s.gen == ix.gen.Load() && time.Since(s.loadedAt) < reloadEvery
}

func (ix *Index) load(ctx context.Context) (*indexSnapshot, error) {
	s := &indexSnapshot{
		loadedAt: time.Now(),
		byType:   map[string][]*compiledWebhook{},
		byObject: map[string][]*compiledWebhook{},
		triggers: map[string][]triggerRule{},
		hooks:    map[string][]hookRule{},
	}
	defs, err := ix.defs.Matchable(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range defs.Webhooks {
		cw := &compiledWebhook{
			target:     WebhookTarget{ID: w.ID, Code: w.Code, Ordered: w.Ordered},
			conditions: w.Conditions,
			filters:    w.Filters,
		}
		if w.Expression != "" {
			expr, err := domain.CompileExpression(w.Expression)
			if err != nil {
				// Saved expressions were validated; one that no longer
				// compiles matches nothing rather than everything.
				ix.log.Warn("webhook expression does not compile; webhook skipped", "webhook", w.Code, "error", err)
				continue
			}
			cw.expr = expr
		}
		for _, t := range w.EventTypes {
			switch {
			case t == "*":
				s.any = append(s.any, cw)
			case strings.HasSuffix(t, ".*"):
				obj := strings.TrimSuffix(t, ".*")
				s.byObject[obj] = append(s.byObject[obj], cw)
			default:
				s.byType[t] = append(s.byType[t], cw)
			}
		}
	}
	for _, t := range defs.Triggers {
		rule := triggerRule{target: RunTarget{TriggerID: t.ID, FlowID: t.FlowID}, conditions: t.Conditions}
		if t.Expression != "" {
			expr, err := domain.CompileExpression(t.Expression)
			if err != nil {
				// Saved expressions were validated; one that no longer
				// compiles (a newer CEL) matches nothing rather than all.
				ix.log.Warn("trigger expression does not compile; the trigger matches nothing", "trigger", t.ID, "error", err)
				continue
			}
			rule.expr = expr
		}
		typ := domain.EventType(t.Object, t.Event)
		s.triggers[typ] = append(s.triggers[typ], rule)
	}
	for _, h := range defs.QueueHooks {
		typ := domain.EventType("queue", h.Event)
		s.hooks[typ] = append(s.hooks[typ], hookRule{target: RunTarget{QueueHookID: h.ID, QueueID: h.QueueID, FlowID: h.FlowID}, queueID: h.QueueID})
	}
	return s, nil
}

// Match returns, for each event, the webhooks and runs it leads to.
func (ix *Index) Match(ctx context.Context, events []domain.Event) (map[string]Matches, error) {
	s, err := ix.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Matches, len(events))
	for _, ev := range events {
		out[ev.ID] = s.match(ev, ix.log)
	}
	return out, nil
}

func (s *indexSnapshot) match(ev domain.Event, log *slog.Logger) Matches {
	var m Matches
	obj, _, _ := strings.Cut(ev.Type, ".")
	candidates := make([]*compiledWebhook, 0, 4)
	candidates = append(candidates, s.byType[ev.Type]...)
	candidates = append(candidates, s.byObject[obj]...)
	candidates = append(candidates, s.any...)
	triggers := s.triggers[ev.Type]
	hooks := s.hooks[ev.Type]
	if len(candidates) == 0 && len(triggers) == 0 && len(hooks) == 0 {
		return m
	}
	var scope map[string]any
	scopeOf := func() map[string]any {
		if scope == nil {
			var err error
			if scope, err = ev.Scope(); err != nil {
				scope = map[string]any{}
			}
		}
		return scope
	}
	seen := map[string]bool{}
	for _, cw := range candidates {
		if seen[cw.target.ID] {
			continue
		}
		seen[cw.target.ID] = true
		if cw.matches(ev.Type, scopeOf, log) {
			m.Webhooks = append(m.Webhooks, cw.target)
		}
	}
	for _, t := range triggers {
		if len(t.conditions) > 0 && !domain.MatchConditions(t.conditions, scopeOf()) {
			continue
		}
		if t.expr != nil {
			if ok, err := t.expr.Eval(scopeOf()); err != nil || !ok {
				if err != nil {
					log.Debug("trigger expression failed; not matched", "trigger", t.target.TriggerID, "error", err)
				}
				continue
			}
		}
		m.Runs = append(m.Runs, t.target)
	}
	for _, h := range hooks {
		q, ok := domain.Lookup(scopeOf(), "queue_id")
		if ok && valueText(q) == h.queueID {
			m.Runs = append(m.Runs, h.target)
		}
	}
	return m
}

func (cw *compiledWebhook) matches(eventType string, scopeOf func() map[string]any, log *slog.Logger) bool {
	if len(cw.conditions) > 0 && !domain.MatchConditions(cw.conditions, scopeOf()) {
		return false
	}
	for pattern, conds := range cw.filters {
		if domain.MatchEventType(pattern, eventType) && !domain.MatchConditions(conds, scopeOf()) {
			return false
		}
	}
	if cw.expr != nil {
		ok, err := cw.expr.Eval(scopeOf())
		if err != nil {
			log.Debug("webhook expression failed; not matched", "webhook", cw.target.Code, "error", err)
			return false
		}
		return ok
	}
	return true
}

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return strings.Trim(string(b), `"`)
	}
}

// Listen refreshes the index whenever another process announces a change on
// NotifyChannel, until ctx ends. It reconnects on its own.
func (ix *Index) Listen(ctx context.Context, url string) {
	l := pq.NewListener(url, time.Second, time.Minute, func(ev pq.ListenerEventType, err error) {
		if ev == pq.ListenerEventReconnected {
			ix.Invalidate() // notifications may have been missed while away
		}
		if err != nil {
			ix.log.Debug("definition listener", "event", ev, "error", err)
		}
	})
	defer l.Close()
	if err := l.Listen(store.NotifyChannel); err != nil {
		ix.log.Warn("cannot listen for definition changes; relying on periodic reload", "error", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Notify:
			ix.Invalidate()
		case <-time.After(reloadEvery):
			_ = l.Ping()
		}
	}
}
