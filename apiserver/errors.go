package apiserver

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
)

// errorBody is the one error shape of the API (API.md).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string             `json:"code"`
	Message string             `json:"message"`
	Fields  domain.FieldErrors `json:"fields,omitempty"`
	// Codes gives each field's problem a stable code (see errorcodes.go).
	Codes map[string]string `json:"codes,omitempty"`
}

// Errors with their own HTTP meaning that only the API layer produces.
var (
	errUnauthorized  = errors.New("a valid API key is required: send Authorization: Bearer <key>")
	errForbidden     = errors.New("this API key's scopes do not allow this request")
	errTooLarge      = errors.New("request body too large")
	errRateLimited   = errors.New("too many requests")
	errRouteNotFound = errors.New("no such route")
	errMethod        = errors.New("method not allowed on this route")
)

// statusOf is the single place that chooses an HTTP status for an error.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, errRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	case errors.Is(err, errRouteNotFound), errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, "method_not_allowed"
	case errors.Is(err, domain.ErrInvalid):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, domain.ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, domain.ErrUnprocessable):
		return http.StatusUnprocessableEntity, "unprocessable"
	case errors.Is(err, domain.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	default:
		return http.StatusInternalServerError, "internal"
	}
}

// abortWithError writes err in the API's error shape and stops the chain.
// Internal errors are logged with the request id and answered without detail.
func abortWithError(c *gin.Context, err error) {
	status, code := statusOf(err)
	detail := errorDetail{Code: code, Message: err.Error()}
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		detail.Message = "the request has invalid fields"
		detail.Fields = ve.Fields
		describeValidation(c, &detail, ve.Fields)
	}
	if status >= 500 {
		loggerFrom(c).Error("request failed", "error", err)
		if status == http.StatusInternalServerError {
			detail.Message = "internal error; see the server log for request " + requestID(c)
		}
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		if c.Writer.Header().Get("Retry-After") == "" {
			c.Header("Retry-After", "1")
		}
	}
	c.AbortWithStatusJSON(status, errorBody{Error: detail})
}
