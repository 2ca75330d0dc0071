package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/triggerflow/triggerflow/domain"
)

// ActionLeadUpdateList is the name of ipSCAPE's lead.update.list action.
const ActionLeadUpdateList = "lead.update.list"

func init() {
	RegisterAction(NewAction(domain.ActionSpec{
		Name: ActionLeadUpdateList,
		Description: "Moves a lead to another list of the same campaign (ipSCAPE's lead.update.list) by calling the " +
			"business system's lead API (TRIGGERFLOW_LEAD_API_URL): POST {base}/leads/{leadId}/list {\"listId\": …}.",
		Params: []domain.ParamSpec{
			{Name: "listId", Type: domain.ParamString, Required: true, Aliases: []string{"lead.listId"},
				Description: "the id of the list to move the lead to (ipSCAPE: Campaigns – Leads – Manage Leads Lists)"},
			{Name: "leadId", Type: domain.ParamString, Default: "{{ leadId }}",
				Description: "the lead to move; default the event's leadId"},
		},
		Outputs: []domain.OutputField{
			{Path: "lead_id", Type: domain.ParamString, Description: "the lead moved"},
			{Path: "list_id", Type: domain.ParamString, Description: "the list it is in now"},
			{Path: "status", Type: domain.ParamNumber, Description: "the lead API's HTTP status"},
			{Path: "response", Type: domain.ParamAny, Description: "the lead API's JSON answer, when it sent one"},
		},
	}, (*Actions).UpdateLeadList))
}

// LeadUpdateListInput is the rendered params of lead.update.list.
type LeadUpdateListInput struct {
	ListID string `json:"listId"`
	LeadID string `json:"leadId"`
}

// LeadUpdateListResult is a lead.update.list step's output.
type LeadUpdateListResult struct {
	LeadID   string          `json:"lead_id"`
	ListID   string          `json:"list_id"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// UpdateLeadList asks the lead API to move a lead. The request carries an
// Idempotency-Key from the workflow run and activity, so a retried attempt
// can be recognised by the API.
func (a *Actions) UpdateLeadList(ctx context.Context, in LeadUpdateListInput) (LeadUpdateListResult, error) {
	res := LeadUpdateListResult{LeadID: strings.TrimSpace(in.LeadID), ListID: strings.TrimSpace(in.ListID)}
	base := strings.TrimRight(strings.TrimSpace(a.Settings.LeadAPIURL), "/")
	switch {
	case base == "":
		return res, permanentActionError("lead.update.list is not configured: set TRIGGERFLOW_LEAD_API_URL on the worker")
	case res.ListID == "":
		return res, permanentActionError("listId is empty")
	case res.LeadID == "":
		return res, permanentActionError("no lead to move: the event has no leadId and the step gives none")
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return res, permanentActionError("TRIGGERFLOW_LEAD_API_URL %q is not an http(s) URL", base)
	}
	endpoint := base + "/leads/" + url.PathEscape(res.LeadID) + "/list"
	body, _ := json.Marshal(map[string]string{"listId": res.ListID})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return res, permanentActionError("cannot build the lead API request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "TriggerFlow-Flows/1")
	info := stepInfoOf(ctx)
	req.Header.Set("Idempotency-Key", info.WorkflowID+"/"+info.StepID)
	if tok := strings.TrimSpace(a.Settings.LeadAPIToken); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := a.internalClient().Do(req)
	if err != nil {
		return res, retryableActionError(0, nil, "lead API %s: %s", endpoint, describeSendError(err, 30*time.Second))
	}
	defer resp.Body.Close()
	raw, truncated, _ := readCapped(resp.Body, MaxResponseBody)
	res.Status = resp.StatusCode
	if !truncated && json.Valid(raw) && len(bytes.TrimSpace(raw)) > 0 {
		res.Response = raw
	}
	if domain.SuccessStatus(resp.StatusCode) {
		return res, nil
	}
	msg := fmt.Sprintf("lead API answered HTTP %d moving lead %s to list %s", resp.StatusCode, res.LeadID, res.ListID)
	if excerpt := strings.TrimSpace(firstRunes(string(raw), 200)); excerpt != "" {
		msg += ": " + excerpt
	}
	if domain.RetryableStepStatus(resp.StatusCode) {
		return res, retryableActionError(parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), res, "%s", msg)
	}
	return res, nonRetryableWithDetails(msg, res)
}
