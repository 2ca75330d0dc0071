package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/filters"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/values"
)

// MaxTemplateRenderTime bounds one render's wall time. Every loop iteration
// checks it, and every filter's output is size-capped, so a render overshoots
// it by at most one iteration's work.
const MaxTemplateRenderTime = time.Second

// guardKey holds the per-render budget in the bindings. It contains a NUL
// byte, which no Liquid identifier can, so templates cannot read or replace it.
const guardKey = "\x00guard"

type renderGuard struct {
	deadline   time.Time
	iterations int
	// escape, when set, is applied to every placeholder's text
	// (Template.RenderEscaped).
	escape func(string) string
}

func newRenderGuard() *renderGuard {
	return &renderGuard{deadline: time.Now().Add(MaxTemplateRenderTime)}
}

func (g *renderGuard) tick() error {
	g.iterations++
	if g.iterations > MaxTemplateIterations {
		return ErrTemplateTooSlow
	}
	if time.Now().After(g.deadline) {
		return ErrTemplateTooSlow
	}
	return nil
}

func guardOf(ctx render.Context) (*renderGuard, error) {
	g, ok := ctx.Get(guardKey).(*renderGuard)
	if !ok {
		return nil, errors.New("template rendered without its budget")
	}
	return g, nil
}

// tplList is an array as templates see it. Liquid indexes arrays only by
// integer, but the rewritten form of items.0 is items["0"], so tplList also
// accepts digit strings. Everything else is Liquid's own array behaviour.
type tplList []any

func (l tplList) base() values.Value { return values.ValueOf([]any(l)) }

// Interface implements values.Value; it returns the tplList itself so that
// assigned copies keep indexing by digit strings.
func (l tplList) Interface() any { return l }

// Int implements values.Value.
func (l tplList) Int() int { return l.base().Int() }

// Equal implements values.Value.
func (l tplList) Equal(o values.Value) bool { return safeEqual([]any(l), o.Interface()) }

// Less implements values.Value; arrays have no order.
func (l tplList) Less(values.Value) bool { return false }

// Contains implements values.Value.
func (l tplList) Contains(o values.Value) bool {
	for _, e := range l {
		if safeEqual(e, o.Interface()) {
			return true
		}
	}
	return false
}

// IndexValue implements values.Value.
func (l tplList) IndexValue(iv values.Value) values.Value {
	if s, ok := iv.Interface().(string); ok {
		if n, ok := parseIndex(s); ok {
			iv = values.ValueOf(n)
		}
	}
	return l.base().IndexValue(iv)
}

// PropertyValue implements values.Value (first, last, size).
func (l tplList) PropertyValue(iv values.Value) values.Value { return l.base().PropertyValue(iv) }

// Test implements values.Value; arrays are truthy, as in Liquid.
func (l tplList) Test() bool { return true }

// toLiquidValue copies a scope value into the form Liquid works with: arrays
// become tplList and json.Number becomes int or float64 when that prints back
// as the same text (so {% if n > 9 %} compares numbers and {{ n }} still
// prints what was sent).
func toLiquidValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = toLiquidValue(e)
		}
		return m
	case []any:
		l := make(tplList, len(x))
		for i, e := range x {
			l[i] = toLiquidValue(e)
		}
		return l
	case json.Number:
		s := string(x)
		if i, err := strconv.ParseInt(s, 10, 0); err == nil && strconv.Itoa(int(i)) == s {
			return int(i)
		}
		// Without an exponent, encoding/json prints such a float as the same text.
		if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "eE") && formatFloat(f) == s {
			return f
		}
		return x
	}
	return v
}

// safeEqual is values.Equal without its panic on two objects.
func safeEqual(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return values.Equal(a, b)
}

// rootCause follows Liquid's Cause() chain and filter error wrappers down to
// the error that started it.
func rootCause(err error) error {
	for i := 0; i < 32 && err != nil; i++ {
		var next error
		switch e := err.(type) {
		case expressions.FilterError:
			next = e.Err
		case *expressions.FilterError:
			next = e.Err
		case interface{ Cause() error }:
			next = e.Cause()
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		}
		if next == nil {
			return err
		}
		err = next
	}
	return err
}

var liquidFilterNames = map[string]bool{}

func knownFilter(name string) bool {
	liquidConfig()
	return liquidFilterNames[name]
}

// filterRecorder captures the standard filters so each can be wrapped.
type filterRecorder map[string]any

// AddFilter implements filters.FilterDictionary.
func (r filterRecorder) AddFilter(name string, fn any) { r[name] = fn }

func newLiquidConfig() render.Config {
	cfg := render.NewConfig()
	std := filterRecorder{}
	filters.AddStandardFilters(std)
	delete(std, "type") // prints Go type names: no use to users
	std["json"] = func(v any) string { return jsonText(v) }
	std["uniq"] = uniqFilter
	for name, fn := range std {
		cfg.AddFilter(name, guardFilter(name, fn))
		liquidFilterNames[name] = true
	}

	cfg.AddTag("_tfout", outputTag)
	cfg.AddTag("assign", assignTag)
	cfg.AddTag("break", func(string) (func(io.Writer, render.Context) error, error) {
		return func(io.Writer, render.Context) error { return errLoopBreak }, nil
	})
	cfg.AddTag("continue", func(string) (func(io.Writer, render.Context) error, error) {
		return func(io.Writer, render.Context) error { return errLoopContinue }, nil
	})
	cfg.AddBlock("capture").Compiler(captureCompiler)
	cfg.AddBlock("case").Clause("when").Clause("else").Compiler(caseCompiler)
	cfg.AddBlock("comment")
	cfg.AddBlock("for").Clause("else").Compiler(forCompiler)
	cfg.AddBlock("if").Clause("else").Clause("elsif").Compiler(ifCompiler(true))
	cfg.AddBlock("raw")
	cfg.AddBlock("unless").Clause("else").Clause("elsif").Compiler(ifCompiler(false))
	return cfg
}

var (
	errLoopBreak    = errors.New("break outside a for loop")
	errLoopContinue = errors.New("continue outside a for loop")
	anyType         = reflect.TypeOf((*any)(nil)).Elem()
	errorType       = reflect.TypeOf((*error)(nil)).Elem()
	variableName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
)

// guardFilter wraps a standard filter so that no filter call can build a value
// past the output limit or materialise a huge range, and so that a panic in a
// filter becomes an error. The wrapper takes its value parameters as any so it
// sees arguments before Liquid converts them (converting (1..1e9) to an array
// would already exhaust memory); it then converts them the way Liquid would.
// Optional parameters (func(T) T) keep their type, because Liquid recognises
// them by it.
func guardFilter(name string, fn any) any {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	if ft.IsVariadic() || ft.NumOut() < 1 || ft.NumOut() > 2 {
		return fn
	}
	in := make([]reflect.Type, ft.NumIn())
	for i := range in {
		if t := ft.In(i); t.Kind() == reflect.Func && t.NumIn() == 1 && t.NumOut() == 1 {
			in[i] = t
		} else {
			in[i] = anyType
		}
	}
	outType := ft.Out(0)
	wrapperType := reflect.FuncOf(in, []reflect.Type{outType, errorType}, false)
	fail := func(err error) []reflect.Value {
		return []reflect.Value{reflect.Zero(outType), reflect.ValueOf(&err).Elem()}
	}
	return reflect.MakeFunc(wrapperType, func(args []reflect.Value) (results []reflect.Value) {
		defer func() {
			if r := recover(); r != nil {
				results = fail(fmt.Errorf("%v", r))
			}
		}()
		call := make([]reflect.Value, len(args))
		for i, a := range args {
			if in[i] != anyType {
				call[i] = a
				continue
			}
			v := a.Interface()
			if r, ok := v.(values.Range); ok && r.Len() > MaxTemplateIterations {
				return fail(ErrTemplateTooLarge)
			}
			if v == nil {
				call[i] = reflect.Zero(ft.In(i))
				continue
			}
			cv, err := values.Convert(v, ft.In(i))
			if err != nil {
				return fail(err)
			}
			if cv == nil {
				call[i] = reflect.Zero(ft.In(i))
			} else {
				call[i] = reflect.ValueOf(cv)
			}
		}
		if err := precheckFilter(name, call); err != nil {
			return fail(err)
		}
		res := fv.Call(call)
		if len(res) == 2 && !res[1].IsNil() {
			return []reflect.Value{reflect.Zero(outType), res[1]}
		}
		if err := checkTemplateValueSize(res[0].Interface()); err != nil {
			return fail(err)
		}
		return []reflect.Value{res[0], reflect.Zero(errorType)}
	}).Interface()
}

// precheckFilter refuses the filters whose output can be the product of two
// input sizes before they allocate it.
func precheckFilter(name string, args []reflect.Value) error {
	switch name {
	case "replace":
		if len(args) != 3 {
			return nil
		}
		s, _ := args[0].Interface().(string)
		old, _ := args[1].Interface().(string)
		repl, _ := args[2].Interface().(string)
		var n int
		if old == "" {
			n = utf8.RuneCountInString(s) + 1
		} else {
			n = strings.Count(s, old)
		}
		if len(s)+n*(len(repl)-len(old)) > MaxTemplateOutput {
			return ErrTemplateTooLarge
		}
	case "join":
		if len(args) != 2 {
			return nil
		}
		items, _ := args[0].Interface().([]any)
		sepFn, _ := args[1].Interface().(func(string) string)
		sep := " "
		if sepFn != nil {
			sep = sepFn(" ")
		}
		total := len(items) * len(sep)
		for _, it := range items {
			if total > MaxTemplateOutput {
				break
			}
			if s, ok := it.(string); ok {
				total += len(s)
			} else if it != nil {
				total += len(fmt.Sprint(it))
			}
		}
		if total > MaxTemplateOutput {
			return ErrTemplateTooLarge
		}
	}
	return nil
}

// checkTemplateValueSize bounds what a filter, assign or capture may produce.
func checkTemplateValueSize(v any) error {
	switch x := v.(type) {
	case string:
		if len(x) > MaxTemplateOutput {
			return ErrTemplateTooLarge
		}
	case []byte:
		if len(x) > MaxTemplateOutput {
			return ErrTemplateTooLarge
		}
	case []any:
		if len(x) > MaxTemplateIterations {
			return ErrTemplateTooLarge
		}
	case tplList:
		if len(x) > MaxTemplateIterations {
			return ErrTemplateTooLarge
		}
	case []string:
		if len(x) > MaxTemplateIterations {
			return ErrTemplateTooLarge
		}
	}
	return nil
}

// uniqFilter replaces Liquid's, which is quadratic on arrays of objects.
func uniqFilter(a []any) []any {
	seen := make(map[string]bool, len(a))
	var out []any
	for _, item := range a {
		var key string
		switch x := item.(type) {
		case nil, string, bool, int, int64, float64, json.Number:
			key = fmt.Sprintf("%T:%v", x, x)
		default:
			key = "json:" + jsonText(x)
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, item)
		}
	}
	return out
}

// outputTag renders {{ expr }} (rewritten to {% _tfout expr %}).
func outputTag(args string) (func(io.Writer, render.Context) error, error) {
	expr, err := expressions.Parse(args)
	if err != nil {
		return nil, err
	}
	return func(w io.Writer, ctx render.Context) error {
		v, err := ctx.Evaluate(expr)
		if err != nil {
			return err
		}
		g, err := guardOf(ctx)
		if err != nil {
			return err
		}
		return writeOutput(w, v, g.escape)
	}, nil
}

func assignTag(args string) (func(io.Writer, render.Context) error, error) {
	stmt, err := expressions.ParseStatement(expressions.AssignStatementSelector, args)
	if err != nil {
		return nil, err
	}
	name, valueFn := stmt.Assignment.Variable, stmt.Assignment.ValueFn
	return func(_ io.Writer, ctx render.Context) error {
		v, err := ctx.Evaluate(valueFn)
		if err != nil {
			return err
		}
		if err := checkTemplateValueSize(v); err != nil {
			return err
		}
		ctx.Set(name, v)
		return nil
	}, nil
}

func captureCompiler(node render.BlockNode) (func(io.Writer, render.Context) error, error) {
	name := strings.TrimSpace(node.Args)
	if !variableName.MatchString(name) {
		return nil, fmt.Errorf("capture needs a variable name, got %q", name)
	}
	return func(_ io.Writer, ctx render.Context) error {
		buf := &limitedBuffer{max: MaxTemplateOutput}
		if err := ctx.RenderChildren(buf); err != nil {
			return err
		}
		ctx.Set(name, buf.String())
		return nil
	}, nil
}

func ifCompiler(positive bool) render.BlockCompiler {
	return func(node render.BlockNode) (func(io.Writer, render.Context) error, error) {
		type branch struct {
			test expressions.Expression // nil for else
			body *render.BlockNode
			want bool
		}
		test, err := expressions.Parse(node.Args)
		if err != nil {
			return nil, err
		}
		branches := []branch{{test, &node, positive}}
		for i, c := range node.Clauses {
			switch c.Name {
			case "else":
				if i != len(node.Clauses)-1 {
					return nil, fmt.Errorf("else must be the last clause of %s", node.Name)
				}
				branches = append(branches, branch{nil, c, true})
			case "elsif":
				t, err := expressions.Parse(c.Args)
				if err != nil {
					return nil, err
				}
				branches = append(branches, branch{t, c, true})
			}
		}
		return func(w io.Writer, ctx render.Context) error {
			for _, b := range branches {
				if b.test != nil {
					v, err := ctx.Evaluate(b.test)
					if err != nil {
						return err
					}
					if (v != nil && v != false) != b.want {
						continue
					}
				}
				return ctx.RenderBlock(w, b.body)
			}
			return nil
		}, nil
	}
}

func caseCompiler(node render.BlockNode) (func(io.Writer, render.Context) error, error) {
	subject, err := expressions.Parse(node.Args)
	if err != nil {
		return nil, err
	}
	type when struct {
		exprs []expressions.Expression // nil for else
		body  *render.BlockNode
	}
	var whens []when
	for _, c := range node.Clauses {
		switch c.Name {
		case "when":
			stmt, err := expressions.ParseStatement(expressions.WhenStatementSelector, c.Args)
			if err != nil {
				return nil, err
			}
			whens = append(whens, when{stmt.When.Exprs, c})
		case "else":
			whens = append(whens, when{nil, c})
		}
	}
	return func(w io.Writer, ctx render.Context) error {
		v, err := ctx.Evaluate(subject)
		if err != nil {
			return err
		}
		for _, wh := range whens {
			if wh.exprs == nil {
				return ctx.RenderBlock(w, wh.body)
			}
			for _, e := range wh.exprs {
				x, err := ctx.Evaluate(e)
				if err != nil {
					return err
				}
				if safeEqual(v, x) {
					return ctx.RenderBlock(w, wh.body)
				}
			}
		}
		return nil
	}, nil
}

// loopItems is what a for loop walks.
type loopItems interface {
	Len() int
	Index(int) any
}

type sliceItems []any

// Len implements loopItems.
func (s sliceItems) Len() int { return len(s) }

// Index implements loopItems.
func (s sliceItems) Index(i int) any { return s[i] }

type reflectItems struct{ v reflect.Value }

// Len implements loopItems.
func (r reflectItems) Len() int { return r.v.Len() }

// Index implements loopItems.
func (r reflectItems) Index(i int) any { return r.v.Index(i).Interface() }

// iterate returns what "for x in v" walks: arrays, ranges (lazily, so the
// loop budget bounds them), and objects as [key, value] pairs in key order.
func iterate(v any) loopItems {
	switch x := v.(type) {
	case nil, string:
		return nil
	case values.Range:
		if x.Len() <= 0 {
			return nil
		}
		return x
	case tplList:
		return sliceItems(x)
	case []any:
		return sliceItems(x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		pairs := make(sliceItems, len(keys))
		for i, k := range keys {
			pairs[i] = tplList{k, x[k]}
		}
		return pairs
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return reflectItems{rv}
	}
	return nil
}

func loopInt(ctx render.Context, e expressions.Expression, what string) (int, bool, error) {
	if e == nil {
		return 0, false, nil
	}
	v, err := ctx.Evaluate(e)
	if err != nil {
		return 0, false, err
	}
	switch n := v.(type) {
	case int:
		return n, true, nil
	case float64:
		if n == float64(int(n)) {
			return int(n), true, nil
		}
	}
	return 0, false, fmt.Errorf("for loop %s must be an integer, got %v", what, v)
}

func forCompiler(node render.BlockNode) (func(io.Writer, render.Context) error, error) {
	stmt, err := expressions.ParseStatement(expressions.LoopStatementSelector, node.Args)
	if err != nil {
		return nil, err
	}
	loop := stmt.Loop
	if loop.Cols != nil {
		return nil, errors.New("cols is only for tablerow, which is not supported")
	}
	var elseBody *render.BlockNode
	for _, c := range node.Clauses {
		if c.Name == "else" {
			if elseBody != nil {
				return nil, errors.New("a for loop has at most one else")
			}
			elseBody = c
		}
	}
	return func(w io.Writer, ctx render.Context) error {
		guard, err := guardOf(ctx)
		if err != nil {
			return err
		}
		v, err := ctx.Evaluate(loop.Expr)
		if err != nil {
			return err
		}
		items := iterate(v)
		total := 0
		if items != nil {
			total = items.Len()
		}
		// Shopify order: offset, then limit, then reversed.
		start, n := 0, total
		if off, ok, err := loopInt(ctx, loop.Offset, "offset"); err != nil {
			return err
		} else if ok && off > 0 {
			start = min(off, total)
			n = total - start
		}
		if lim, ok, err := loopInt(ctx, loop.Limit, "limit"); err != nil {
			return err
		} else if ok && lim >= 0 && lim < n {
			n = lim
		}
		if n <= 0 {
			if elseBody != nil {
				return ctx.RenderBlock(w, elseBody)
			}
			return nil
		}
		prevVar, prevLoop := ctx.Get(loop.Variable), ctx.Get("forloop")
		defer func() {
			ctx.Set(loop.Variable, prevVar)
			ctx.Set("forloop", prevLoop)
		}()
		for i := 0; i < n; i++ {
			if err := guard.tick(); err != nil {
				return err
			}
			idx := start + i
			if loop.Reversed {
				idx = start + n - 1 - i
			}
			ctx.Set(loop.Variable, items.Index(idx))
			ctx.Set("forloop", map[string]any{
				"first": i == 0, "last": i == n-1, "length": n,
				"index": i + 1, "index0": i, "rindex": n - i, "rindex0": n - i - 1,
			})
			if err := ctx.RenderChildren(w); err != nil {
				switch rootCause(err) {
				case errLoopBreak:
					return nil
				case errLoopContinue:
					continue
				}
				return err
			}
		}
		return nil
	}, nil
}
