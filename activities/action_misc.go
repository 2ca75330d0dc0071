package activities

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/triggerflow/triggerflow/domain"
)

// Action names of this family.
const (
	ActionLog   = "log"
	ActionDelay = "delay"
)

// MaxDelay is the longest delay step: no run lives longer than the longest
// trigger timeout.
const MaxDelay = domain.MaxTriggerTimeout

var logLevels = []string{"debug", "info", "warn", "error"}

func init() {
	RegisterAction(NewAction(domain.ActionSpec{
		Name:        ActionLog,
		Description: "Writes a structured line to the worker's log, with the run's workflow id, and returns it.",
		Params: []domain.ParamSpec{
			{Name: "message", Type: domain.ParamString, Required: true, Description: "the line; a template"},
			{Name: "level", Type: domain.ParamString, Enum: logLevels, Default: "info", Description: "debug, info, warn or error"},
			{Name: "fields", Type: domain.ParamStringMap, Description: "extra key/value pairs; values are templates"},
		},
		Outputs: []domain.OutputField{
			{Path: "message", Type: domain.ParamString, Description: "the line written"},
			{Path: "level", Type: domain.ParamString, Description: "its level"},
			{Path: "fields", Type: domain.ParamStringMap, Description: "its fields"},
			{Path: "logged_at", Type: domain.ParamString, Description: "when it was written (RFC 3339)"},
		},
	}, (*Actions).Log))

	// delay is carried out by FlowRunWorkflow as a durable timer, not by an
	// activity: a worker may restart during the wait and nothing holds a slot.
	RegisterAction(NewWorkflowAction(domain.ActionSpec{
		Name: ActionDelay,
		Description: "Waits before the next step, durably: the wait is a Temporal timer that survives restarts. " +
			"The run's timeout still applies.",
		Params: []domain.ParamSpec{
			{Name: "duration", Type: domain.ParamString, Required: true, Format: domain.FormatDuration,
				Description: "how long to wait, e.g. \"30s\", \"10m\", \"2h\"; at most 24h"},
		},
		Outputs: []domain.OutputField{
			{Path: "duration", Type: domain.ParamString, Description: "the wait, as a duration"},
			{Path: "resumed_at", Type: domain.ParamString, Description: "when the run went on (RFC 3339)"},
		},
		Check: checkDelay,
	}))
}

func checkDelay(params map[string]any) domain.FieldErrors {
	errs := domain.FieldErrors{}
	if s, ok := params["duration"].(string); ok && !strings.Contains(s, "{{") {
		if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil && d > MaxDelay {
			errs.Add("duration", fmt.Sprintf("must be at most %s", MaxDelay))
		}
	}
	return errs
}

// DelayDuration reads a delay step's rendered params.
func DelayDuration(params map[string]any) (time.Duration, error) {
	s, _ := params["duration"].(string)
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("duration %q is not a positive duration such as \"10m\"", s)
	}
	if d > MaxDelay {
		return 0, fmt.Errorf("duration %s is longer than %s", d, MaxDelay)
	}
	return d, nil
}

// LogInput is the rendered params of log.
type LogInput struct {
	Message string            `json:"message"`
	Level   string            `json:"level"`
	Fields  map[string]string `json:"fields"`
}

// LogResult is a log step's output: the line as written.
type LogResult struct {
	Message  string            `json:"message"`
	Level    string            `json:"level"`
	Fields   map[string]string `json:"fields"`
	LoggedAt time.Time         `json:"logged_at"`
}

// Log writes one structured line.
func (a *Actions) Log(ctx context.Context, in LogInput) (LogResult, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(in.Level)); err != nil {
		level = slog.LevelInfo
	}
	info := stepInfoOf(ctx)
	attrs := []any{"workflow_id", info.WorkflowID, "flow_step_activity", info.StepID}
	keys := make([]string, 0, len(in.Fields))
	for k := range in.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Credential-like fields are masked in the line and in the step's
	// output, by the same rule as attempts' headers.
	fields := domain.MaskHeaders(in.Fields, false)
	if fields == nil {
		fields = map[string]string{}
	}
	for _, k := range keys {
		attrs = append(attrs, slog.String("field."+k, fields[k]))
	}
	a.logger().Log(ctx, level, in.Message, attrs...)
	return LogResult{Message: in.Message, Level: strings.ToLower(level.String()), Fields: fields, LoggedAt: time.Now().UTC()}, nil
}
