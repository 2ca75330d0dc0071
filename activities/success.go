package activities

import (
	"fmt"

	"github.com/triggerflow/triggerflow/domain"
)

// judgedBy applies a webhook's success_status to an answer: a 2xx outside it
// (Cotalker counts only 200-209 as SUCCESS) becomes a FAILED attempt with
// that reason, retried by the webhook's policy like any other failure.
func (r sendResult) judgedBy(w *domain.Webhook) sendResult {
	if r.Err == "" && r.Status > 0 && !w.Succeeded(r.Status) {
		r.Err = fmt.Sprintf("HTTP %d is not in success_status %s", r.Status, w.SuccessStatus)
	}
	return r
}
