package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/triggerflow/triggerflow/domain"
)

// maxFuzzBody caps a fuzzed publish body: large enough for batches and
// nesting past maxJSONDepth, small enough that one iteration stays far below
// a second.
const maxFuzzBody = 64 << 10

// FuzzPublishDecoding feeds raw bodies through what POST /v1/events does
// before publishing (decodeStrict, then publishedEvents/toEvent): it must
// never panic, and must answer either a list of valid events or field errors.
func FuzzPublishDecoding(f *testing.F) {
	for _, seed := range []string{
		`{"id": "evt-1001", "type": "case.created", "data": {"case": {"id": 42, "number": "C-42", "priority": 3}}}`,
		`{"events": [{"id": "a", "type": "case.created"}, {"type": "queue.missed", "data": {"queue_id": "sales"}, "occurred_at": "2026-01-02T15:04:05Z", "subject": "s"}]}`,
		`{"events": []}`,
		`{"events": [{"id": "a", "type": "case.created"}], "id": "b"}`,
		`{"id": "has space", "type": "Case.Created!", "data": [1], "occurred_at": "yesterday"}`,
		`{"type": "x.y", "data": {"a": "\u0000"}, "extra": 1}`,
		`{"type": "x.y", "data": "text"}`,
		`{"type": "x.y", "data": null, "subject": null}`,
		`{"type": "x.y", "data": {"big": 1e999999, "neg": -0.0e-400, "s": "\ud800"}}`,
		`{"type": "x.y"} {"type": "x.y"}`,
		`[{"type": "x.y"}]`,
		`{"type": "x.y", "data": {"a": {"b": {"c": [[[[]]]]}}}}`,
		strings.Repeat("[", 70) + strings.Repeat("]", 70),
		`{"type": "x.y", "id": "` + strings.Repeat("i", 201) + `"}`,
		"{\"type\": \"x.y\", \"data\": {\"s\": \"\xff\"}}",
		`{"type": 5, "events": {"a": 1}}`,
		`{"id":"x","type":"case.created","data":{"k":"v"}}` + "\n",
		`   `,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > maxFuzzBody {
			return
		}
		start := time.Now()
		events, single, err := decodePublish(raw, now)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("decoding %d bytes took %s", len(raw), d)
		}
		if err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("error %T (%v) is not a field error", err, err)
			}
			for path, msg := range ve.Fields {
				if path == "" || msg == "" {
					t.Fatalf("field error with an empty path or message: %q: %q", path, msg)
				}
			}
			if events != nil {
				t.Fatalf("events returned with an error: %v", err)
			}
			return
		}
		if len(events) == 0 || len(events) > MaxEventsPerRequest || (single && len(events) != 1) {
			t.Fatalf("%d events (single=%v) accepted", len(events), single)
		}
		for i, ev := range events {
			checkPublishedEvent(t, i, ev)
		}
	})
}

// decodePublish is the handler's path from raw body to events.
func decodePublish(raw []byte, now time.Time) ([]domain.Event, bool, error) {
	var req publishRequest
	if err := decodeStrict(raw, &req); err != nil {
		return nil, false, err
	}
	return publishedEvents(req, now)
}

func checkPublishedEvent(t *testing.T, i int, ev domain.Event) {
	t.Helper()
	switch {
	case ev.ID == "" || len(ev.ID) > MaxEventIDLength:
		t.Fatalf("event %d: id %q accepted", i, ev.ID)
	case strings.IndexFunc(ev.ID, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		t.Fatalf("event %d: id %q with spaces or control characters accepted", i, ev.ID)
	case domain.ValidEventTypeName(ev.Type) != nil:
		t.Fatalf("event %d: type %q accepted", i, ev.Type)
	case len(ev.Subject) > 500:
		t.Fatalf("event %d: subject of %d bytes accepted", i, len(ev.Subject))
	case ev.OccurredAt.IsZero():
		t.Fatalf("event %d: no occurred_at", i)
	case len(ev.Data) == 0 || ev.Data[0] != '{' || !json.Valid(ev.Data) || !utf8.Valid(ev.Data):
		t.Fatalf("event %d: data %q is not a JSON object", i, ev.Data)
	case len(ev.Data) > MaxEventDataBytes:
		t.Fatalf("event %d: data of %d bytes accepted", i, len(ev.Data))
	case bytes.Contains(ev.Data, []byte(`\u0000`)):
		t.Fatalf("event %d: data with NUL accepted", i)
	}
	// Accepted data is what conditions and templates read: its scope builds.
	if _, err := ev.Scope(); err != nil {
		t.Fatalf("event %d: accepted data has no scope: %v", i, err)
	}
}
