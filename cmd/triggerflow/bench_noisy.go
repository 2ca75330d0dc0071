package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Noisy neighbours: the same healthy webhook measured twice in one run —
// alone, then beside two webhooks on the same events whose receivers
// misbehave: one answers 200 with a NUL byte (bytes PostgreSQL cannot store
// as text), one answers only after 25 seconds (its timeout is 30 s). Each
// delivery's fate is its own, so the healthy webhook should keep its
// throughput and latency; the figures are the healthy webhook's only.

// noisySlowDelay is how long the slow neighbour takes to answer.
const noisySlowDelay = 25 * time.Second

// defaultNoisyRate is the publish rate of the noisy-neighbours scenario
// (--noisy-rate): the neighbours triple the work per event, and on a 2-core
// machine 500 events/s keeps its CPU at about 80% alone and above 90% with
// them, so that run shows the machine's capacity as well; a lower rate shows
// what one webhook's behaviour does to another's deliveries alone.
const defaultNoisyRate = 500

// noisyScenario returns the clean and the noisy measurement: n events
// published at noisyRate by single-event clients.
func (b *bencher) noisyScenario(ctx context.Context, n int) ([2]benchResult, error) {
	var out [2]benchResult
	noisyRate := b.opts.NoisyRate
	if noisyRate <= 0 {
		noisyRate = defaultNoisyRate
	}
	for i, noisy := range []bool{false, true} {
		name := "noisy neighbours: healthy webhook alone"
		if noisy {
			name = "noisy neighbours: healthy beside NUL + 25 s webhooks"
		}
		res := benchResult{Scenario: name, Events: n, Deliveries: n, Publisher: fmt.Sprintf("%d events/s, single events", noisyRate)}
		typ := "contact.created"
		if noisy {
			typ = "contact.updated"
		}
		codes, err := b.createWebhooks(ctx, typ, 1, false)
		if err != nil {
			return out, err
		}
		all := codes
		if noisy {
			run := b.seq.Add(1)
			for _, kind := range []string{"nul", "slow"} {
				code := fmt.Sprintf("noise_%s_%d_%d", kind, time.Now().Unix(), run)
				body := b.webhookBody(code, typ, false)
				if kind == "slow" {
					body["timeout"] = "30s"
				}
				if _, err := b.mustCall(ctx, 201, "create webhook", withJSON(b.api.CreateWebhookWithBody), body); err != nil {
					return out, err
				}
				all = append(all, code)
			}
		}
		prefix := fmt.Sprintf("b%d", b.seq.Add(1))
		b.recv.expect(prefix, codes, n)
		cpu0, wall0 := cpuSeconds(), time.Now()
		failed := b.publishAtRate(ctx, prefix, typ, n, noisyRate)
		res.AcceptedPerSec = float64(n) / time.Since(wall0).Seconds()
		if err := b.recv.wait(ctx, prefix, n, 10*time.Minute); err != nil {
			res.Note = err.Error()
		}
		if failed > 0 {
			res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" %d publishes failed", failed))
		}
		b.fill(&res, prefix, n, b.recv.lastReceipt(prefix).Sub(wall0), cpuSeconds()-cpu0)
		if noisy {
			nul, slow := b.recv.noiseCounts()
			res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" neighbours answered meanwhile: %d NUL, %d slow", nul, slow))
			// Deleting the neighbours cancels what they still carry; the
			// next scenario starts once their last requests ended.
			_, _ = b.mustCall(ctx, 200, "delete webhooks", withJSON(b.api.BulkDeleteWebhooksWithBody), map[string]any{"ids": all[1:]})
			b.recv.noiseQuiet(ctx, 2*time.Minute)
		}
		b.disableWebhooks(ctx, codes)
		out[i] = res
	}
	return out, nil
}

// ungroupedScenario measures the unordered scenario on a second dev stack
// that hands each first try over as its own workflow
// (TRIGGERFLOW_DELIVERY_GROUPING=off), beside the default's figures in the
// same run.
func ungroupedScenario(ctx context.Context, cfg Config, log *slog.Logger, o benchOptions, n int) (benchResult, error) {
	dir, err := os.MkdirTemp("", "triggerflow-bench-ungrouped-")
	if err != nil {
		return benchResult{}, err
	}
	os.Chmod(dir, 0o755)
	defer os.RemoveAll(dir)
	dcfg := cfg
	dcfg.DataDir, dcfg.HTTPAddr, dcfg.TemporalPort, dcfg.UIPort, dcfg.DatabaseURL = dir, "127.0.0.1:0", 0, 0, ""
	dcfg.PublishRate, dcfg.DeliveryGrouping = 0, false
	fmt.Fprintln(os.Stderr, "bench: starting a second dev stack (grouping off) in", dir)
	stack, err := startDev(ctx, dcfg, log)
	if err != nil {
		return benchResult{}, err
	}
	defer stack.Stop()
	b, err := newBencher(ctx, stack.APIURL, stack.AdminToken(), o)
	if err != nil {
		return benchResult{}, err
	}
	defer b.close()
	return b.deliveryScenario(ctx, "unordered, TRIGGERFLOW_DELIVERY_GROUPING=off", "task.created", 1, false, n, false)
}
