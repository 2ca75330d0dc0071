package apiserver

import (
	"regexp"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
)

// Stable codes of validation problems, beside each field's message in
// error.codes, so a console can map them (ipSCAPE's trigger form shows
// "Invalid JSON format", "Actions object error", "Invalid action
// parameters"). They are part of the API: never renamed.
const (
	CodeInvalidJSON             = "invalid_json"
	CodeActionsMissing          = "actions_missing"
	CodeInvalidActionParameters = "invalid_action_parameters"
	CodeInvalidAction           = "invalid_action"
	CodeEventNotAllowed         = "event_not_allowed"
	CodeUnknownObject           = "unknown_object"
	CodeInvalidCron             = "invalid_cron"
	CodeInvalidTimezone         = "invalid_timezone"
	CodeInvalidCode             = "invalid_code"
	CodeInvalidURL              = "invalid_url"
	CodeInvalidExpression       = "invalid_expression"
	CodeUnknownField            = "unknown_field"
	CodeSchemaMismatch          = "schema_mismatch"
	CodeFlowMismatch            = "flow_event_mismatch"
	CodeInvalid                 = "invalid"
)

// seedMessages are the seeds' own wordings (ipSCAPE's trigger errors and
// what to do), used as the error's message when the code is among the
// problems; codePriority orders them, the first present wins.
var (
	seedMessages = map[string]string{
		CodeInvalidJSON:             "Invalid JSON format: check that the parameters field is not empty",
		CodeActionsMissing:          "Actions object error: check that the action in the parameters is not empty",
		CodeInvalidActionParameters: "Invalid action parameters: check the parameters are not empty or incorrectly formatted",
		CodeInvalidAction:           "Error when saving trigger: check the action is valid, spelled correctly and formatted correctly",
	}
	codePriority = []string{CodeInvalidJSON, CodeActionsMissing, CodeInvalidActionParameters, CodeInvalidAction}
)

var (
	actionParamsPath = regexp.MustCompile(`^actions\[\d+\]\.parameters`)
	actionPath       = regexp.MustCompile(`^actions\[\d+\]`)
	eventDataPath    = regexp.MustCompile(`^(events\[\d+\]\.)?data$`)
)

// fieldCode classifies one field problem of a request to route (gin's
// FullPath, e.g. "/v1/triggers/:id"): the path names the field, the message
// tells missing from malformed.
func fieldCode(route, path, msg string) string {
	triggers := strings.HasPrefix(route, "/v1/triggers") || strings.HasPrefix(route, "/v1/cron")
	switch {
	case path == "body" && (strings.Contains(msg, "JSON") || strings.Contains(msg, "is empty") || strings.Contains(msg, "data after")):
		return CodeInvalidJSON
	case msg == "is not a known field":
		return CodeUnknownField
	case path == "actions" && !strings.Contains(msg, "combined"):
		return CodeActionsMissing
	case actionParamsPath.MatchString(path):
		return CodeInvalidActionParameters
	case actionPath.MatchString(path) && strings.HasSuffix(path, ".action") && strings.HasPrefix(msg, "is required"):
		return CodeActionsMissing
	case actionPath.MatchString(path):
		return CodeInvalidAction
	case path == "event" && triggers:
		return CodeEventNotAllowed
	case path == "object" && triggers:
		return CodeUnknownObject
	case path == "expression" && triggers:
		return CodeInvalidCron
	case path == "expression" || path == "condition_expression":
		return CodeInvalidExpression
	case path == "timezone":
		return CodeInvalidTimezone
	case path == "code":
		return CodeInvalidCode
	case path == "url":
		return CodeInvalidURL
	case path == "flow" && strings.Contains(msg, "expects events"):
		return CodeFlowMismatch
	case eventDataPath.MatchString(path) && strings.Contains(msg, "does not match the schema"):
		return CodeSchemaMismatch
	}
	return CodeInvalid
}

// describeValidation fills a validation error's codes and message: the
// seeds' wording when one of their cases is among the problems.
func describeValidation(c *gin.Context, detail *errorDetail, fields domain.FieldErrors) {
	detail.Codes = make(map[string]string, len(fields))
	present := map[string]bool{}
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		code := fieldCode(c.FullPath(), p, fields[p])
		detail.Codes[p] = code
		present[code] = true
	}
	for _, code := range codePriority {
		if present[code] {
			detail.Message = seedMessages[code]
			return
		}
	}
}
