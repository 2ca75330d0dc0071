package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/triggerflow/triggerflow/apiclient"
	"github.com/triggerflow/triggerflow/store"
)

// backlogEventType is published only by the backlog scenario, so no other
// scenario's webhook takes part in it.
const backlogEventType = "ticket.created"

// backlogRetry is the custom retry policy of the backlog scenario's webhook:
// the failing head is tried again every second, for up to 48 hours, so it is
// sent within a second of the receiver's recovery.
var backlogRetry = map[string]any{"initial_interval": "1s", "backoff": 1.0, "max_interval": "1s", "expire_after": "48h"}

// backlogScenario holds n events behind the failing head of one ordered
// webhook and measures this process's memory (API, worker and Temporal
// server run in it) while they are published and held for hold; then the
// receiver recovers and the drain is timed. Delivered/s, latency and CPU
// are those of the drain; latency includes the time held. Refused tries are
// not receipts; successful receipts must keep publish order, batch by batch.
func (b *bencher) backlogScenario(ctx context.Context, n int, hold time.Duration) (benchResult, error) {
	res := benchResult{Scenario: fmt.Sprintf("backlog: %s events held by an ordered webhook, then drained", groupThousands(n)),
		Events: n, Deliveries: n, BacklogEvents: n, Publisher: fmt.Sprintf("8 clients, batches of %d", publishBatch)}
	code := fmt.Sprintf("bench_backlog_%d_%d", time.Now().Unix(), b.seq.Add(1))
	body := b.webhookBody(code, backlogEventType, true)
	body["retry"] = backlogRetry
	if _, err := b.mustCall(ctx, 201, "create webhook", withJSON(b.api.CreateWebhookWithBody), body); err != nil {
		return res, fmt.Errorf("create the ordered webhook: %w", err)
	}
	defer b.disableWebhooks(ctx, []string{code})
	prefix := fmt.Sprintf("b%d", b.seq.Add(1))
	b.recv.expect(prefix, []string{code}, n)
	b.recv.orderByBatch(prefix, publishBatch)
	b.recv.failPrefix(prefix)
	defer b.recv.failPrefix("")
	b.measureTables(ctx, &res, "before")
	if err := b.holdBacklog(ctx, &res, code, prefix, hold); err != nil {
		return res, err
	}
	b.measureTables(ctx, &res, "held")
	b.recv.failPrefix("")
	cpu0, recovered := cpuSeconds(), time.Now()
	if err := b.recv.wait(ctx, prefix, n, 15*time.Minute); err != nil {
		res.addNote(err.Error())
	}
	b.fill(&res, prefix, n, b.recv.lastReceipt(prefix).Sub(recovered), cpuSeconds()-cpu0)
	res.DrainPerSec = res.DeliveredPerSec
	if bad := b.recv.outOfOrder(prefix); bad > 0 {
		res.addNote(fmt.Sprintf("%d receipts out of publish order", bad))
	}
	b.measureTables(ctx, &res, "drained")
	if b.db != nil {
		// What retention does after its window (30 days by default): the
		// purge, run now for everything finished, leaves the tables as
		// they were before the backlog.
		ret := &store.Retention{DB: b.db}
		for {
			ev, err1 := ret.PurgeEvents(ctx, time.Now(), 5000)
			lg, err2 := ret.PurgeLogs(ctx, time.Now(), 5000)
			if err1 != nil || err2 != nil || ev.Total()+lg.Total() == 0 {
				break
			}
		}
		_, _ = b.db.ExecContext(ctx, `VACUUM events, deliveries, delivery_attempts, publish_batches`)
		b.measureTables(ctx, &res, "purged")
	}
	return res, nil
}

// tableSizes is one reading of the delivery tables.
type tableSizes struct {
	When   string  `json:"when"`
	Rows   int64   `json:"rows"`    // events + deliveries + attempts + batches
	SizeMB float64 `json:"size_mb"` // their total relation size, indexes included
}

// measureTables reads the delivery tables' rows and size when the bench
// runs its own stack.
func (b *bencher) measureTables(ctx context.Context, res *benchResult, when string) {
	if b.db == nil {
		return
	}
	var t tableSizes
	err := b.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM events) + (SELECT count(*) FROM deliveries) +
		(SELECT count(*) FROM delivery_attempts) + (SELECT count(*) FROM publish_batches),
		(pg_total_relation_size('events') + pg_total_relation_size('deliveries') +
		 pg_total_relation_size('delivery_attempts') + pg_total_relation_size('publish_batches')) / 1048576.0`).Scan(&t.Rows, &t.SizeMB)
	if err != nil {
		res.addNote("table sizes unreadable: " + err.Error())
		return
	}
	t.When = when
	res.Tables = append(res.Tables, t)
}

// holdBacklog publishes res.Events events while the receiver refuses them,
// keeps them held for hold, and records the memory figures: the baseline
// before publishing, the peaks sampled every 250 ms from the first publish
// to the end of the hold, and the heap after a GC at the end of the hold.
// A backlog that was not whole (not every delivery pending, one received,
// or the head never tried) is reported in res.Note.
func (b *bencher) holdBacklog(ctx context.Context, res *benchResult, code, prefix string, hold time.Duration) error {
	base := settledMemory()
	res.HeapBaselineMB, res.RSSBaselineMB = base.HeapMB, base.RSSMB
	sampler := startMemSampler(250 * time.Millisecond)
	throttled := b.throttled.Load()
	pubTime, err := b.publishAll(ctx, prefix, backlogEventType, res.Events, true)
	if err != nil {
		sampler.stop()
		return fmt.Errorf("publish the backlog: %w", err)
	}
	res.AcceptedPerSec = float64(res.Events) / pubTime.Seconds()
	if waits := b.throttled.Load() - throttled; waits > 0 {
		res.addNote(fmt.Sprintf("publishing waited out the API's rate limit %d times", waits))
	}
	select {
	case <-ctx.Done():
		sampler.stop()
		return ctx.Err()
	case <-time.After(hold):
	}
	peak := sampler.stop()
	res.HeapPeakMB, res.RSSPeakMB = peak.HeapMB, peak.RSSMB
	res.HeapHeldMB = settledMemory().HeapMB
	pending, err := b.pendingDeliveries(ctx, code)
	if err != nil {
		return fmt.Errorf("count the held deliveries: %w", err)
	}
	_, received, _ := b.recv.stats(prefix)
	refused := b.recv.refusals(prefix)
	if pending != res.Events || received != 0 || refused == 0 {
		res.addNote(fmt.Sprintf("backlog not held as planned: %d of %d deliveries pending, %d received, head refused %d times",
			pending, res.Events, received, refused))
	}
	return nil
}

// addNote appends note to r.Note, separated by "; ".
func (r *benchResult) addNote(note string) {
	if r.Note != "" {
		r.Note += "; "
	}
	r.Note += note
}

// pendingDeliveries counts the webhook's pending deliveries (the list's total).
func (b *bencher) pendingDeliveries(ctx context.Context, code string) (int, error) {
	status, perPage := "pending", 1
	op := func(ctx context.Context, _ io.Reader) (*http.Response, error) {
		return b.api.ListWebhookDeliveries(ctx, code, &apiclient.ListWebhookDeliveriesParams{Status: &status, PerPage: &perPage})
	}
	raw, err := b.mustCall(ctx, 200, "list pending deliveries", op, nil)
	if err != nil {
		return 0, err
	}
	var list struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return 0, fmt.Errorf("read the deliveries list: %w", err)
	}
	return list.Total, nil
}

// printBacklogFigures writes the backlog scenario's memory and drain figures
// on one line under the table.
func printBacklogFigures(w io.Writer, x benchResult) {
	fmt.Fprintf(w, "backlog of %s events: Go heap %.0f MB at start (after GC), peak %.0f MB while publishing and holding, "+
		"%.0f MB after GC at the end of the hold; RSS %.0f MB at start, peak %.0f MB while publishing and holding; "+
		"drained at %.0f deliveries/s\n",
		groupThousands(x.BacklogEvents), x.HeapBaselineMB, x.HeapPeakMB, x.HeapHeldMB, x.RSSBaselineMB, x.RSSPeakMB, x.DrainPerSec)
	for _, t := range x.Tables {
		fmt.Fprintf(w, "  delivery tables %s: %s rows, %.0f MB\n", t.When, groupThousands(int(t.Rows)), t.SizeMB)
	}
}

// memSample is one reading of this process's memory, in MB.
type memSample struct {
	HeapMB float64 // Go heap in use: spans holding objects, live or not yet swept
	RSSMB  float64 // resident set size (VmRSS)
}

// max is the larger of each figure of s and o.
func (s memSample) max(o memSample) memSample {
	return memSample{HeapMB: max(s.HeapMB, o.HeapMB), RSSMB: max(s.RSSMB, o.RSSMB)}
}

// heapInUseMetrics sum to the Go heap in use (MemStats.HeapInuse).
var heapInUseMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}

// readMemory reads the Go heap in use and the resident set now.
func readMemory() memSample {
	samples := make([]metrics.Sample, len(heapInUseMetrics))
	for i, name := range heapInUseMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	var heap uint64
	for _, s := range samples {
		heap += s.Value.Uint64()
	}
	return memSample{HeapMB: float64(heap) / (1 << 20), RSSMB: currentRSSMB()}
}

// settledMemory collects garbage first, so the heap is what is retained.
func settledMemory() memSample {
	runtime.GC()
	return readMemory()
}

// currentRSSMB is this process's resident memory now (VmRSS of
// /proc/self/status), or 0 where there is no such file.
func currentRSSMB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// memSampler reads memory at a fixed interval and keeps the peaks.
type memSampler struct {
	quit chan struct{}
	peak chan memSample
}

// startMemSampler starts reading memory every interval until stop.
func startMemSampler(every time.Duration) *memSampler {
	s := &memSampler{quit: make(chan struct{}), peak: make(chan memSample, 1)}
	go s.run(every)
	return s
}

// run samples until quit is closed, then hands over the peaks.
func (s *memSampler) run(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	peak := readMemory()
	for {
		select {
		case <-s.quit:
			s.peak <- peak.max(readMemory())
			return
		case <-tick.C:
			peak = peak.max(readMemory())
		}
	}
}

// stop ends the sampling and returns the peaks seen.
func (s *memSampler) stop() memSample {
	close(s.quit)
	return <-s.peak
}

// groupThousands writes n with comma thousands separators (100,000).
func groupThousands(n int) string {
	digits := strconv.Itoa(n)
	var out strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out.WriteByte(',')
		}
		out.WriteRune(d)
	}
	return out.String()
}
