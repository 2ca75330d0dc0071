package dispatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/triggerflow/triggerflow/store"
	"go.temporal.io/sdk/client"
)

// SweepUndispatched hands over batches whose publisher stored them but died
// (or lost Temporal) before handing them over. It claims stale batches (so
// sweepers in several processes share a backlog), dispatches the ones
// already assigned to a group as that group, and groups the others — up to
// maxGroup deliveries and runs per group, so a backlog drains in few
// workflows. It returns how many batches it handed over and whether it
// claimed a full page (more may be waiting).
func SweepUndispatched(ctx context.Context, c client.Client, events *store.Events, olderThan time.Duration, separate bool, log *slog.Logger) (int, bool, error) {
	const page, maxGroup = 200, 2000
	stale, err := events.ClaimStaleBatches(ctx, time.Now().Add(-olderThan), page)
	if err != nil {
		return 0, false, err
	}
	n := 0
	dispatch := func(g Group) {
		g.Separate = separate
		var err error
		if g.Targets, err = events.BatchTargets(ctx, g.BatchIDs); err == nil {
			err = Dispatch(ctx, c, events, g)
		}
		if err != nil {
			log.Warn("sweep: batches still not dispatched", "group", g.ID, "batches", len(g.BatchIDs), "error", err)
			return
		}
		n += len(g.BatchIDs)
	}
	done := map[string]bool{}
	var loose []store.StaleBatch
	for _, b := range stale {
		if done[b.Group] {
			continue
		}
		if b.Group == "" || b.Group == b.ID {
			loose = append(loose, b)
			continue
		}
		done[b.Group] = true
		var g Group
		if g.ID, g.BatchIDs, err = events.GroupOf(ctx, b.ID); err != nil {
			log.Warn("sweep: batch group unreadable", "batch", b.ID, "error", err)
			continue
		}
		dispatch(g)
	}
	// Batches never handed over with others are grouped anew.
	for len(loose) > 0 {
		var ids []string
		work := 0
		for len(loose) > 0 && (len(ids) == 0 || work+loose[0].Work <= maxGroup) {
			ids = append(ids, loose[0].ID)
			work += loose[0].Work
			loose = loose[1:]
		}
		// A lone batch keeps its own name (the workflow its publisher may
		// have started is the one to find); batches put together get a
		// fresh one, never a name one of them may already have used alone.
		g := Group{ID: ids[0], BatchIDs: ids}
		if len(ids) > 1 {
			if g.ID, g.BatchIDs, err = events.AssignNewGroup(ctx, ids); err != nil {
				log.Warn("sweep: batches not grouped", "batches", len(ids), "error", err)
				continue
			}
			if len(g.BatchIDs) == 0 {
				continue
			}
		}
		dispatch(g)
	}
	return n, len(stale) == page, nil
}

// ResumeParked hands over the parked deliveries of enabled webhooks (those
// of webhookIDs only, when given): up to limit of them are moved, in publish
// order, into new batches, which are then dispatched like published ones.
// A batch not dispatched here is left, recorded, to the sweep. It returns
// how many deliveries were resumed.
func ResumeParked(ctx context.Context, c client.Client, deliveries *store.Deliveries, events *store.Events,
	webhookIDs []string, limit int, log *slog.Logger) (int, error) {
	batches, err := deliveries.ResumeParked(ctx, webhookIDs, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range batches {
		g := Group{ID: b, BatchIDs: []string{b}, Targets: store.BatchTargets{HasUnordered: true}}
		if err := Dispatch(ctx, c, events, g); err != nil {
			log.Warn("resumed deliveries not dispatched; the sweep will hand them over", "batch", b, "error", err)
		}
		n++
	}
	return n, nil
}
