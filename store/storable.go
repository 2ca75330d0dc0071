package store

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// PostgreSQL refuses NUL (0x00) in text and \u0000 in jsonb, and invalid
// UTF-8 in both. What a receiver answers (or a template renders) may hold
// any bytes, and recording it must never fail, so such texts are stored in a
// form PostgreSQL takes, with a flag that says the form changed.

// BodyBase64 is the encoding of a body stored as base64 because its bytes
// were not storable text.
const BodyBase64 = "base64"

// storable reports whether PostgreSQL can store s as text (and, in a JSON
// string, as jsonb).
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// storableBody returns a body as PostgreSQL can store it: the text itself,
// or — when it holds NUL bytes or invalid UTF-8 — its exact bytes in base64,
// with encoding BodyBase64.
func storableBody(body string) (text, encoding string) {
	if storable(body) {
		return body, ""
	}
	return base64.StdEncoding.EncodeToString([]byte(body)), BodyBase64
}

// storableText returns s as PostgreSQL can store it. When s holds NUL bytes
// or invalid UTF-8, those bytes are written as \xNN and backslashes as \\,
// so the stored text still reads naturally and no two inputs look alike;
// escaped says this happened.
func storableText(s string) (text string, escaped bool) {
	if storable(s) {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r == 0:
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&0xf])
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String(), true
}

// storableHeaders returns headers as PostgreSQL can store them (see
// storableText); escaped says a name or value changed.
func storableHeaders(h map[string]string) (map[string]string, bool) {
	clean := true
	for k, v := range h {
		if !storable(k) || !storable(v) {
			clean = false
			break
		}
	}
	if clean {
		return h, false
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		k, _ = storableText(k)
		v, _ = storableText(v)
		out[k] = v
	}
	return out, true
}
