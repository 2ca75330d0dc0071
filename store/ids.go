package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"
)

// Id prefixes say what an id names, so an id pasted into a log or a support
// ticket explains itself.
const (
	PrefixWebhook   = "wh_"
	PrefixDelivery  = "msg_" // Standard Webhooks calls the message id msg_…
	PrefixEvent     = "evt_"
	PrefixBatch     = "bat_"
	PrefixGroup     = "grp_" // a dispatch group: named as it forms, or by a sweep regrouping
	PrefixFlow      = "flw_"
	PrefixTrigger   = "trg_"
	PrefixQueueHook = "qh_"
	PrefixRun       = "run_"
	PrefixAPIKey    = "key_"
	PrefixNotice    = "ntf_"
)

// NewID returns prefix followed by a time-ordered (UUIDv7) identifier, so ids
// sort roughly by creation time and index locality stays good.
func NewID(prefix string) string {
	u, err := uuid.NewV7()
	if err != nil {
		u = uuid.New()
	}
	return prefix + strings.ReplaceAll(u.String(), "-", "")
}

// StepDeliveryID is the id of the delivery a webhook action makes in one
// step of one run: derived from the run's workflow id and the step's id, so
// every try of the step — inline, in the run's own workflow, after a crash —
// names the same delivery and a retried step makes no second one.
func StepDeliveryID(runWorkflowID, stepID string) string {
	sum := sha256.Sum256([]byte(runWorkflowID + "\x00" + stepID))
	return PrefixDelivery + hex.EncodeToString(sum[:16])
}
