package domain

import (
	"bytes"
	"encoding/json"
	"time"
)

// Event is something that happened in the business system. ID is the
// idempotency key: the same id published twice is one event.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Subject    string          `json:"subject,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// Scope is the variable set that conditions and templates see for an event:
// the event's data fields at the top level, and the event itself under "event".
// Extra entries (a trigger, earlier steps' outputs) are added by callers.
func (e Event) Scope() (map[string]any, error) {
	scope := map[string]any{}
	var data any = map[string]any{}
	if len(e.Data) > 0 && string(e.Data) != "null" {
		// UseNumber keeps large ids exact; conditions compare json.Number as numbers.
		dec := json.NewDecoder(bytes.NewReader(e.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return nil, err
		}
		if m, ok := data.(map[string]any); ok {
			for k, v := range m {
				scope[k] = v
			}
		}
	}
	scope["event"] = map[string]any{
		"id":          e.ID,
		"type":        e.Type,
		"occurred_at": e.OccurredAt.UTC().Format(time.RFC3339Nano),
		"subject":     e.Subject,
		// The whole data, for bodies that embed it: {{ event.data | json }}.
		"data": data,
	}
	return scope, nil
}
