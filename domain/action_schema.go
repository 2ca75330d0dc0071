package domain

import (
	"regexp"
	"sort"
	"strings"
)

// The patterns below are written once and used twice: by ValidateParams (in
// Go's regexp syntax) where a rule is a pattern, and in the JSON Schema that
// GET /v1/actions serves (ECMA-262 syntax, which these patterns also are), so
// a client's JSON Schema validator accepts what the server accepts.
const (
	// templatePattern finds a Liquid placeholder or tag: a text holding one
	// is checked when it is rendered, not before.
	templatePattern = `\{\{|\{%`
	// numberPattern is a number written as text ("5", " -1.5e3 ").
	numberPattern = `^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$`
	// booleanPattern is what strconv.ParseBool reads, around spaces.
	booleanPattern = `^\s*(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)\s*$`
	// durationPattern is a Go duration ("30s", "1h30m", ".5h") without a sign
	// of its own; zeroDurationPattern is one that adds up to nothing.
	durationPattern     = `^\s*\+?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+\s*$`
	zeroDurationPattern = `^\s*\+?((0+(\.0*)?|\.0+)(ns|us|µs|μs|ms|s|m|h))+\s*$`
	// urlPattern is an absolute http(s) URL that names a host, carries no
	// credentials and parses (a port of digits, valid %-escapes in the path);
	// placeholders may stand anywhere after the scheme.
	urlPattern = `^\s*[hH][tT][tT][pP][sS]?://` +
		`(\[[0-9A-Fa-f:.]+(%25[A-Za-z0-9._~-]+)?\]|(` + placeholder + `|[^\x00-\x20\x7f/?#@:{}%\\^|\[\]` + "`" + `]|%[0-9A-Fa-f]{2})+)(:[0-9]*)?` +
		`(/(` + placeholder + `|[^\x00-\x1f\x7f?#%]|%[0-9A-Fa-f]{2})*)?` +
		`(\?[^\x00-\x1f\x7f#]*)?` +
		`(#(` + placeholder + `|[^\x00-\x1f\x7f%]|%[0-9A-Fa-f]{2})*)?\s*$`
	placeholder = `\{\{[^}]*\}\}|\{%[^%]*%\}`
	// emailPattern is an address as mail.ParseAddress reads the common
	// forms: local@domain, optionally "Display Name <local@domain>".
	emailPattern = `^\s*([^<>@,;:\s"]+|"[^"]*")?\s*<?[A-Za-z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*>?\s*$`
	// headerNamePattern is an HTTP header name (an RFC 9110 token).
	headerNamePattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
	// blankPattern is a text with nothing but spaces.
	blankPattern = `^\s*$`
)

var numberText = regexp.MustCompile(numberPattern)

// reservedHeaders are the header names TriggerFlow sets itself (compared
// without regard to case); see reservedHeader.
var reservedHeaders = []string{"webhook-id", "webhook-timestamp", "webhook-signature", "host", "content-length", "transfer-encoding", "connection"}

// JSONSchema renders the action's parameters as a JSON Schema (2020-12)
// object, for clients that build forms or check steps before saving them. It
// accepts what ValidateParams accepts: every parameter may also be a
// template, an optional one may be null, aliases are other names for the same
// parameter, and formats are patterns (JSON Schema's own "duration" and
// "email" formats mean ISO 8601 durations and bare addresses, not "30s" and
// "Ann <ann@example.com>"). What a pattern cannot say — a template's syntax,
// an action's own ranges such as a timeout of 1s–30s — the server still
// checks; the descriptions say so.
func (a ActionSpec) JSONSchema() map[string]any {
	props := map[string]any{}
	var required []any
	var exclusive []any
	for _, p := range a.Params {
		s := paramSchema(p)
		props[p.Name] = s
		names := append([]string{p.Name}, p.Aliases...)
		for _, al := range p.Aliases {
			alias := paramSchema(p)
			alias["description"] = "another name for " + p.Name
			props[al] = alias
		}
		if len(names) > 1 {
			// Giving a parameter under two of its names is refused.
			exclusive = append(exclusive, map[string]any{"not": map[string]any{"required": names}})
		}
		if p.Required && p.Default == nil {
			if len(names) == 1 {
				required = append(required, p.Name)
			} else {
				var oneOfNames []any
				for _, n := range names {
					oneOfNames = append(oneOfNames, map[string]any{"required": []string{n}})
				}
				exclusive = append(exclusive, map[string]any{"anyOf": oneOfNames})
			}
		}
	}
	out := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		sort.Slice(required, func(i, j int) bool { return required[i].(string) < required[j].(string) })
		out["required"] = required
	}
	if len(exclusive) > 0 {
		out["allOf"] = exclusive
	}
	return out
}

// paramSchema is one parameter's schema: the forms its type accepts, each
// also as a template.
func paramSchema(p ParamSpec) map[string]any {
	template := map[string]any{"type": "string", "pattern": templatePattern}
	notTemplate := map[string]any{"not": map[string]any{"pattern": templatePattern}}
	var forms []any
	switch p.Type {
	case ParamString:
		text := map[string]any{"type": "string"}
		switch {
		case len(p.Enum) > 0:
			text["pattern"] = enumPattern(p.Enum)
		case p.Format == FormatURL:
			text["pattern"] = urlPattern
			text["maxLength"] = MaxURLLength
		case p.Format == FormatDuration:
			text = map[string]any{"type": "string", "allOf": []any{
				map[string]any{"pattern": durationPattern},
				map[string]any{"not": map[string]any{"pattern": zeroDurationPattern}},
			}}
		case p.Format == FormatEmail:
			text["pattern"] = emailPattern
		}
		if p.Required {
			text = withAllOf(text, map[string]any{"not": map[string]any{"pattern": blankPattern}})
		}
		if p.Format == FormatURL {
			// A templated URL is checked for its scheme and host too.
			forms = append(forms, text)
		} else {
			forms = append(forms, text, template)
		}
		if p.Format == "" && len(p.Enum) == 0 {
			forms = append(forms, map[string]any{"type": []any{"number", "boolean"}})
		}
	case ParamNumber:
		forms = append(forms, map[string]any{"type": "number"},
			map[string]any{"type": "string", "pattern": numberPattern}, template)
	case ParamBoolean:
		forms = append(forms, map[string]any{"type": "boolean"},
			map[string]any{"type": "string", "pattern": booleanPattern}, template)
	case ParamObject:
		forms = append(forms, map[string]any{"type": "object"}, map[string]any{"type": "string"})
	case ParamArray:
		list := map[string]any{"type": "array"}
		text := map[string]any{"type": "string"}
		if p.Format == FormatEmail {
			list["items"] = map[string]any{"anyOf": []any{
				map[string]any{"not": map[string]any{"type": "string"}},
				template,
				map[string]any{"type": "string", "pattern": emailPattern},
				map[string]any{"type": "string", "pattern": blankPattern},
			}}
			// A comma-separated text: each item an address or nothing.
			item := strings.Trim(emailPattern, "^$")
			text["pattern"] = `^(` + item + `|\s*)(,(` + item + `|\s*))*$`
			forms = append(forms, list, withAllOf(text, notTemplate), template)
		} else {
			forms = append(forms, list, text)
		}
	case ParamStringMap:
		m := map[string]any{
			"type":                 "object",
			"additionalProperties": map[string]any{"type": []any{"string", "number", "boolean", "null"}},
		}
		if p.Format == FormatHeaders {
			m["propertyNames"] = map[string]any{
				"pattern": headerNamePattern,
				"not":     map[string]any{"pattern": enumPattern(reservedHeaders)},
			}
		}
		forms = append(forms, m, map[string]any{"type": "string"})
	case ParamAny:
		// any JSON value
	}
	if len(forms) > 0 && (!p.Required || p.Default != nil) {
		forms = append(forms, map[string]any{"type": "null"})
	}
	s := map[string]any{"description": p.Description}
	if len(forms) > 0 {
		s["anyOf"] = forms
	}
	if len(p.Enum) > 0 {
		s["examples"] = p.Enum
	}
	if p.Default != nil {
		s["default"] = p.Default
	}
	return s
}

// enumPattern matches any of values regardless of case, around spaces, as
// ValidateParams compares them.
func enumPattern(values []string) string {
	alts := make([]string, len(values))
	for i, v := range values {
		var b strings.Builder
		for _, r := range v {
			lo, up := strings.ToLower(string(r)), strings.ToUpper(string(r))
			switch {
			case lo != up:
				b.WriteString("[" + lo + up + "]")
			case strings.ContainsRune(`\^$.|?*+()[]{}/-`, r):
				b.WriteString(`\` + string(r))
			default:
				b.WriteRune(r)
			}
		}
		alts[i] = b.String()
	}
	return `^\s*(` + strings.Join(alts, "|") + `)\s*$`
}

func withAllOf(s map[string]any, extra map[string]any) map[string]any {
	all, _ := s["allOf"].([]any)
	s["allOf"] = append(all, extra)
	return s
}
