package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// The event-type registry's routes, and what publishing asks of it: the type
// an alias names, and whether data passes its type's schema.

// registryMaxAge is how long a loaded registry serves publishes before it is
// read again: a change made through another API process shows within it;
// one made through this process shows at once.
const registryMaxAge = time.Second

// eventTypeRegistry caches the registry for the publish path.
type eventTypeRegistry struct {
	store *store.EventTypes

	mu       sync.Mutex
	reg      *domain.EventTypeRegistry
	loadedAt time.Time
}

// current returns the registry, reading it again when older than
// registryMaxAge. When the database cannot be read it keeps the last one (or
// the catalog alone): a publish is never refused because the registry could
// not be refreshed.
func (r *eventTypeRegistry) current(ctx context.Context) (*domain.EventTypeRegistry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reg != nil && time.Since(r.loadedAt) < registryMaxAge {
		return r.reg, nil
	}
	rows, err := r.store.List(ctx)
	if err != nil {
		if r.reg == nil {
			return domain.NewEventTypeRegistry(nil), err
		}
		return r.reg, err
	}
	defs := make([]domain.EventTypeDef, len(rows))
	for i, row := range rows {
		defs[i] = row.EventTypeDef
	}
	r.reg, r.loadedAt = domain.NewEventTypeRegistry(defs), time.Now()
	return r.reg, nil
}

// invalidate makes the next use read the registry again.
func (r *eventTypeRegistry) invalidate() {
	r.mu.Lock()
	r.reg = nil
	r.mu.Unlock()
}

// registry returns the current registry for a definition check or a read;
// these, unlike publishing, fail when the database cannot be read.
func (s *Server) registry(ctx context.Context) (*domain.EventTypeRegistry, error) {
	return s.eventTypes.current(ctx)
}

// eventTypeResponse is one event type.
type eventTypeResponse struct {
	Name        string          `json:"name"`
	Object      string          `json:"object"`
	Event       string          `json:"event"`
	Label       string          `json:"label"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
	Custom      bool            `json:"custom"`
	Aliases     []string        `json:"aliases"`
	Validation  string          `json:"validation"`
	// Placeholders are the template paths the example offers
	// ("lead.totalAttempts", "event.id"), for the placeholder picker.
	Placeholders []string `json:"placeholders"`
}

func toEventTypeResponse(d domain.EventTypeDef) eventTypeResponse {
	r := eventTypeResponse{Name: d.Name, Object: d.Object, Event: d.Event, Label: d.Label, Description: d.Description,
		Schema: d.Schema, Example: d.Example, Custom: d.Custom, Aliases: d.Aliases, Validation: d.Validation,
		Placeholders: domain.PlaceholderPaths(d.Example)}
	if r.Schema == nil {
		r.Schema = json.RawMessage("null")
	}
	if r.Example == nil {
		r.Example = json.RawMessage("null")
	}
	if r.Aliases == nil {
		r.Aliases = []string{}
	}
	return r
}

func (s *Server) listEventTypes(c *gin.Context) {
	p, err := pageFrom(c)
	if err != nil {
		abortWithError(c, err)
		return
	}
	reg, err := s.registry(c.Request.Context())
	if err != nil {
		abortWithError(c, err)
		return
	}
	custom, q := c.Query("custom"), strings.ToLower(c.Query("q"))
	if custom != "" && custom != "true" && custom != "false" {
		abortWithError(c, domain.Invalid("custom", "must be true or false"))
		return
	}
	var all []domain.EventTypeDef
	for _, d := range reg.All() {
		if (custom == "true" && !d.Custom) || (custom == "false" && d.Custom) {
			continue
		}
		if q != "" && !strings.Contains(d.Name, q) && !strings.Contains(strings.ToLower(d.Label), q) {
			continue
		}
		all = append(all, d)
	}
	start := min((p.Number-1)*p.PerPage, len(all))
	end := min(start+p.PerPage, len(all))
	respondList(c, p, domain.List[domain.EventTypeDef]{Items: all[start:end], Total: len(all)}, toEventTypeResponse)
}

func (s *Server) getEventType(c *gin.Context) {
	reg, err := s.registry(c.Request.Context())
	if err != nil {
		abortWithError(c, err)
		return
	}
	d, ok := reg.Lookup(c.Param("name"))
	if !ok {
		abortWithError(c, fmt.Errorf("event type %s: %w", c.Param("name"), domain.ErrNotFound))
		return
	}
	c.JSON(http.StatusOK, toEventTypeResponse(d))
}

// eventTypeRequest is the body of POST and PATCH /v1/event-types.
type eventTypeRequest struct {
	Name        opt[string]          `json:"name"`
	Description opt[string]          `json:"description"`
	Schema      opt[json.RawMessage] `json:"schema"`
	Example     opt[json.RawMessage] `json:"example"`
	Aliases     opt[[]string]        `json:"aliases"`
	Validation  opt[string]          `json:"validation"`
}

func (s *Server) createEventType(c *gin.Context) {
	var req eventTypeRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	if !req.Name.Set || req.Name.V == "" {
		abortWithError(c, domain.Invalid("name", `is required, e.g. "invoice.paid"`))
		return
	}
	d := domain.EventTypeDef{Name: req.Name.V, Custom: true}
	req.applyTo(&d)
	s.saveEventType(c, d, true, http.StatusCreated)
}

func (s *Server) patchEventType(c *gin.Context) {
	var req eventTypeRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	name := c.Param("name")
	if req.Name.Set && req.Name.V != name {
		abortWithError(c, domain.Invalid("name", "cannot be changed; create a new type (and make the old name its alias)"))
		return
	}
	reg, err := s.registry(c.Request.Context())
	if err != nil {
		abortWithError(c, err)
		return
	}
	d, ok := reg.Lookup(name)
	if !ok {
		abortWithError(c, fmt.Errorf("event type %s: %w", name, domain.ErrNotFound))
		return
	}
	if !d.Custom {
		// A catalog type's description, schema and example belong to the
		// release; an admin sets how publishes are checked and which
		// source names it answers to.
		fields := domain.FieldErrors{}
		for path, set := range map[string]bool{"description": req.Description.Set, "schema": req.Schema.Set, "example": req.Example.Set} {
			if set {
				fields.Add(path, "is fixed for built-in types; only aliases and validation can be changed")
			}
		}
		if err := fields.Err(); err != nil {
			abortWithError(c, err)
			return
		}
		builtin, _ := domain.BuiltinEventType(name)
		// Only the admin's own aliases are stored; the documented ones
		// always apply.
		var own []string
		for _, a := range d.Aliases {
			if !contains(builtin.Aliases, a) {
				own = append(own, a)
			}
		}
		d.Aliases = own
	}
	req.applyTo(&d)
	s.saveEventType(c, d, false, http.StatusOK)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// applyTo copies the fields given; null resets one.
func (req eventTypeRequest) applyTo(d *domain.EventTypeDef) {
	if req.Description.Set {
		d.Description = req.Description.V
	}
	if req.Schema.Set {
		d.Schema = nil
		if !req.Schema.Null {
			d.Schema = req.Schema.V
		}
	}
	if req.Example.Set {
		d.Example = nil
		if !req.Example.Null {
			d.Example = req.Example.V
		}
	}
	if req.Aliases.Set {
		d.Aliases = req.Aliases.V
	}
	if req.Validation.Set {
		d.Validation = req.Validation.V
		if req.Validation.Null {
			d.Validation = domain.ValidationOff
		}
	}
}

// saveEventType validates and stores a custom type (create or update) or an
// admin's change to a catalog type, and answers with the type as the
// registry now sees it.
func (s *Server) saveEventType(c *gin.Context, d domain.EventTypeDef, create bool, status int) {
	ctx := c.Request.Context()
	reg, err := s.registry(ctx)
	if err != nil {
		abortWithError(c, err)
		return
	}
	if d.Custom {
		domain.NormalizeEventTypeDef(&d)
	} else if d.Validation == "" {
		d.Validation = domain.ValidationOff
	}
	if d.Aliases == nil {
		d.Aliases = []string{}
	}
	if create && reg.Taken(d.Name, "") {
		abortWithError(c, fmt.Errorf("event type %q is already a type or an alias: %w", d.Name, domain.ErrConflict))
		return
	}
	if err := domain.ValidateEventTypeDef(&d, func(a string) bool { return reg.Taken(a, d.Name) }); err != nil {
		abortWithError(c, err)
		return
	}
	if create && reg.Set().Has(d.Name) {
		abortWithError(c, fmt.Errorf("event type %s: %w", d.Name, domain.ErrConflict))
		return
	}
	row := store.StoredEventType{EventTypeDef: d, Builtin: !d.Custom}
	if !d.Custom {
		row.Description, row.Schema, row.Example = "", nil, nil
	}
	if err := s.eventTypeStore.Save(ctx, row, create); err != nil {
		abortWithError(c, err)
		return
	}
	s.eventTypes.invalidate()
	reg, err = s.registry(ctx)
	if err != nil {
		abortWithError(c, err)
		return
	}
	saved, _ := reg.Lookup(d.Name)
	c.JSON(status, toEventTypeResponse(saved))
}

func (s *Server) deleteEventType(c *gin.Context) {
	ctx := c.Request.Context()
	name := c.Param("name")
	if domain.IsCatalogEventType(name) {
		abortWithError(c, fmt.Errorf("%q is a built-in type and cannot be deleted (PATCH resets its aliases and validation): %w", name, domain.ErrConflict))
		return
	}
	who, err := s.eventTypeStore.Subscribers(ctx, name)
	if err != nil {
		abortWithError(c, err)
		return
	}
	if len(who) > 0 {
		abortWithError(c, fmt.Errorf("event type %s is subscribed to by %s; change or delete them first: %w",
			name, strings.Join(who, ", "), domain.ErrConflict))
		return
	}
	if err := s.eventTypeStore.Delete(ctx, name); err != nil {
		abortWithError(c, err)
		return
	}
	s.eventTypes.invalidate()
	c.Status(http.StatusNoContent)
}

// publishedData is the data of a published event: "data", or "payload" as
// ipSCAPE sends it ({"type", "payload"}); both at once is a field error.
func publishedData(r eventRequest, f domain.FieldErrors) json.RawMessage {
	hasData, hasPayload := len(bytes.TrimSpace(r.Data)) > 0, len(bytes.TrimSpace(r.Payload)) > 0
	switch {
	case hasData && hasPayload:
		f.Add("payload", `is another name for "data"; send one of them`)
		return r.Data
	case hasPayload:
		return r.Payload
	}
	return r.Data
}

// resolveEventTypes runs on published events before they are made durable:
// an alias becomes the type it names (the type as sent is noted on the
// event), and data is checked against the schema of a type whose validation
// is warn (noted) or reject (refused with the schema error, nothing stored).
// The notes are stored before the publish, so no crash after the 202 loses
// them.
func (s *Server) resolveEventTypes(c *gin.Context, events []domain.Event, single bool) error {
	ctx := c.Request.Context()
	reg, err := s.eventTypes.current(ctx)
	if err != nil {
		loggerFrom(c).Warn("event-type registry not refreshed; using the last one", "error", err)
	}
	fields := domain.FieldErrors{}
	var notes []store.EventNote
	for i := range events {
		ev := &events[i]
		prefix := fmt.Sprintf("events[%d].", i)
		if single {
			prefix = ""
		}
		var note store.EventNote
		if name, aliased := reg.Resolve(ev.Type); aliased {
			note.SourceType, ev.Type = ev.Type, name
		}
		mode, schemaErr := reg.CheckData(ev.Type, ev.Data)
		if schemaErr != nil {
			msg := fmt.Sprintf("does not match the schema of %s: %v", ev.Type, schemaErr)
			switch mode {
			case domain.ValidationReject:
				fields.Add(prefix+"data", msg)
			case domain.ValidationWarn:
				note.Warnings = append(note.Warnings, "data "+msg)
			}
		}
		if note.SourceType != "" || len(note.Warnings) > 0 {
			note.EventID = ev.ID
			notes = append(notes, note)
		}
	}
	if err := fields.Err(); err != nil {
		return err
	}
	return s.eventTypeStore.SaveNotes(ctx, notes)
}

// eventNotes adds what publishing noted to an event read.
func (s *Server) eventNotes(ctx context.Context, resp *eventResponse) error {
	note, ok, err := s.eventTypeStore.Note(ctx, resp.ID)
	if err != nil || !ok {
		return err
	}
	resp.SourceType, resp.Warnings = note.SourceType, append([]string{}, note.Warnings...)
	return nil
}

// exampleData returns the example payload of a type (an alias's target
// counts), or nil when the registry has none.
func (s *Server) exampleData(ctx context.Context, eventType string) json.RawMessage {
	reg, _ := s.eventTypes.current(ctx)
	name, _ := reg.Resolve(eventType)
	if d, ok := reg.Lookup(name); ok && len(d.Example) > 0 {
		return d.Example
	}
	return nil
}
