package apiserver

import (
	"net/url"
	"strings"

	"github.com/triggerflow/triggerflow/store"
)

// temporalUIURL is the Temporal UI page of one workflow run:
// <base>/namespaces/<ns>/workflows/<workflow id>[/<run id>], or "" when no
// base URL is configured or there is no workflow yet.
func (s *Server) temporalUIURL(workflowID, runID string) string {
	base := strings.TrimRight(s.opts.TemporalUIURL, "/")
	if base == "" || workflowID == "" {
		return ""
	}
	ns := s.opts.Namespace
	if ns == "" {
		ns = "default"
	}
	link := base + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(workflowID)
	if runID != "" {
		link += "/" + url.PathEscape(runID)
	}
	return link
}

// linkedDelivery is a delivery as the API shows it, with its Temporal UI link.
func (s *Server) linkedDelivery(d *store.Delivery) deliveryResponse {
	r := toDeliveryResponse(d)
	// The run id belongs to the delivery's own workflow; a delivery still
	// carried by its batch or queue workflow links to that workflow's latest run.
	runID := r.RunID
	if d.WorkflowID == "" {
		runID = ""
	}
	r.TemporalUIURL = s.temporalUIURL(r.WorkflowID, runID)
	return r
}

// linkedRun is a run as the API shows it, with its Temporal UI link.
func (s *Server) linkedRun(r *store.Run) runResponse {
	out := toRunResponse(r)
	// WorkflowID is the batch run workflow for a run tried inline, and RunID
	// then that workflow's run id, so the pair always matches.
	out.TemporalUIURL = s.temporalUIURL(out.WorkflowID, out.RunID)
	return out
}
