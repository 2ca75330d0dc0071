package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
)

var (
	durationType = reflect.TypeOf(domain.Duration(0))
	timeType     = reflect.TypeOf(rfc3339Time{})
)

// rfc3339Time is a time field whose parse errors name the field.
type rfc3339Time struct{ time.Time }

func (t *rfc3339Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return &json.UnmarshalTypeError{Value: string(b), Type: timeType}
}

// maxJSONDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxJSONDepth = 64

// bindJSON decodes the body into v strictly: invalid JSON, unknown fields,
// wrong types, too deep nesting and invalid UTF-8 become field errors, and an
// oversized body becomes a 413.
func bindJSON(c *gin.Context, v any) error {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: the limit is %d bytes", errTooLarge, mbe.Limit)
		}
		return domain.Invalid("body", "could not be read: "+err.Error())
	}
	return decodeStrict(raw, v)
}

func decodeStrict(raw []byte, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return domain.Invalid("body", "is empty; a JSON object is required")
	}
	if !utf8.Valid(raw) {
		return domain.Invalid("body", "is not valid UTF-8")
	}
	if depth := jsonDepth(raw); depth > maxJSONDepth {
		return domain.Invalid("body", fmt.Sprintf("nests %d levels deep; the limit is %d", depth, maxJSONDepth))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonFieldError(err)
	}
	if dec.More() {
		return domain.Invalid("body", "has data after the JSON value")
	}
	if path, ok := nulField(reflect.ValueOf(v), ""); ok {
		return domain.Invalid(jsonPath(path), "must not contain NUL characters (\\u0000)")
	}
	return nil
}

// jsonFieldError names the field a decoding error is about.
func jsonFieldError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		path := jsonPath(typeErr.Field)
		switch typeErr.Type {
		case durationType:
			return domain.Invalid(path, fmt.Sprintf("must be a duration such as \"30s\" or \"10m\", not %s", typeErr.Value))
		case timeType:
			return domain.Invalid(path, fmt.Sprintf("must be an RFC 3339 time such as \"2026-01-02T15:04:05Z\", not %s", typeErr.Value))
		}
		return domain.Invalid(path, fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value))
	case errors.As(err, &syntaxErr):
		return domain.Invalid("body", fmt.Sprintf("is not valid JSON: %s (at byte %d)", syntaxErr.Error(), syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Invalid("body", "is not valid JSON: it ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if field == "" {
			return domain.Invalid("body", `has a field with an empty name ("")`)
		}
		return domain.Invalid(field, "is not a known field")
	default:
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			return ve
		}
		return domain.Invalid("body", "is not valid: "+err.Error())
	}
}

// jsonPath is the decoder's field path, or "body" for the whole value.
func jsonPath(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	default:
		return k
	}
}

// jsonDepth measures the maximum nesting of raw without decoding it.
func jsonDepth(raw []byte) int {
	depth, maxDepth := 0, 0
	inString, escaped := false, false
	for _, b := range raw {
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				maxDepth = depth
			}
		case '}', ']':
			depth--
		}
	}
	return maxDepth
}
