package domain

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The event-type registry: every catalog type has a description, a JSON
// Schema and an example payload (ipSCAPE's six are the seeds' own payloads),
// and admins add types of their own with the same fields. Examples feed test
// sends, flow test runs and the placeholder picker; schemas may validate
// publishes; aliases map the source systems' own type names (ipSCAPE's
// "outbound.lead.outcome.preview") to catalog types.

// Validation modes: what a publish whose data does not match its type's
// schema gets.
const (
	// ValidationOff does not check (the default).
	ValidationOff = "off"
	// ValidationWarn accepts the event and records the schema error on it.
	ValidationWarn = "warn"
	// ValidationReject refuses the publish with the schema error named.
	ValidationReject = "reject"
)

// Registry limits.
const (
	MaxEventSchemaBytes  = 64 << 10
	MaxEventExampleBytes = 64 << 10
	MaxEventTypeAliases  = 20
	MaxPlaceholderPaths  = 300
)

// EventTypeDef is one event type with what the registry knows of it.
// Object and Event are the two halves of Name ("invoice.paid" → "invoice",
// "paid") that On Event triggers choose.
type EventTypeDef struct {
	Name        string          `json:"name"`
	Object      string          `json:"object"`
	Event       string          `json:"event"`
	Label       string          `json:"label"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
	Aliases     []string        `json:"aliases"`
	Validation  string          `json:"validation"`
	// Custom is true for an admin's own type, false for a catalog type.
	Custom bool `json:"custom"`
}

//go:embed eventtypes_builtin.json
var builtinEventTypesJSON []byte

var (
	builtinDefs    []EventTypeDef
	builtinByName  map[string]int
	builtinAliases map[string]string
)

// initBuiltinEventTypes builds the definitions from the catalog, so it runs
// at the end of the catalog's init.
func initBuiltinEventTypes() {
	var spec struct {
		Objects map[string]struct {
			Noun    string          `json:"noun"`
			Example json.RawMessage `json:"example"`
			Schema  json.RawMessage `json:"schema"`
		} `json:"objects"`
		Types map[string]struct {
			Description string          `json:"description"`
			Example     json.RawMessage `json:"example"`
			Schema      json.RawMessage `json:"schema"`
			Aliases     []string        `json:"aliases"`
		} `json:"types"`
		Descriptions map[string]string `json:"descriptions"`
	}
	if err := json.Unmarshal(builtinEventTypesJSON, &spec); err != nil {
		panic("domain: eventtypes_builtin.json: " + err.Error())
	}
	builtinByName = map[string]int{}
	builtinAliases = map[string]string{}
	for _, obj := range catalogObjects {
		for _, ev := range obj.Events {
			d := EventTypeDef{Name: ev.Type, Object: obj.Name, Event: ev.Name, Label: obj.Label + ": " + ev.Label,
				Validation: ValidationOff, Aliases: []string{}}
			if t, ok := spec.Types[ev.Type]; ok {
				d.Description, d.Example, d.Schema = t.Description, compactJSON(t.Example), compactJSON(t.Schema)
				d.Aliases = append(d.Aliases, t.Aliases...)
			} else if o, ok := spec.Objects[obj.Name]; ok {
				d.Description = "A " + o.Noun + " was " + strings.ReplaceAll(ev.Name, "_", " ") + "."
				d.Example, d.Schema = compactJSON(o.Example), compactJSON(o.Schema)
			}
			if text, ok := spec.Descriptions[ev.Type]; ok {
				d.Description = text
			}
			if d.Example == nil || d.Schema == nil {
				panic("domain: eventtypes_builtin.json has no example or schema for " + ev.Type)
			}
			for _, a := range d.Aliases {
				builtinAliases[a] = d.Name
			}
			builtinByName[d.Name] = len(builtinDefs)
			builtinDefs = append(builtinDefs, d)
		}
	}
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		panic("domain: eventtypes_builtin.json: " + err.Error())
	}
	return buf.Bytes()
}

// BuiltinEventTypes returns the catalog's event types, in catalog order, as
// copies the caller may change.
func BuiltinEventTypes() []EventTypeDef {
	out := make([]EventTypeDef, len(builtinDefs))
	for i, d := range builtinDefs {
		out[i] = d.clone()
	}
	return out
}

// BuiltinEventType returns the catalog's definition of name.
func BuiltinEventType(name string) (EventTypeDef, bool) {
	i, ok := builtinByName[name]
	if !ok {
		return EventTypeDef{}, false
	}
	return builtinDefs[i].clone(), true
}

// BuiltinAliases returns the documented alias table: a source system's type
// name → the catalog type it is stored under.
func BuiltinAliases() map[string]string {
	out := make(map[string]string, len(builtinAliases))
	for k, v := range builtinAliases {
		out[k] = v
	}
	return out
}

func (d EventTypeDef) clone() EventTypeDef {
	d.Aliases = append([]string{}, d.Aliases...)
	d.Schema = append(json.RawMessage(nil), d.Schema...)
	d.Example = append(json.RawMessage(nil), d.Example...)
	return d
}

// SplitEventType splits a type into its object and event: the object is
// everything before the first dot ("invoice.paid" → "invoice", "paid").
func SplitEventType(name string) (object, event string) {
	object, event, _ = strings.Cut(name, ".")
	return object, event
}

// NormalizeEventTypeDef fills an admin's type: object, event and label from
// the name, validation off, no aliases.
func NormalizeEventTypeDef(d *EventTypeDef) {
	d.Name = strings.TrimSpace(d.Name)
	d.Object, d.Event = SplitEventType(d.Name)
	if d.Label == "" {
		d.Label = d.Name
	}
	if d.Validation == "" {
		d.Validation = ValidationOff
	}
	if d.Aliases == nil {
		d.Aliases = []string{}
	}
}

// ValidateEventTypeDef checks an admin's type (custom) or an admin's
// changes to a catalog type (!custom: only aliases and validation may
// change, and the name is the catalog's). taken reports names already used
// as a type or an alias by another type, so aliases stay unambiguous.
func ValidateEventTypeDef(d *EventTypeDef, taken func(name string) bool) error {
	f := FieldErrors{}
	if d.Custom {
		if err := ValidEventTypeName(d.Name); err != nil {
			f.Add("name", err.Error())
		} else if IsCatalogEventType(d.Name) {
			f.Add("name", fmt.Sprintf("%q is a built-in type; change its aliases or validation with PATCH /v1/event-types/%s", d.Name, d.Name))
		} else if target, ok := builtinAliases[d.Name]; ok {
			f.Add("name", fmt.Sprintf("%q is an alias of the built-in type %q", d.Name, target))
		}
	}
	if len(d.Description) > MaxDescriptionLength {
		f.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	}
	var schema *EventSchema
	if len(d.Schema) > 0 {
		var err error
		if schema, err = CompileEventSchema(d.Schema); err != nil {
			f.Add("schema", err.Error())
		}
	}
	if len(d.Example) > 0 {
		switch ex := bytes.TrimSpace(d.Example); {
		case len(ex) > MaxEventExampleBytes:
			f.Add("example", fmt.Sprintf("is %d bytes; the limit is %d", len(ex), MaxEventExampleBytes))
		case len(ex) == 0 || ex[0] != '{' || !json.Valid(ex):
			f.Add("example", "must be a JSON object: the event's data")
		case schema != nil:
			if err := schema.Check(ex); err != nil {
				f.Add("example", "does not match the schema: "+err.Error())
			}
		}
	}
	switch d.Validation {
	case ValidationOff:
	case ValidationWarn, ValidationReject:
		if len(d.Schema) == 0 {
			f.Add("validation", fmt.Sprintf("%q needs a schema to validate against", d.Validation))
		}
	default:
		f.Add("validation", fmt.Sprintf("%q is not a validation mode; use off, warn or reject", truncateForMessage(d.Validation)))
	}
	if len(d.Aliases) > MaxEventTypeAliases {
		f.Add("aliases", fmt.Sprintf("must list at most %d names", MaxEventTypeAliases))
	}
	seen := map[string]bool{}
	for i, a := range d.Aliases {
		path := fmt.Sprintf("aliases[%d]", i)
		switch err := ValidEventTypeName(a); {
		case err != nil:
			f.Add(path, err.Error())
		case a == d.Name || seen[a]:
			f.Add(path, fmt.Sprintf("%q is listed twice (or is the type's own name)", a))
		case IsCatalogEventType(a):
			f.Add(path, fmt.Sprintf("%q is a built-in type; an alias names what a source system sends instead", a))
		case builtinAliases[a] != "" && builtinAliases[a] != d.Name:
			f.Add(path, fmt.Sprintf("%q is already an alias of %q", a, builtinAliases[a]))
		case taken != nil && taken(a):
			f.Add(path, fmt.Sprintf("%q is already a type or an alias of another type", a))
		}
		seen[a] = true
	}
	return f.Err()
}

// EventSchema is a compiled JSON Schema of an event type's data.
type EventSchema struct {
	schema *jsonschema.Schema
}

// noRemoteSchemas refuses every $ref outside the schema itself: a schema
// given over the API must not make the server read files or URLs.
type noRemoteSchemas struct{}

func (noRemoteSchemas) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref to %q: only references inside the schema are allowed", url)
}

// CompileEventSchema compiles a JSON Schema (draft 2020-12 unless $schema
// says otherwise) given as an object.
func CompileEventSchema(raw json.RawMessage) (*EventSchema, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > MaxEventSchemaBytes {
		return nil, fmt.Errorf("is %d bytes; the limit is %d", len(raw), MaxEventSchemaBytes)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("must be a JSON Schema object")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, errors.New("is not valid JSON")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noRemoteSchemas{})
	const url = "mem:///event-type-schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("is not a JSON Schema: %s", oneLine(err.Error()))
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("is not a valid JSON Schema: %s", oneLine(err.Error()))
	}
	return &EventSchema{schema: s}, nil
}

// Check validates an event's data and names where it fails ("at
// '/lead/totalAttempts': got number, want string").
func (s *EventSchema) Check(data json.RawMessage) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return errors.New("is not valid JSON")
	}
	if err := s.schema.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return errors.New(schemaErrorText(ve.Error()))
		}
		return err
	}
	return nil
}

// schemaErrorText drops the library's "validation failed with <url>" header
// and joins the places that failed.
func schemaErrorText(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "-")); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return oneLine(s)
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more", len(out)-5))
	}
	return strings.Join(out, "; ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// PlaceholderPaths lists the template paths an example offers, for the
// placeholder picker: every leaf and array of the data as a dot path
// ("lead.totalAttempts", "lead.phones.1.phone"), sorted, then the event's
// own fields.
func PlaceholderPaths(example json.RawMessage) []string {
	var paths []string
	if len(example) > 0 {
		dec := json.NewDecoder(bytes.NewReader(example))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			collectPaths(v, "", &paths)
		}
	}
	sort.Strings(paths)
	if len(paths) > MaxPlaceholderPaths {
		paths = paths[:MaxPlaceholderPaths]
	}
	return append(paths, "event.id", "event.type", "event.occurred_at", "event.subject", "event.data")
}

func collectPaths(v any, prefix string, out *[]string) {
	if len(*out) > MaxPlaceholderPaths {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		if prefix != "" {
			*out = append(*out, prefix)
		}
		return
	}
	if len(m) == 0 && prefix != "" {
		*out = append(*out, prefix)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		collectPaths(m[k], p, out)
	}
}

// EventTypeRegistry is the registry at one moment: the catalog's types with
// an admin's changes to them, and the admin's own types, with every alias
// and compiled schema. It answers what a published type is stored as and
// whether its data passes.
type EventTypeRegistry struct {
	defs    []EventTypeDef
	byName  map[string]int
	aliases map[string]string
	schemas map[string]*EventSchema
}

// NewEventTypeRegistry merges stored definitions into the catalog: a def
// with Custom false is an admin's change to the catalog type of that name
// (its aliases are added to the built-in ones and its validation replaces
// the default); a Custom def is an admin's own type. Stored schemas were
// validated when saved; one that no longer compiles only loses validation.
func NewEventTypeRegistry(stored []EventTypeDef) *EventTypeRegistry {
	r := &EventTypeRegistry{byName: map[string]int{}, aliases: BuiltinAliases(), schemas: map[string]*EventSchema{}}
	r.defs = BuiltinEventTypes()
	for i, d := range r.defs {
		r.byName[d.Name] = i
	}
	for _, d := range stored {
		if !d.Custom {
			i, ok := r.byName[d.Name]
			if !ok {
				continue // a change to a type a newer release removed
			}
			for _, a := range d.Aliases {
				if !slices.Contains(r.defs[i].Aliases, a) {
					r.defs[i].Aliases = append(r.defs[i].Aliases, a)
				}
			}
			r.defs[i].Validation = d.Validation
		} else {
			if _, dup := r.byName[d.Name]; dup {
				continue
			}
			d = d.clone()
			NormalizeEventTypeDef(&d)
			r.byName[d.Name] = len(r.defs)
			r.defs = append(r.defs, d)
		}
		for _, a := range d.Aliases {
			if _, taken := r.aliases[a]; !taken {
				r.aliases[a] = d.Name
			}
		}
	}
	for _, d := range r.defs {
		if d.Validation != ValidationOff && len(d.Schema) > 0 {
			if s, err := CompileEventSchema(d.Schema); err == nil {
				r.schemas[d.Name] = s
			}
		}
	}
	return r
}

// All returns every type: the catalog's in catalog order, then custom ones.
func (r *EventTypeRegistry) All() []EventTypeDef {
	out := make([]EventTypeDef, len(r.defs))
	for i, d := range r.defs {
		out[i] = d.clone()
	}
	return out
}

// Lookup returns one type by name.
func (r *EventTypeRegistry) Lookup(name string) (EventTypeDef, bool) {
	i, ok := r.byName[name]
	if !ok {
		return EventTypeDef{}, false
	}
	return r.defs[i].clone(), true
}

// Resolve returns the type a published type is stored under: the type an
// alias names, or the type itself. aliased says it was an alias.
func (r *EventTypeRegistry) Resolve(published string) (name string, aliased bool) {
	if target, ok := r.aliases[published]; ok {
		return target, true
	}
	return published, false
}

// Taken reports whether name is a type or an alias other than owner's, so a
// new alias cannot make a published type ambiguous.
func (r *EventTypeRegistry) Taken(name, owner string) bool {
	if _, ok := r.byName[name]; ok && name != owner {
		return true
	}
	target, ok := r.aliases[name]
	return ok && target != owner
}

// Set is the registry as subscriptions see it: the catalog plus the custom
// types.
func (r *EventTypeRegistry) Set() EventTypeSet {
	var custom []string
	for _, d := range r.defs {
		if d.Custom {
			custom = append(custom, d.Name)
		}
	}
	return NewEventTypeSet(custom)
}

// CheckData validates a published event's data against its type's schema
// when the type's validation is warn or reject; it returns the mode and the
// schema error (nil when it passes or is not checked).
func (r *EventTypeRegistry) CheckData(name string, data json.RawMessage) (string, error) {
	s, ok := r.schemas[name]
	if !ok {
		return ValidationOff, nil
	}
	d := r.defs[r.byName[name]]
	return d.Validation, s.Check(data)
}
