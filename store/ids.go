package store

import (
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
	PrefixGroup     = "grp_" // batches a sweep regrouped
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
