package apiserver

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
)

// cronPreviewRequest is the body of POST /v1/cron/preview.
type cronPreviewRequest struct {
	Expression string `json:"expression"`
	TimeZone   string `json:"timezone"`
}

// cronPreviewResponse is what an At Time trigger with this expression and
// zone would show once saved: the words and the next fire times.
type cronPreviewResponse struct {
	Expression     string      `json:"expression"`
	TimeZone       string      `json:"timezone"`
	ExpressionText string      `json:"expression_text"`
	NextRuns       []time.Time `json:"next_runs"`
}

// previewCron checks an expression and zone with the same functions a
// trigger's save uses, so the console can validate while the admin types.
// It is a read: nothing is saved and Temporal is not asked.
func (s *Server) previewCron(c *gin.Context) {
	var req cronPreviewRequest
	if err := bindJSON(c, &req); err != nil {
		abortWithError(c, err)
		return
	}
	fields := domain.FieldErrors{}
	zone := strings.TrimSpace(req.TimeZone)
	if zone == "" {
		zone = domain.DefaultTimeZone
	}
	loc, err := domain.ValidateTimeZone(zone)
	if err != nil {
		fields.Add("timezone", err.Error())
	}
	expr, err := domain.ParseCron(req.Expression)
	if err != nil {
		fields.Add("expression", err.Error())
	}
	if err := fields.Err(); err != nil {
		abortWithError(c, err)
		return
	}
	next := expr.Next(time.Now(), loc, domain.NextRunsShown)
	if next == nil {
		next = []time.Time{}
	}
	c.JSON(http.StatusOK, cronPreviewResponse{
		Expression: expr.Source, TimeZone: zone, ExpressionText: expr.Describe(), NextRuns: next,
	})
}

// codeSuggestion is the answer of GET /v1/webhooks/suggest-code.
type codeSuggestion struct {
	Code string `json:"code"`
	// Available is false only when no free code could be derived from the
	// name (nothing usable in it); Code is then "".
	Available bool `json:"available"`
}

// maxCodeVariant bounds the numbered variants tried for a taken code.
const maxCodeVariant = 1000

// suggestWebhookCode derives a code from ?name= as the webhook form does
// while the name is typed; a taken code gets the first free numbered
// variant ("case_updates_2").
func (s *Server) suggestWebhookCode(c *gin.Context) {
	name := c.Query("name")
	if len(name) > 1000 {
		abortWithError(c, domain.Invalid("name", "must be at most 1000 characters"))
		return
	}
	base := domain.SuggestCode(name)
	if base == "" {
		c.JSON(http.StatusOK, codeSuggestion{})
		return
	}
	taken, err := s.webhooks.CodesLike(c.Request.Context(), base)
	if err != nil {
		abortWithError(c, err)
		return
	}
	code := domain.FreeCode(base, func(code string) bool { return taken[code] }, maxCodeVariant)
	if code == "" {
		abortWithError(c, fmt.Errorf("%w: every variant of %q up to _%d is taken", domain.ErrConflict, base, maxCodeVariant))
		return
	}
	c.JSON(http.StatusOK, codeSuggestion{Code: code, Available: true})
}
