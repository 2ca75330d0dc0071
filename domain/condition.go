package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Condition operators. They are the ipSCAPE set (=, >, <, >=, <=, in) plus
// the negations and presence tests users ask for once they have the first set.
const (
	OpEqual        = "="
	OpNotEqual     = "!="
	OpGreater      = ">"
	OpLess         = "<"
	OpGreaterEqual = ">="
	OpLessEqual    = "<="
	OpIn           = "in"
	OpNotIn        = "not_in"
	OpExists       = "exists"
	OpContains     = "contains"
)

// Limits on conditions. They keep one definition cheap to evaluate on every
// published event and keep error messages about it readable.
const (
	MaxConditions            = 50
	MaxReferenceLength       = 256
	MaxConditionValueLength  = 4096
	conditionOperatorsString = "=, !=, >, <, >=, <=, in, not_in, exists, contains"
)

// ConditionOperators lists the operators in the order a UI should offer them.
func ConditionOperators() []string {
	return []string{OpEqual, OpNotEqual, OpGreater, OpLess, OpGreaterEqual, OpLessEqual,
		OpIn, OpNotIn, OpExists, OpContains}
}

// Condition is one filter on an event: the value found at Reference (a dot
// path into the scope, e.g. "lead.totalAttempts") compared with Value by
// Operator. Value is always text, as ipSCAPE sends it; numbers compare as
// numbers whenever both sides read as numbers.
type Condition struct {
	Reference string `json:"reference"`
	Operator  string `json:"operator"`
	Value     string `json:"value"`
}

// rawCondition is Condition with the value left undecoded, so UnmarshalJSON can
// accept the JSON types users actually send without recursing into itself.
type rawCondition struct {
	Reference string          `json:"reference"`
	Operator  string          `json:"operator"`
	Value     json.RawMessage `json:"value"`
}

// UnmarshalJSON accepts the value as a JSON string, number, boolean or null:
// ipSCAPE sends "3" but people writing JSON by hand send 3 and true, and
// refusing those would be pedantry. Numbers keep their literal text (3.50 stays
// "3.50"); null becomes "".
func (c *Condition) UnmarshalJSON(b []byte) error {
	var raw rawCondition
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	v, err := conditionValueText(raw.Value)
	if err != nil {
		return err
	}
	*c = Condition{Reference: raw.Reference, Operator: raw.Operator, Value: v}
	return nil
}

func conditionValueText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case '{', '[':
		return "", errors.New(`condition value must be a string, number or boolean (for "in", separate items with commas: "215, 223")`)
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
}

// ValidateConditions checks a condition list and reports every problem, keyed
// by paths relative to the list ("[0].operator"); the caller prefixes them with
// the field name via FieldErrors.Merge.
func ValidateConditions(conds []Condition) FieldErrors {
	errs := FieldErrors{}
	if len(conds) > MaxConditions {
		errs.Add("", fmt.Sprintf("has %d conditions; at most %d are allowed", len(conds), MaxConditions))
		return errs
	}
	for i, c := range conds {
		p := fmt.Sprintf("[%d]", i)
		if msg := referenceProblem(c.Reference); msg != "" {
			errs.Add(p+".reference", msg)
		}
		switch c.Operator {
		case "":
			errs.Add(p+".operator", "is required; use one of "+conditionOperatorsString)
			continue
		case OpEqual, OpNotEqual:
			// An empty value is meaningful here: "is empty or null".
		case OpExists:
			switch strings.ToLower(strings.TrimSpace(c.Value)) {
			case "", "true", "false":
			default:
				errs.Add(p+".value", fmt.Sprintf("must be empty, \"true\" or \"false\" for operator %q", c.Operator))
			}
		case OpGreater, OpLess, OpGreaterEqual, OpLessEqual, OpContains:
			if c.Value == "" {
				errs.Add(p+".value", fmt.Sprintf("is required for operator %q", c.Operator))
			}
		case OpIn, OpNotIn:
			if !hasListItem(c.Value) {
				errs.Add(p+".value", fmt.Sprintf("is required for operator %q: a comma-separated list such as \"215, 223\"", c.Operator))
			}
		default:
			errs.Add(p+".operator", fmt.Sprintf("unknown operator %q; use one of %s", truncateForMessage(c.Operator), conditionOperatorsString))
		}
		if len(c.Value) > MaxConditionValueLength {
			errs.Add(p+".value", fmt.Sprintf("is %d characters long; at most %d are allowed", len(c.Value), MaxConditionValueLength))
		}
	}
	return errs
}

// ValidReference reports whether ref is a well-formed dot path, the syntax
// conditions, templates and flows all use to point into an event.
func ValidReference(ref string) error {
	if msg := referenceProblem(ref); msg != "" {
		return errors.New(msg)
	}
	return nil
}

func referenceProblem(ref string) string {
	switch {
	case ref == "":
		return "is required"
	case len(ref) > MaxReferenceLength:
		return fmt.Sprintf("is %d characters long; at most %d are allowed", len(ref), MaxReferenceLength)
	}
	segStart := 0
	for i := 0; i <= len(ref); i++ {
		if i == len(ref) || ref[i] == '.' {
			if i == segStart {
				return fmt.Sprintf("%q has an empty path segment; write a dot path such as lead.totalAttempts or contact.czCol.15", ref)
			}
			segStart = i + 1
			continue
		}
		if !isPathChar(ref[i]) {
			return fmt.Sprintf("%q contains %q; path segments may use only letters, digits, \"_\" and \"-\", separated by dots", ref, rune(ref[i]))
		}
	}
	return ""
}

func isPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func truncateForMessage(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// MatchConditions reports whether every condition holds for scope; an empty
// list always matches. It never panics, whatever the scope holds, because it
// runs on untrusted event payloads.
func MatchConditions(conds []Condition, scope map[string]any) bool {
	for i := range conds {
		if !conds[i].Match(scope) {
			return false
		}
	}
	return true
}

// Match reports whether c holds for scope.
//
// A reference that leads nowhere makes every operator false except three:
// "!=" and "not_in" are true (a missing field is not equal to anything), and
// "exists" with value "false" is true. A present null is a value for "=" (it
// equals "" and "null") but does not "exist". An unknown operator never matches,
// so a definition that slipped past validation fails closed.
func (c *Condition) Match(scope map[string]any) bool {
	v, found := Lookup(scope, c.Reference)
	switch c.Operator {
	case OpExists:
		want := !strings.EqualFold(strings.TrimSpace(c.Value), "false")
		return (found && v != nil) == want
	case OpNotEqual:
		return !found || !equalsText(v, c.Value)
	case OpNotIn:
		return !found || !inList(v, c.Value)
	}
	if !found {
		return false
	}
	switch c.Operator {
	case OpEqual:
		return equalsText(v, c.Value)
	case OpGreater, OpLess, OpGreaterEqual, OpLessEqual:
		cmp, ok := compareText(v, c.Value)
		if !ok {
			return false
		}
		switch c.Operator {
		case OpGreater:
			return cmp > 0
		case OpLess:
			return cmp < 0
		case OpGreaterEqual:
			return cmp >= 0
		default:
			return cmp <= 0
		}
	case OpIn:
		return inList(v, c.Value)
	case OpContains:
		return containsText(v, c.Value)
	}
	return false
}

// Lookup follows a dot path (see ValidReference) through nested maps and
// arrays: "lead.phones.1.phone" reads the key "1" of a map or the element 1 of
// an array, whichever is there. It reports false when any step is missing, and
// it never panics. Templates and flows use it so that a path means the same
// thing everywhere.
func Lookup(scope map[string]any, ref string) (any, bool) {
	if ref == "" || scope == nil {
		return nil, false
	}
	var cur any = scope
	for {
		seg, rest, more := strings.Cut(ref, ".")
		if seg == "" {
			return nil, false
		}
		next, ok := lookupStep(cur, seg)
		if !ok {
			return nil, false
		}
		if !more {
			return next, true
		}
		cur, ref = next, rest
	}
}

func lookupStep(cur any, seg string) (any, bool) {
	switch c := cur.(type) {
	case map[string]any:
		v, ok := c[seg]
		return v, ok
	case []any:
		i, ok := parseIndex(seg)
		if !ok || i >= len(c) {
			return nil, false
		}
		return c[i], true
	case nil, string, json.Number, bool, float64, int, int64:
		return nil, false
	}
	return lookupReflect(cur, seg)
}

// lookupReflect serves the typed maps and slices callers put into a scope
// (map[string]string headers, []map[string]any step outputs).
func lookupReflect(cur any, seg string) (any, bool) {
	rv := reflect.ValueOf(cur)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, false
		}
		e := rv.MapIndex(reflect.ValueOf(seg).Convert(rv.Type().Key()))
		if !e.IsValid() || !e.CanInterface() {
			return nil, false
		}
		return e.Interface(), true
	case reflect.Slice, reflect.Array:
		i, ok := parseIndex(seg)
		if !ok || i >= rv.Len() {
			return nil, false
		}
		e := rv.Index(i)
		if !e.CanInterface() {
			return nil, false
		}
		return e.Interface(), true
	}
	return nil, false
}

// parseIndex reads a non-negative array index; signs and anything but digits
// are refused so that "-1" or "1e3" are never taken for positions.
func parseIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// valueKind classifies a scope value for comparisons.
type valueKind int

const (
	kindNull valueKind = iota
	kindString
	kindNumber
	kindBool
	kindComposite
)

// scalarText renders a scope value as the text conditions compare against.
// Objects and arrays become their JSON text so that "=" can still be used on
// them, although "contains" is the operator meant for arrays.
func scalarText(v any) (string, valueKind) {
	switch x := v.(type) {
	case nil:
		return "", kindNull
	case string:
		return x, kindString
	case json.Number:
		return string(x), kindNumber
	case bool:
		return strconv.FormatBool(x), kindBool
	case float64:
		return formatFloat(x), kindNumber
	case float32:
		return formatFloat(float64(x)), kindNumber
	case int:
		return strconv.Itoa(x), kindNumber
	case int64:
		return strconv.FormatInt(x, 10), kindNumber
	case int32:
		return strconv.FormatInt(int64(x), 10), kindNumber
	case int16:
		return strconv.FormatInt(int64(x), 10), kindNumber
	case int8:
		return strconv.FormatInt(int64(x), 10), kindNumber
	case uint:
		return strconv.FormatUint(uint64(x), 10), kindNumber
	case uint64:
		return strconv.FormatUint(x, 10), kindNumber
	case uint32:
		return strconv.FormatUint(uint64(x), 10), kindNumber
	case uint16:
		return strconv.FormatUint(uint64(x), 10), kindNumber
	case uint8:
		return strconv.FormatUint(uint64(x), 10), kindNumber
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v), kindComposite
	}
	return string(b), kindComposite
}

// formatFloat writes a float the way encoding/json does, so 3 prints as "3"
// and very large or small values use an exponent.
func formatFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// fieldValue is a scope value read once for comparisons.
type fieldValue struct {
	text  string
	kind  valueKind
	num   decimal
	isNum bool
}

func readField(v any) fieldValue {
	text, kind := scalarText(v)
	f := fieldValue{text: text, kind: kind}
	if kind == kindString || kind == kindNumber {
		f.num, f.isNum = parseDecimal(text)
	}
	return f
}

// equalsText implements "=": numbers compare as numbers (so "3" = 3.0), null
// equals "" and "null", booleans equal "true"/"false" in any letter case, and
// everything else compares as exact text.
func equalsText(v any, want string) bool {
	f := readField(v)
	return f.equals(want)
}

func (f *fieldValue) equals(want string) bool {
	switch f.kind {
	case kindNull:
		w := strings.TrimSpace(want)
		return w == "" || strings.EqualFold(w, "null")
	case kindBool:
		return strings.EqualFold(strings.TrimSpace(want), f.text)
	}
	if f.isNum {
		if b, ok := parseDecimal(want); ok {
			return f.num.cmp(b) == 0
		}
	}
	return f.text == want
}

// compareText orders v against want for >, <, >= and <=: numerically when both
// read as numbers, else as text (byte order). Null, objects and arrays have no
// order, so every ordering test on them is false.
func compareText(v any, want string) (int, bool) {
	f := readField(v)
	if f.kind == kindNull || f.kind == kindComposite {
		return 0, false
	}
	if f.isNum {
		if b, ok := parseDecimal(want); ok {
			return f.num.cmp(b), true
		}
	}
	return strings.Compare(f.text, want), true
}

// inList implements "in": the value equals one of the comma-separated items,
// each trimmed of surrounding spaces ("215, 223").
func inList(v any, list string) bool {
	f := readField(v)
	for list != "" {
		item, rest, _ := strings.Cut(list, ",")
		list = rest
		item = strings.TrimSpace(item)
		if item != "" && f.equals(item) {
			return true
		}
	}
	return false
}

func hasListItem(list string) bool {
	for list != "" {
		item, rest, _ := strings.Cut(list, ",")
		if strings.TrimSpace(item) != "" {
			return true
		}
		list = rest
	}
	return false
}

// containsText implements "contains": a substring test on text and numbers,
// element membership (with "=" semantics) on arrays, key presence on objects.
func containsText(v any, want string) bool {
	switch x := v.(type) {
	case nil:
		return false
	case []any:
		for _, e := range x {
			if equalsText(e, want) {
				return true
			}
		}
		return false
	case map[string]any:
		_, ok := x[want]
		return ok
	}
	text, kind := scalarText(v)
	if kind == kindComposite {
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Slice, reflect.Array:
			for i := 0; i < rv.Len(); i++ {
				if e := rv.Index(i); e.CanInterface() && equalsText(e.Interface(), want) {
					return true
				}
			}
			return false
		case reflect.Map:
			if rv.Type().Key().Kind() == reflect.String {
				return rv.MapIndex(reflect.ValueOf(want).Convert(rv.Type().Key())).IsValid()
			}
			return false
		}
	}
	return strings.Contains(text, want)
}

// decimal is an exactly compared decimal number: 0.digits × 10^exp, negative
// when neg. Exact comparison matters for ids longer than a float64 holds
// ("12345678901234567891" must not equal "12345678901234567890").
type decimal struct {
	neg    bool
	digits string // no leading or trailing zeros; "" is zero
	exp    int64
}

// parseDecimal reads text such as "3", " 3 ", "-0.5", "3.0", "1e3". A leading
// "+" is refused so that phone numbers like "+61400000000" stay text.
func parseDecimal(s string) (decimal, bool) {
	s = strings.TrimSpace(s)
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[intStart:i]
	var fracPart string
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracPart = s[fracStart:i]
	}
	if intPart == "" && fracPart == "" {
		return d, false
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		expStart := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp < 1e12 { // clamp: beyond this only the sign of the exponent matters
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == expStart {
			return d, false
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(s) {
		return d, false
	}
	all := intPart
	if fracPart != "" {
		all = intPart + fracPart
	}
	lead := 0
	for lead < len(all) && all[lead] == '0' {
		lead++
	}
	end := len(all)
	for end > lead && all[end-1] == '0' {
		end--
	}
	d.digits = all[lead:end]
	if d.digits == "" {
		return decimal{}, true
	}
	d.exp = int64(len(intPart)-lead) + exp
	return d, true
}

func (a decimal) cmp(b decimal) int {
	switch {
	case a.digits == "" && b.digits == "":
		return 0
	case a.digits == "":
		if b.neg {
			return 1
		}
		return -1
	case b.digits == "":
		if a.neg {
			return -1
		}
		return 1
	case a.neg != b.neg:
		if a.neg {
			return -1
		}
		return 1
	}
	mag := 0
	switch {
	case a.exp != b.exp:
		if a.exp < b.exp {
			mag = -1
		} else {
			mag = 1
		}
	default:
		mag = strings.Compare(a.digits, b.digits)
	}
	if a.neg {
		return -mag
	}
	return mag
}
