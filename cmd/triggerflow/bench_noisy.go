package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Noisy neighbours: the same kind of healthy webhook measured alone, beside
// two healthy webhooks on the same events (the control), and beside two
// webhooks on the same events whose receivers misbehave: one answers 200
// with a NUL byte (bytes PostgreSQL cannot store as text), one answers only
// after 25 seconds (its timeout is 30 s). Each delivery's fate is its own, so
// the healthy webhook should keep its throughput and latency; the figures are
// the healthy webhook's only. The control tells what the neighbours' own
// deliveries cost on this machine from what their misbehaviour costs: the
// misbehaving pair should weigh no more than the healthy pair.
//
// The three phases run in turn, noisyRounds times, each round publishing a
// share of the events, and each phase's figures pool its rounds: the
// machine's drift over the run (tables growing, other scenarios' leftovers)
// then weighs on every phase alike instead of on whichever runs last.

// noisySlowDelay is how long the slow neighbour takes to answer.
const noisySlowDelay = 25 * time.Second

// defaultNoisyRates are the publish rates of the noisy-neighbours scenario
// (--noisy-rate). On a 2-core machine 500 events/s keeps the CPU at about 75%
// with the healthy webhook alone and above 80% with two neighbours, whatever
// they answer, so that run shows the machine's capacity as well: the
// neighbours' own deliveries lengthen everyone's queues. At 200 events/s
// the machine has room for them, and what remains is what one webhook's
// behaviour does to another's deliveries.
const defaultNoisyRates = "500,200"

// noisyFullRate is the rate at which the scenario publishes all of its
// events; a lower rate publishes a share of them, so that each rate takes
// about as long.
const noisyFullRate = 500

// noisyRounds is how many times the noisy-neighbours phases run in turn.
const noisyRounds = 2

// noisyPhase is one measurement of the scenario: the healthy webhook with
// neighbours of these kinds ("ok", "nul", "slow"; none: alone).
type noisyPhase struct {
	name       string
	neighbours []string
}

var noisyPhases = []noisyPhase{
	{"noisy neighbours, %d events/s: healthy webhook alone", nil},
	{"noisy neighbours, %d events/s: the same beside 2 healthy webhooks (control)", []string{"ok", "ok"}},
	{"noisy neighbours, %d events/s: the same beside a NUL and a 25 s webhook", []string{"nul", "slow"}},
}

// parseNoisyRates reads --noisy-rate: events per second, a comma list.
func parseNoisyRates(s string) ([]int, error) {
	var rates []int
	for _, r := range strings.Split(s, ",") {
		rate, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || rate <= 0 {
			return nil, fmt.Errorf("--noisy-rate: %q is not a whole number of events per second above 0 (e.g. --noisy-rate 500,200)", strings.TrimSpace(r))
		}
		rates = append(rates, rate)
	}
	return rates, nil
}

// noisyScenarios runs noisyScenario at each rate: n events for each phase
// at noisyFullRate and above, proportionally fewer at lower rates.
func (b *bencher) noisyScenarios(ctx context.Context, rates []int, n int) ([]benchResult, error) {
	var out []benchResult
	for _, rate := range rates {
		res, err := b.noisyScenario(ctx, rate, max(noisyRounds, n*min(rate, noisyFullRate)/noisyFullRate))
		out = append(out, res...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// noisyScenario returns one result per noisyPhases entry: n events in all
// for each, published at rate by single-event clients.
func (b *bencher) noisyScenario(ctx context.Context, rate, n int) ([]benchResult, error) {
	type tally struct {
		prefixes     []string
		elapsed, pub time.Duration
		cpu          float64
		failed       int
		notes        []string
		noise        noiseTally
	}
	tallies := make([]tally, len(noisyPhases))
	per := max(1, n/noisyRounds)
	const typ = "contact.updated"
	for round := 0; round < noisyRounds; round++ {
		for i, ph := range noisyPhases {
			t := &tallies[i]
			codes, err := b.createWebhooks(ctx, typ, 1, false)
			if err != nil {
				return nil, err
			}
			var neighbours []string
			run := b.seq.Add(1)
			for j, kind := range ph.neighbours {
				code := fmt.Sprintf("noise_%s_%d_%d_%d", kind, time.Now().Unix(), run, j)
				body := b.webhookBody(code, typ, false)
				if kind == "slow" {
					body["timeout"] = "30s"
				}
				if _, err := b.mustCall(ctx, 201, "create webhook", withJSON(b.api.CreateWebhookWithBody), body); err != nil {
					return nil, err
				}
				neighbours = append(neighbours, code)
			}
			prefix := fmt.Sprintf("b%d", b.seq.Add(1))
			b.recv.expect(prefix, codes, per)
			n0 := b.recv.noiseCounts()
			cpu0, wall0 := cpuSeconds(), time.Now()
			t.failed += b.publishAtRate(ctx, prefix, typ, per, rate)
			t.pub += time.Since(wall0)
			if err := b.recv.wait(ctx, prefix, per, 10*time.Minute); err != nil {
				t.notes = append(t.notes, err.Error())
			}
			t.elapsed += b.recv.lastReceipt(prefix).Sub(wall0)
			t.cpu += cpuSeconds() - cpu0
			t.prefixes = append(t.prefixes, prefix)
			if len(neighbours) > 0 {
				// Deleting the neighbours cancels what they still carry;
				// the next phase starts once their last requests ended.
				_, _ = b.mustCall(ctx, 200, "delete webhooks", withJSON(b.api.BulkDeleteWebhooksWithBody), map[string]any{"ids": neighbours})
				b.recv.noiseQuiet(ctx, 2*time.Minute)
			}
			t.noise = t.noise.add(b.recv.noiseCounts().sub(n0))
			b.disableWebhooks(ctx, codes)
		}
	}
	out := make([]benchResult, len(noisyPhases))
	for i, ph := range noisyPhases {
		t := tallies[i]
		res := benchResult{Scenario: fmt.Sprintf(ph.name, rate), Events: per * noisyRounds, Deliveries: per * noisyRounds,
			Publisher: fmt.Sprintf("%d events/s, single events, %d rounds", rate, noisyRounds)}
		b.fillPooled(&res, t.prefixes, per*noisyRounds, t.elapsed, t.cpu)
		res.AcceptedPerSec = float64(per*noisyRounds) / t.pub.Seconds()
		notes := t.notes
		if t.failed > 0 {
			notes = append(notes, fmt.Sprintf("%d publishes failed", t.failed))
		}
		if len(ph.neighbours) > 0 {
			notes = append(notes, t.noise.String())
		}
		if i > 0 && out[0].P99ms > 0 && out[0].DeliveredPerSec > 0 {
			notes = append(notes, fmt.Sprintf("vs alone: %.2f of its deliveries/s, p99 %.2f×",
				res.DeliveredPerSec/out[0].DeliveredPerSec, res.P99ms/out[0].P99ms))
		}
		if i == 2 && out[1].P99ms > 0 && out[1].DeliveredPerSec > 0 {
			notes = append(notes, fmt.Sprintf("vs the control: %.2f of its deliveries/s, p99 %.2f×",
				res.DeliveredPerSec/out[1].DeliveredPerSec, res.P99ms/out[1].P99ms))
		}
		res.Note = strings.Join(notes, "; ")
		out[i] = res
	}
	return out, nil
}

// noiseTally counts the neighbours' requests (see benchReceiver.noiseCounts).
type noiseTally struct{ ok, nul, slow, slowSent int }

func (a noiseTally) add(b noiseTally) noiseTally {
	return noiseTally{a.ok + b.ok, a.nul + b.nul, a.slow + b.slow, a.slowSent + b.slowSent}
}

func (a noiseTally) sub(b noiseTally) noiseTally {
	return noiseTally{a.ok - b.ok, a.nul - b.nul, a.slow - b.slow, a.slowSent - b.slowSent}
}

func (a noiseTally) String() string {
	if a.ok > 0 {
		return fmt.Sprintf("the healthy neighbours answered %d requests", a.ok)
	}
	return fmt.Sprintf("the NUL neighbour answered %d requests; the slow one received %d (answered %d before it was deleted)", a.nul, a.slowSent, a.slow)
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
