package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/triggerflow/triggerflow/domain"
	"github.com/triggerflow/triggerflow/store"
)

// ActionNotify is the name of the notify action.
const ActionNotify = "notify"

// Limits of one notify step.
const (
	MaxNotifyUsers      = 1000
	MaxNotificationText = 4000
)

func init() {
	RegisterAction(NewAction(domain.ActionSpec{
		Name: ActionNotify,
		Description: "Leaves a message for users, as Webitel's Notification component shows it at the top of " +
			"Workspace: one notification per user, listed by GET /v1/notifications?user_id=.",
		Params: []domain.ParamSpec{
			{Name: "text", Type: domain.ParamString, Required: true,
				Description: "the message; placeholders such as {{ case.id }} are filled from the event"},
			{Name: "user_ids", Type: domain.ParamArray, Required: true,
				Description: "ids of the users who receive it: a list, or a comma-separated text"},
		},
		Outputs: []domain.OutputField{
			{Path: "notified", Type: domain.ParamNumber, Description: "how many users received it"},
			{Path: "user_ids", Type: domain.ParamArray, Description: "the users it was left for"},
			{Path: "ids", Type: domain.ParamArray, Description: "the notification ids"},
		},
	}, (*Actions).Notify))
}

// NotifyInput is the rendered params of notify.
type NotifyInput struct {
	Text    string     `json:"text"`
	UserIDs StringList `json:"user_ids"`
}

// NotifyResult is a notify step's output.
type NotifyResult struct {
	Notified int      `json:"notified"`
	UserIDs  []string `json:"user_ids"`
	IDs      []string `json:"ids"`
}

// Notify stores one notification per user. Ids derive from the workflow run,
// the activity and the user, so a retried attempt stores nothing twice.
func (a *Actions) Notify(ctx context.Context, in NotifyInput) (NotifyResult, error) {
	var res NotifyResult
	text := strings.TrimSpace(in.Text)
	switch {
	case text == "":
		return res, permanentActionError("text is empty")
	case utf8.RuneCountInString(text) > MaxNotificationText:
		return res, permanentActionError("text has %d characters; at most %d are allowed", utf8.RuneCountInString(text), MaxNotificationText)
	}
	users := dedupe(in.UserIDs)
	switch {
	case len(users) == 0:
		return res, permanentActionError("user_ids is empty: name at least one user")
	case len(users) > MaxNotifyUsers:
		return res, permanentActionError("user_ids names %d users; at most %d are allowed", len(users), MaxNotifyUsers)
	}
	if a.Notifications == nil {
		return res, permanentActionError("notifications are not configured on this worker")
	}
	info := stepInfoOf(ctx)
	runID := ""
	if a.Runs != nil {
		r, err := a.Runs.FindByWorkflow(ctx, info.WorkflowID)
		switch {
		case err == nil:
			runID = r.ID
		case !errors.Is(err, domain.ErrNotFound):
			return res, err
		}
	}
	ns := make([]store.Notification, 0, len(users))
	for _, u := range users {
		sum := sha256.Sum256([]byte(info.WorkflowID + "\x00" + info.StepID + "\x00" + u))
		id := store.PrefixNotice + hex.EncodeToString(sum[:16])
		ns = append(ns, store.Notification{ID: id, UserID: u, Text: text, RunID: runID})
		res.IDs = append(res.IDs, id)
	}
	if _, err := a.Notifications.Create(ctx, ns); err != nil {
		return NotifyResult{}, err
	}
	res.Notified, res.UserIDs = len(users), users
	return res, nil
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
