package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Limits on CEL expressions. The cost limit bounds CPU per evaluation (one
// unit is roughly one operation; strings and lists are charged by size), so an
// expression written against a small test event cannot stall the dispatcher
// on a large one.
const (
	MaxExpressionLength = 4096
	MaxExpressionCost   = 100_000
)

// Expression is a compiled CEL expression that decides whether an event
// matches, for the cases the reference/operator/value conditions cannot say
// ("data.lead.totalAttempts > 2 || data.wrapCode in ['185', '209']").
//
// It sees two variables, both map(string, dyn):
//   - event: the event envelope (id, type, occurred_at, subject);
//   - data:  everything else in the scope, i.e. the event's data fields
//     (plus whatever the caller added, such as earlier steps' outputs).
//
// JSON numbers arrive as int when integral and as double otherwise, so
// data.lead.totalAttempts > 2 works when the number was sent as a number;
// numbers sent as strings stay strings (write int(data.x) > 2). An Expression
// is immutable and safe for concurrent use.
type Expression struct {
	src     string
	program cel.Program
}

var (
	celEnvOnce sync.Once
	celEnv     *cel.Env
	celEnvErr  error
)

// expressionEnv is built once: creating a CEL environment costs milliseconds,
// compiling against an existing one is cheap.
func expressionEnv() (*cel.Env, error) {
	celEnvOnce.Do(func() {
		reg, err := types.NewRegistry()
		if err != nil {
			celEnvErr = err
			return
		}
		celEnv, celEnvErr = cel.NewEnv(
			cel.CustomTypeAdapter(scopeAdapter{reg}),
			cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("data", cel.MapType(cel.StringType, cel.DynType)),
			cel.CrossTypeNumericComparisons(true),
			cel.ParserExpressionSizeLimit(MaxExpressionLength),
			cel.ParserRecursionLimit(100),
		)
	})
	return celEnv, celEnvErr
}

// scopeAdapter converts scope values lazily as CEL touches them, turning
// json.Number (what Event.Scope produces) into CEL numbers; without it CEL
// would see numbers as strings and "> 2" would have no matching overload.
type scopeAdapter struct{ types.Adapter }

// NativeToValue implements types.Adapter.
func (a scopeAdapter) NativeToValue(v any) ref.Val {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return types.Int(i)
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return types.Double(f)
		}
		return types.String(x)
	case map[string]any:
		return types.NewStringInterfaceMap(a, x)
	case []any:
		return types.NewDynamicList(a, x)
	}
	return a.Adapter.NativeToValue(v)
}

// CompileExpression compiles src once for repeated evaluation. It refuses
// expressions that cannot yield a bool when the type is known at compile time;
// a dyn result (e.g. "data.flag") is checked when evaluated.
func CompileExpression(src string) (*Expression, error) {
	if src == "" {
		return nil, errors.New("expression is empty")
	}
	if len(src) > MaxExpressionLength {
		return nil, fmt.Errorf("expression is %d bytes long; at most %d are allowed", len(src), MaxExpressionLength)
	}
	env, err := expressionEnv()
	if err != nil {
		return nil, fmt.Errorf("expression environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("invalid expression: %s", iss.Err())
	}
	out := ast.OutputType()
	if !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("expression must produce a bool, not %s", out)
	}
	prg, err := env.Program(ast,
		cel.CostLimit(MaxExpressionCost),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, fmt.Errorf("invalid expression: %w", err)
	}
	return &Expression{src: src, program: prg}, nil
}

// String returns the expression's source.
func (e *Expression) String() string { return e.src }

// Eval evaluates the expression against an event scope (see Event.Scope): the
// scope's "event" entry becomes the variable event, the rest becomes data. Any
// failure (a missing key, a type mismatch, the cost limit, a non-bool result)
// yields false with the error, so a broken expression never matches.
func (e *Expression) Eval(scope map[string]any) (bool, error) {
	event, _ := scope["event"].(map[string]any)
	if event == nil {
		event = map[string]any{}
	}
	data := make(map[string]any, len(scope))
	for k, v := range scope {
		if k != "event" {
			data[k] = v
		}
	}
	out, _, err := e.program.Eval(map[string]any{"event": event, "data": data})
	if err != nil {
		return false, fmt.Errorf("evaluating %q: %w", truncateForMessage(e.src), err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("expression %q produced %s, not a bool", truncateForMessage(e.src), out.Type())
	}
	return b, nil
}
