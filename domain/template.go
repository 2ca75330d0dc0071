package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/values"
)

// Template limits. Templates are written by API users and rendered by workers
// for every delivery, so size, output and work are all bounded.
const (
	// MaxTemplateSize is the largest template source accepted.
	MaxTemplateSize = 64 << 10
	// MaxTemplateOutput is the largest rendered text (and the largest string any
	// filter, assign or capture may build on the way).
	MaxTemplateOutput = 256 << 10
	// MaxTemplateIterations is how many {% for %} iterations one render may run
	// in total, across all loops.
	MaxTemplateIterations = 100_000
)

// Template errors that Render returns wrapped, so callers can tell a template
// that is too big for its data from one that is broken.
var (
	// ErrTemplateTooLarge means the rendered output (or a string built while
	// rendering) passed MaxTemplateOutput.
	ErrTemplateTooLarge = errors.New("template output exceeds 256 KiB")
	// ErrTemplateTooSlow means a render ran more loop iterations than
	// MaxTemplateIterations or ran past its time budget.
	ErrTemplateTooSlow = errors.New("template exceeded its loop or time budget")
)

// TemplateError is a template that does not parse or render, with the line
// (1-based, 0 when unknown) so an API error can point at it.
type TemplateError struct {
	Line    int
	Message string
	cause   error
}

// Error formats the problem with its line, "line 3: unknown filter …".
func (e *TemplateError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// Unwrap exposes ErrTemplateTooLarge and ErrTemplateTooSlow to errors.Is.
func (e *TemplateError) Unwrap() error { return e.cause }

// Template is a parsed Liquid template with TriggerFlow's conventions:
//
//   - Placeholders are dot paths into the scope, read as Lookup reads them:
//     {{ contact.czCol.15 }} is the key "15" of a map, {{ items.0.id }} the
//     first element of an array. (Plain Liquid rejects numeric segments; they
//     are rewritten to the bracket form before Liquid sees them.)
//   - A missing variable renders as "" rather than failing the delivery.
//   - Objects and arrays render as JSON ({{ lead }} gives {"completed":true,…}),
//     json.Number as its literal text, null as "".
//   - The Liquid tags are if/elsif/else, unless, case/when, for (with limit,
//     offset, reversed, break, continue and forloop), assign, capture, comment
//     and raw, plus the standard filters. {% include %} does not exist: a
//     template can read nothing but its scope.
//   - The expression inside {{ }} cannot span lines (Liquid would print such a
//     placeholder as text); that, and an unclosed {{ or {%, is an error. Use
//     {% raw %} for a literal "{{".
//
// A Template is immutable and safe for concurrent use.
type Template struct {
	src string
	// parts is the plain form, set when the template is only text and simple
	// placeholders: rendering it needs no Liquid machinery at all.
	parts []templatePart
	root  render.Node
	// originals maps rewritten tag sources back to what the user wrote, for
	// error messages.
	originals map[string]string
}

type templatePart struct {
	text string
	path string // placeholder when non-empty
}

// ParseTemplate parses src once for any number of renders. Templates parsed
// lately are kept (they are immutable), so a webhook's or a step's template
// is parsed once, not for every delivery or run.
func ParseTemplate(src string) (*Template, error) {
	if t := parsedTemplates.get(src); t != nil {
		return t, nil
	}
	t, err := parseTemplate(src)
	if err == nil {
		parsedTemplates.put(src, t)
	}
	return t, err
}

// parsedTemplates keeps parsed templates by source, up to
// parsedTemplatesMaxBytes of sources; when full it starts again empty.
var parsedTemplates templateCache

const parsedTemplatesMaxBytes = 8 << 20

type templateCache struct {
	mu    sync.RWMutex
	m     map[string]*Template
	bytes int
}

func (c *templateCache) get(src string) *Template {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[src]
}

func (c *templateCache) put(src string, t *Template) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.bytes+len(src) > parsedTemplatesMaxBytes {
		c.m, c.bytes = map[string]*Template{}, 0
	}
	if _, ok := c.m[src]; !ok {
		c.m[src] = t
		c.bytes += len(src)
	}
}

func parseTemplate(src string) (t *Template, err error) {
	if len(src) > MaxTemplateSize {
		return nil, &TemplateError{Message: fmt.Sprintf("template is %d bytes long; at most %d are allowed", len(src), MaxTemplateSize)}
	}
	defer func() {
		// The Liquid parser panics on a few malformed inputs (an integer literal
		// that overflows, for one); a bad template must be an error, not a crash.
		if r := recover(); r != nil {
			t, err = nil, &TemplateError{Message: fmt.Sprintf("invalid template: %v", r)}
		}
	}()
	prep, perr := preprocessTemplate(src)
	if perr != nil {
		return nil, perr
	}
	t = &Template{src: src, parts: prep.parts}
	if t.parts != nil {
		return t, nil
	}
	t.originals = prep.originals
	root, cerr := liquidConfig().Compile(prep.source, parser.SourceLoc{LineNo: 1})
	if cerr != nil {
		return nil, t.liquidError(cerr)
	}
	t.root = root
	return t, nil
}

// ValidateTemplate reports whether src parses, with the same error ParseTemplate gives.
func ValidateTemplate(src string) error {
	_, err := ParseTemplate(src)
	return err
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Render fills the template from scope (see Event.Scope). Output over
// MaxTemplateOutput fails with ErrTemplateTooLarge; runaway loops fail with
// ErrTemplateTooSlow; Render never panics.
func (t *Template) Render(scope map[string]any) (string, error) {
	return t.RenderEscaped(scope, nil)
}

// RenderEscaped renders like Render and passes the text of every placeholder
// through escape; the template's own text is kept as written. URLs use it so
// that a value cannot add path segments, a query or a fragment. A nil escape
// renders as Render does.
func (t *Template) RenderEscaped(scope map[string]any, escape func(string) string) (string, error) {
	if t.parts != nil {
		return t.renderPlain(scope, escape)
	}
	return t.renderLiquid(scope, escape)
}

func (t *Template) renderPlain(scope map[string]any, escape func(string) string) (string, error) {
	if len(t.parts) == 1 && t.parts[0].path == "" {
		return t.parts[0].text, nil
	}
	w := &limitedBuffer{max: MaxTemplateOutput}
	for _, p := range t.parts {
		if p.path == "" {
			if _, err := w.WriteString(p.text); err != nil {
				return "", t.tooLarge()
			}
			continue
		}
		v, _ := Lookup(scope, p.path)
		if err := writeOutput(w, v, escape); err != nil {
			return "", t.tooLarge()
		}
	}
	return w.String(), nil
}

func (t *Template) tooLarge() error {
	return &TemplateError{Message: ErrTemplateTooLarge.Error(), cause: ErrTemplateTooLarge}
}

func (t *Template) renderLiquid(scope map[string]any, escape func(string) string) (out string, err error) {
	vars := make(map[string]any, len(scope)+1)
	for k, v := range scope {
		vars[k] = toLiquidValue(v)
	}
	guard := newRenderGuard()
	guard.escape = escape
	vars[guardKey] = guard
	w := &limitedBuffer{max: MaxTemplateOutput}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", t.panicError(r)
		}
	}()
	if rerr := render.Render(t.root, w, vars, liquidConfig()); rerr != nil {
		return "", t.liquidError(rerr)
	}
	return w.String(), nil
}

// panicError turns a panic from inside Liquid into an error. Liquid panics on
// writer errors (our output limit) and on a few value comparisons (== between
// two objects).
func (t *Template) panicError(r any) error {
	if err, ok := r.(error); ok {
		if cause := rootCause(err); cause == ErrTemplateTooLarge || cause == ErrTemplateTooSlow {
			return &TemplateError{Message: cause.Error(), cause: cause}
		}
		return &TemplateError{Message: "cannot render: " + rootCause(err).Error()}
	}
	return &TemplateError{Message: fmt.Sprintf("cannot render: %v", r)}
}

var liquidErrorPrefix = regexp.MustCompile(`^Liquid error(?: \(line \d+\))?: `)

// liquidError restates a Liquid error in our terms: the line, the message, and
// the tag as the user wrote it (not as rewritten).
func (t *Template) liquidError(err error) error {
	type located interface{ LineNumber() int }
	line := 0
	if l, ok := err.(located); ok {
		line = l.LineNumber()
	}
	cause := rootCause(err)
	if cause == ErrTemplateTooLarge || cause == ErrTemplateTooSlow {
		return &TemplateError{Line: line, Message: cause.Error(), cause: cause}
	}
	msg := liquidErrorPrefix.ReplaceAllString(err.Error(), "")
	if i := strings.LastIndex(msg, " in {"); i >= 0 {
		ctx := msg[i+len(" in "):]
		if orig, ok := t.originals[ctx]; ok {
			ctx = orig
		}
		msg = msg[:i] + " in " + ctx
	}
	return &TemplateError{Line: line, Message: msg}
}

// limitedBuffer collects output and fails once it would pass max.
type limitedBuffer struct {
	strings.Builder
	max int
}

// Write implements io.Writer.
func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, ErrTemplateTooLarge
	}
	return b.Builder.Write(p)
}

// WriteString implements io.StringWriter.
func (b *limitedBuffer) WriteString(s string) (int, error) {
	if b.Len()+len(s) > b.max {
		return 0, ErrTemplateTooLarge
	}
	return b.Builder.WriteString(s)
}

// writeTemplateValue writes one placeholder's value: text as is, numbers as
// their text, null as nothing, objects and arrays as JSON.
func writeTemplateValue(w io.Writer, v any) error {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		s = x
	case json.Number:
		s = string(x)
	case []byte:
		s = string(x)
	case bool:
		s = strconv.FormatBool(x)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		s = formatFloat(x)
	case map[string]any, []any, tplList:
		s = jsonText(x)
	case values.Range:
		if x.Len() <= 0 {
			return nil
		}
		s = fmt.Sprintf("%v..%v", x.Index(0), x.Index(x.Len()-1))
	default:
		text, kind := scalarText(v)
		if kind == kindComposite {
			text = jsonText(v)
		}
		s = text
	}
	_, err := io.WriteString(w, s)
	return err
}

// writeOutput writes one placeholder's value, escaped when escape is set.
func writeOutput(w io.Writer, v any, escape func(string) string) error {
	if escape == nil {
		return writeTemplateValue(w, v)
	}
	var b strings.Builder
	if err := writeTemplateValue(&b, v); err != nil {
		return err
	}
	_, err := io.WriteString(w, escape(b.String()))
	return err
}

// jsonText renders v as compact JSON without HTML escaping, since the result
// goes into request bodies, not web pages.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// preprocessed is a template source ready for Liquid.
type preprocessed struct {
	source    string         // what Liquid compiles
	parts     []templatePart // set when the plain renderer suffices
	originals map[string]string
}

// simplePath is a placeholder that the plain renderer can serve with Lookup.
var simplePath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$`)

// liquidReserved are words Liquid's lexer reads as literals or operators,
// never as variable names.
var liquidReserved = map[string]bool{"true": true, "false": true, "nil": true, "and": true, "or": true, "contains": true, "in": true}

// preprocessTemplate scans src with Liquid's own scanner and
//   - rejects unclosed or multi-line {{ / {% (Liquid would print them silently),
//     unknown filters and unsupported tags, with line numbers;
//   - rewrites numeric path segments (a.15 → a["15"]) that Liquid cannot parse;
//   - turns {{ x }} into {% _tfout x %} so that values print our way (JSON for
//     objects and arrays) instead of Go's fmt syntax;
//   - and, when the template is only text and simple placeholders, returns the
//     parts for the plain renderer.
func preprocessTemplate(src string) (*preprocessed, *TemplateError) {
	tokens := parser.Scan(src, parser.SourceLoc{LineNo: 1}, nil)
	var out strings.Builder
	out.Grow(len(src) + len(src)/8)
	p := &preprocessed{originals: map[string]string{}}
	plain := true
	var parts []templatePart
	inRaw, inComment := false, false
	for _, tok := range tokens {
		switch tok.Type {
		case parser.TextTokenType:
			if !inRaw && !inComment {
				if err := checkUnclosed(tok); err != nil {
					return nil, err
				}
			}
			out.WriteString(tok.Source)
			parts = append(parts, templatePart{text: tok.Source})
		case parser.ObjTokenType:
			if inRaw || inComment {
				out.WriteString(tok.Source)
				continue
			}
			expr, filters := rewriteExpression(tok.Args)
			if err := checkFilters(filters, tok); err != nil {
				return nil, err
			}
			trimLeft := len(tok.Source) > 2 && tok.Source[2] == '-'
			trimRight := len(tok.Source) > 3 && tok.Source[len(tok.Source)-3] == '-'
			args := strings.TrimSpace(tok.Args)
			if plain && !trimLeft && !trimRight && isSimplePath(args) {
				parts = append(parts, templatePart{path: args})
			} else {
				plain = false
			}
			if strings.Contains(expr, "%}") {
				// Cannot become a tag; Liquid's own output node prints it.
				out.WriteString(strings.Replace(tok.Source, tok.Args, expr, 1))
				continue
			}
			var tag strings.Builder
			tag.WriteString("{%")
			if trimLeft {
				tag.WriteByte('-')
			}
			tag.WriteString(" _tfout ")
			tag.WriteString(expr)
			tag.WriteByte(' ')
			if trimRight {
				tag.WriteByte('-')
			}
			tag.WriteString("%}")
			p.originals[tag.String()] = tok.Source
			out.WriteString(tag.String())
		case parser.TagTokenType:
			plain = false
			switch {
			case inRaw:
				if tok.Name == "endraw" {
					inRaw = false
				}
				out.WriteString(tok.Source)
				continue
			case inComment:
				if tok.Name == "endcomment" {
					inComment = false
				}
				out.WriteString(tok.Source)
				continue
			case tok.Name == "raw":
				inRaw = true
			case tok.Name == "comment":
				inComment = true
			}
			if msg, bad := unsupportedTags[tok.Name]; bad {
				return nil, &TemplateError{Line: tok.SourceLoc.LineNo, Message: fmt.Sprintf("tag %q is not supported: %s", tok.Name, msg)}
			}
			if tok.Args == "" {
				out.WriteString(tok.Source)
				continue
			}
			expr, filters := rewriteExpression(tok.Args)
			if err := checkFilters(filters, tok); err != nil {
				return nil, err
			}
			if expr == tok.Args {
				out.WriteString(tok.Source)
				continue
			}
			rewritten := strings.Replace(tok.Source, tok.Args, expr, 1)
			p.originals[rewritten] = tok.Source
			out.WriteString(rewritten)
		default:
			// Trim markers carry no source of their own; the "-" is inside the
			// neighbouring tag's source.
			plain = false
		}
	}
	p.source = out.String()
	if plain {
		if len(parts) == 0 {
			parts = []templatePart{{}}
		}
		p.parts = mergeTextParts(parts)
	}
	return p, nil
}

func mergeTextParts(parts []templatePart) []templatePart {
	merged := parts[:0:0]
	for _, part := range parts {
		if n := len(merged); n > 0 && part.path == "" && merged[n-1].path == "" {
			merged[n-1].text += part.text
			continue
		}
		merged = append(merged, part)
	}
	return merged
}

var unsupportedTags = map[string]string{
	"include":   "templates cannot read files",
	"render":    "templates cannot read files",
	"tablerow":  "it builds HTML tables; use for",
	"cycle":     "use forloop.index with a modulo filter",
	"increment": "use assign",
	"decrement": "use assign",
}

func isSimplePath(args string) bool {
	if !simplePath.MatchString(args) {
		return false
	}
	if first, _, _ := strings.Cut(args, "."); liquidReserved[first] {
		return false
	}
	for _, seg := range strings.Split(args, ".") {
		// Liquid gives these names a meaning of its own on arrays and strings.
		if seg == "size" || seg == "first" || seg == "last" {
			return false
		}
	}
	return true
}

// checkUnclosed reports a "{{" or "{%" that Liquid's scanner left as text,
// which happens when the closing delimiter is missing or on another line.
func checkUnclosed(tok parser.Token) *TemplateError {
	s := tok.Source
	i := strings.Index(s, "{{")
	j := strings.Index(s, "{%")
	if i < 0 || (j >= 0 && j < i) {
		i = j
	}
	if i < 0 {
		return nil
	}
	line := tok.SourceLoc.LineNo + strings.Count(s[:i], "\n")
	open := s[i : i+2]
	closer := "}}"
	if open == "{%" {
		closer = "%}"
	}
	return &TemplateError{Line: line, Message: fmt.Sprintf("%q is not closed by %q on the same line (write {%% raw %%}%s{%% endraw %%} for a literal %s)", open, closer, open, open)}
}

func checkFilters(names []string, tok parser.Token) *TemplateError {
	for _, name := range names {
		if !knownFilter(name) {
			return &TemplateError{Line: tok.SourceLoc.LineNo, Message: fmt.Sprintf("unknown filter %q in %s", name, tok.Source)}
		}
	}
	return nil
}

// rewriteExpression rewrites the path segments Liquid cannot parse — numeric
// ones, and ones starting with "-" — to bracket form (contact.czCol.15 →
// contact.czCol["15"], items.0.id → items["0"].id) and returns the filter
// names it saw. String literals, numbers (1.5) and ranges (1..3) are left
// alone.
func rewriteExpression(s string) (string, []string) {
	var b strings.Builder
	var filters []string
	changed := false
	afterPath := false // the previous token was a name, a property or a ']'
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			end := len(s)
			if j >= 0 {
				end = i + 1 + j + 1
			}
			b.WriteString(s[i:end])
			i = end
			afterPath = false
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isPathChar(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '?' {
				j++
			}
			b.WriteString(s[i:j])
			i = j
			afterPath = true
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j+1 < len(s) && s[j] == '.' && s[j+1] >= '0' && s[j+1] <= '9' {
				j++
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
			}
			b.WriteString(s[i:j])
			i = j
			afterPath = false
		case c == '.' && afterPath && i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '-'):
			// A segment Liquid cannot read as a property: digits, or a leading "-".
			j := i + 1
			for j < len(s) && isPathChar(s[j]) {
				j++
			}
			b.WriteString(`["`)
			b.WriteString(s[i+1 : j])
			b.WriteString(`"]`)
			changed = true
			i = j
		case c == '.' && afterPath && i+1 < len(s) && isIdentStart(s[i+1]):
			j := i + 1
			for j < len(s) && isPathChar(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '?' {
				j++
			}
			b.WriteString(s[i:j])
			i = j
		case c == ']':
			b.WriteByte(c)
			i++
			afterPath = true
		case c == '|':
			b.WriteByte(c)
			i++
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				b.WriteByte(s[i])
				i++
			}
			if i < len(s) && isIdentStart(s[i]) {
				j := i + 1
				for j < len(s) && (isPathChar(s[j]) && s[j] != '-') {
					j++
				}
				filters = append(filters, s[i:j])
				b.WriteString(s[i:j])
				i = j
			}
			afterPath = false
		default:
			b.WriteByte(c)
			i++
			afterPath = false
		}
	}
	if !changed {
		return s, filters
	}
	return b.String(), filters
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

var (
	liquidConfigOnce sync.Once
	liquidCfg        render.Config
)

// liquidConfig is the one Liquid configuration: our tags, the standard filters
// wrapped with size limits, nothing that touches files.
func liquidConfig() render.Config {
	liquidConfigOnce.Do(func() { liquidCfg = newLiquidConfig() })
	return liquidCfg
}
