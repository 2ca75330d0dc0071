package domain

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors. Callers wrap them with %w; the API layer maps each to one
// HTTP status in a single place.
var (
	// ErrNotFound means the named thing does not exist (or is not visible).
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request collides with existing state, e.g. a duplicate code.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the input is malformed; a *ValidationError carries the fields.
	ErrInvalid = errors.New("invalid input")
	// ErrUnprocessable means the input is well formed but refused in the
	// current state, e.g. retrying a delivery that is still pending.
	ErrUnprocessable = errors.New("unprocessable")
	// ErrUnavailable means a dependency (PostgreSQL, Temporal) cannot be reached now;
	// the caller may retry later.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// FieldErrors maps a JSON path ("url", "conditions[0].operator") to what is
// wrong with it.
type FieldErrors map[string]string

// Add records a problem for path, keeping the first message given for a path.
func (f FieldErrors) Add(path, msg string) {
	if _, ok := f[path]; !ok {
		f[path] = msg
	}
}

// Merge copies other's entries into f, prefixing each path with prefix
// (joined with "." unless other's path starts with "[").
func (f FieldErrors) Merge(prefix string, other FieldErrors) {
	for p, m := range other {
		f.Add(JoinPath(prefix, p), m)
	}
}

// Err returns a *ValidationError when f has entries and nil otherwise.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// JoinPath joins JSON path segments: JoinPath("steps[0]", "params") is
// "steps[0].params"; an empty side yields the other.
func JoinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	default:
		return prefix + "." + path
	}
}

// ValidationError is bad input described field by field. It matches ErrInvalid
// with errors.Is.
type ValidationError struct {
	Fields FieldErrors
}

// Invalid returns a ValidationError for one field.
func Invalid(path, msg string) error {
	return &ValidationError{Fields: FieldErrors{path: msg}}
}

func (e *ValidationError) Error() string {
	paths := make([]string, 0, len(e.Fields))
	for p := range e.Fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	parts := make([]string, 0, len(paths))
	for _, p := range paths {
		parts = append(parts, fmt.Sprintf("%s: %s", p, e.Fields[p]))
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true for validation errors.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }
