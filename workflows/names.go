// Package workflows holds TriggerFlow's Temporal workflows with their Input
// and Result types, and the names operators and the API depend on: the task
// queue, signal and query names, search attributes and workflow ids.
package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// TaskQueue is the one task queue TriggerFlow's workers poll.
const TaskQueue = "triggerflow"

// Search attributes carried by every delivery and trigger run (API.md), so
// operators filter runs in Temporal UI. Values are ids and type names only:
// Temporal stores search attributes unencrypted, so no personal data.
var (
	SAEventID   = temporal.NewSearchAttributeKeyKeyword("TriggerFlowEventID")
	SAEventType = temporal.NewSearchAttributeKeyKeyword("TriggerFlowEventType")
	SAWebhook   = temporal.NewSearchAttributeKeyKeyword("TriggerFlowWebhook")
	SATrigger   = temporal.NewSearchAttributeKeyKeyword("TriggerFlowTrigger")
	SAQueue     = temporal.NewSearchAttributeKeyKeyword("TriggerFlowQueue")
	// SACase and SAPlannedAt are a case timer's: the case's id and the
	// planned resolution time it is armed for (unset while none is).
	SACase      = temporal.NewSearchAttributeKeyKeyword("TriggerFlowCase")
	SAPlannedAt = temporal.NewSearchAttributeKeyTime("TriggerFlowPlannedAt")
)

// Search attributes of group workflows (a dispatched group's first tries):
// every webhook code, trigger (or queue hook) id and event type the group
// carries, so a filter such as TriggerFlowWebhooks = "tasks_sink" finds the
// group that made a delivery's first try. The embedded server allows three
// KeywordLists per namespace.
var (
	SAWebhooks   = temporal.NewSearchAttributeKeyKeywordList("TriggerFlowWebhooks")
	SATriggers   = temporal.NewSearchAttributeKeyKeywordList("TriggerFlowTriggers")
	SAEventTypes = temporal.NewSearchAttributeKeyKeywordList("TriggerFlowEventTypes")
)

// SearchAttributes lists the custom search attributes with their types, for
// registration on a namespace.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	out := map[string]enumspb.IndexedValueType{}
	for _, k := range []temporal.SearchAttributeKeyKeyword{SAEventID, SAEventType, SAWebhook, SATrigger, SAQueue, SACase} {
		out[k.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	for _, k := range []temporal.SearchAttributeKeyKeywordList{SAWebhooks, SATriggers, SAEventTypes} {
		out[k.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST
	}
	out[SAPlannedAt.GetName()] = enumspb.INDEXED_VALUE_TYPE_DATETIME
	return out
}
