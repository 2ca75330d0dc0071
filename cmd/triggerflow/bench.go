package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/triggerflow/triggerflow/apiclient"
)

// benchOptions are the flags of `triggerflow bench`.
type benchOptions struct {
	API       string
	Token     string
	Quick     bool
	Out       string
	Clients   int
	Scenarios string
	// CPUProfile, when set, receives a pprof CPU profile of the scenario
	// ProfileScenario: API, worker and Temporal server all run in this
	// process.
	CPUProfile      string
	ProfileScenario string
	// NoisyRates are the noisy-neighbours scenario's publish rates
	// (events/s, a comma list): the scenario runs at each in turn.
	NoisyRates string
}

// benchResult is one scenario's figures.
type benchResult struct {
	Scenario        string  `json:"scenario"`
	Events          int     `json:"events"`
	Deliveries      int     `json:"deliveries"`
	Publisher       string  `json:"publisher"`
	AcceptedPerSec  float64 `json:"events_accepted_per_s"`
	DeliveredPerSec float64 `json:"deliveries_per_s"`
	P50ms           float64 `json:"latency_p50_ms"`
	P90ms           float64 `json:"latency_p90_ms"`
	P99ms           float64 `json:"latency_p99_ms"`
	CPUPer1000      float64 `json:"cpu_seconds_per_1000_deliveries"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	Lost            int     `json:"lost"`
	Duplicates      int     `json:"duplicates"`
	RatioToPlain    float64 `json:"ratio_to_plain_http"`
	// The backlog scenario's figures: events held behind a failing head;
	// the Go heap in use (MB) after a GC at the start, its peak while the
	// backlog was published and held, and its size after a GC at the end of
	// the hold; this process's RSS at the start and its peak over the same
	// time; and the deliveries per second from the receiver's recovery to
	// the last receipt.
	BacklogEvents  int     `json:"backlog_events,omitempty"`
	HeapBaselineMB float64 `json:"heap_baseline_mb,omitempty"`
	HeapPeakMB     float64 `json:"heap_peak_mb,omitempty"`
	HeapHeldMB     float64 `json:"heap_held_mb,omitempty"`
	RSSBaselineMB  float64 `json:"rss_baseline_mb,omitempty"`
	RSSPeakMB      float64 `json:"rss_peak_mb,omitempty"`
	DrainPerSec    float64 `json:"drain_per_s,omitempty"`
	// Tables are the delivery tables' live rows and size (MB) before the
	// backlog, while it was held, once drained, and after a retention
	// purge (the bench's own stack only).
	Tables  []tableSizes `json:"tables,omitempty"`
	Note    string       `json:"note,omitempty"`
	Skipped string       `json:"skipped,omitempty"`
}

// benchReport is what bench writes as JSON.
type benchReport struct {
	Date    time.Time     `json:"date"`
	Host    string        `json:"host"`
	CPUs    int           `json:"cpus"`
	Quick   bool          `json:"quick"`
	Target  string        `json:"target"`
	Results []benchResult `json:"results"`
}

// runBench measures publishing and delivery through the real stack: it
// starts the dev stack (or targets --api), a receiver on loopback, creates
// what each scenario needs, publishes, waits for every delivery, checks
// nothing was lost or duplicated, and prints a table and writes JSON.
func runBench(ctx context.Context, cfg Config, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o benchOptions
	fs.StringVar(&o.API, "api", "", "URL of a running TriggerFlow API (default: start a dev stack in a temporary data dir)")
	fs.StringVar(&o.Token, "token", os.Getenv("TRIGGERFLOW_ADMIN_TOKEN"), "API key for --api")
	fs.BoolVar(&o.Quick, "quick", false, "small counts (under 2 minutes), for smoke runs")
	fs.StringVar(&o.Out, "out", "", "JSON output path (default bench/results/<date>.json)")
	fs.IntVar(&o.Clients, "clients", 64, "concurrent single-event publishers")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the --profile scenario to this file (dev stack only)")
	fs.StringVar(&o.ProfileScenario, "profile", "unordered", "the scenario --cpuprofile profiles")
	fs.StringVar(&o.NoisyRates, "noisy-rate", defaultNoisyRates, "events/s the noisy-neighbours scenario publishes (a comma list: it runs at each rate)")
	fs.StringVar(&o.Scenarios, "scenarios", "plain,unordered,fanout,ordered,latency,batch,flow,noisy,backlog,ungrouped", "comma list of scenarios to run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	noisyRates, err := parseNoisyRates(o.NoisyRates)
	if err != nil {
		return err
	}
	log := newLogger(Config{LogLevel: "error", LogFormat: "text"})
	target := o.API
	var db *sqlx.DB // the bench's own stack's database (table sizes)
	if target == "" {
		dir, err := os.MkdirTemp("", "triggerflow-bench-")
		if err != nil {
			return err
		}
		os.Chmod(dir, 0o755)
		defer os.RemoveAll(dir)
		dcfg := cfg
		dcfg.DataDir, dcfg.HTTPAddr, dcfg.TemporalPort, dcfg.UIPort, dcfg.DatabaseURL = dir, "127.0.0.1:0", 0, 0, ""
		// The per-key publish limit (default 5,000 events/s) protects a
		// shared installation; the bench measures the engine behind it.
		dcfg.PublishRate = 0
		fmt.Fprintln(os.Stderr, "bench: starting a dev stack in", dir)
		stack, err := startDev(ctx, dcfg, log)
		if err != nil {
			return err
		}
		defer stack.Stop()
		target, o.Token, db = stack.APIURL, stack.AdminToken(), stack.db
	}
	b, err := newBencher(ctx, target, o.Token, o)
	if err != nil {
		return err
	}
	b.db = db
	defer b.close()
	report := benchReport{Date: time.Now().UTC(), CPUs: cpuCount(), Quick: o.Quick, Target: target}
	report.Host, _ = os.Hostname()
	n := func(full, quick int) int {
		if o.Quick {
			return quick
		}
		return full
	}
	var plain float64
	for _, sc := range strings.Split(o.Scenarios, ",") {
		var res benchResult
		var err error
		sc = strings.TrimSpace(sc)
		stopProfile := func() {}
		if sc == o.ProfileScenario {
			if stopProfile, err = startCPUProfile(o.CPUProfile); err != nil {
				return err
			}
		}
		switch sc {
		case "plain":
			res = b.plainHTTP(ctx, n(20000, 5000))
		case "unordered":
			res, err = b.deliveryScenario(ctx, "unordered: 1 webhook", "task.created", 1, false, n(20000, 2000), false)
		case "noisy":
			var phases []benchResult
			phases, err = b.noisyScenarios(ctx, noisyRates, n(10000, 2000))
			if len(phases) > 0 {
				report.Results = append(report.Results, phases[:len(phases)-1]...)
				res = phases[len(phases)-1]
			}
		case "fanout":
			res, err = b.deliveryScenario(ctx, "fan-out: 10 webhooks", "user.created", 10, false, n(3000, 500), false)
		case "ordered":
			res, err = b.deliveryScenario(ctx, "ordered: 1 webhook", "case.created", 1, true, n(5000, 1000), false)
		case "batch":
			res, err = b.deliveryScenario(ctx, "unordered, batch publish", "element.created", 1, false, n(20000, 2000), true)
		case "flow":
			res, err = b.flowScenario(ctx, n(3000, 500))
		case "latency":
			res, err = b.latencyScenario(ctx, 100, time.Duration(n(30, 10))*time.Second)
		case "ungrouped":
			if o.API != "" {
				res = benchResult{Scenario: "unordered, TRIGGERFLOW_DELIVERY_GROUPING=off", Skipped: "needs its own dev stack (no --api)"}
				break
			}
			res, err = ungroupedScenario(ctx, cfg, log, o, n(5000, 1000))
		case "backlog":
			res, err = b.backlogScenario(ctx, n(100000, 10000), time.Duration(n(10, 5))*time.Second)
		default:
			err = fmt.Errorf("unknown scenario %q", sc)
		}
		stopProfile()
		if err != nil {
			return fmt.Errorf("scenario %s: %w", sc, err)
		}
		if res.Scenario == "plain HTTP client → receiver" {
			plain = res.DeliveredPerSec
		}
		report.Results = append(report.Results, res)
		fmt.Fprintf(os.Stderr, "bench: %s done\n", res.Scenario)
	}
	for i := range report.Results {
		if plain > 0 && report.Results[i].DeliveredPerSec > 0 {
			report.Results[i].RatioToPlain = report.Results[i].DeliveredPerSec / plain
		}
	}
	printBenchTable(os.Stdout, report)
	out := o.Out
	if out == "" {
		out = filepath.Join("bench", "results", report.Date.Format("2006-01-02T150405Z")+".json")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(report, "", "  ")
	if err := os.WriteFile(out, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", out)
	return nil
}

func printBenchTable(w io.Writer, r benchReport) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tevents\tdeliveries\taccepted/s\tdelivered/s\tvs plain\tp50 ms\tp90 ms\tp99 ms\tCPU s/1k\tpeak RSS MB\tlost\tdup\t")
	for _, x := range r.Results {
		if x.Skipped != "" {
			fmt.Fprintf(tw, "%s\tskipped: %s\t\t\t\t\t\t\t\t\t\t\t\t\n", x.Scenario, x.Skipped)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\t%.3f\t%.1f\t%.1f\t%.1f\t%.2f\t%.0f\t%d\t%d\t\n", x.Scenario, x.Events, x.Deliveries,
			x.AcceptedPerSec, x.DeliveredPerSec, x.RatioToPlain, x.P50ms, x.P90ms, x.P99ms, x.CPUPer1000, x.PeakRSSMB, x.Lost, x.Duplicates)
	}
	tw.Flush()
	for _, x := range r.Results {
		if x.BacklogEvents > 0 {
			printBacklogFigures(w, x)
		}
	}
	for _, x := range r.Results {
		if x.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", x.Scenario, x.Note)
		}
	}
}

// bencher holds the receiver and the API client of a bench run.
type bencher struct {
	apiURL, token string
	api           *apiclient.Client
	opts          benchOptions
	client        *http.Client
	recv          *benchReceiver
	seq           atomic.Int64
	throttled     atomic.Int64 // publishes answered 429 (rate limited) and sent again
	db            *sqlx.DB     // the bench's own stack's database; nil with --api
}

func newBencher(ctx context.Context, api, token string, o benchOptions) (*bencher, error) {
	rc, err := startBenchReceiver()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	b := &bencher{apiURL: strings.TrimRight(api, "/"), token: token, opts: o, client: &http.Client{Transport: tr, Timeout: time.Minute}, recv: rc}
	if o.Token == "" && token == "" {
		return nil, errors.New("an API key is needed: --token or TRIGGERFLOW_ADMIN_TOKEN")
	}
	if b.token == "" {
		b.token = o.Token
	}
	b.api, err = apiclient.NewClient(b.apiURL, apiclient.WithHTTPClient(b.client), apiclient.WithRequestEditorFn(
		func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+b.token)
			return nil
		}))
	if err != nil {
		return nil, err
	}
	ready := func(ctx context.Context, _ io.Reader) (*http.Response, error) { return b.api.GetReadiness(ctx) }
	if code, body, err := b.call(ctx, ready, nil); err != nil || code != 200 {
		return nil, fmt.Errorf("API at %s is not ready: %d %s %v", api, code, body, err)
	}
	return b, nil
}

func (b *bencher) close() { b.recv.srv.Close() }

// benchCall is one operation of the typed client generated from
// schemas/openapi.json (apiclient), given its JSON body (nil for none): the
// bench drives the API through the document, as any client would.
type benchCall func(ctx context.Context, body io.Reader) (*http.Response, error)

// withJSON adapts a generated "…WithBody" operation to an benchCall.
func withJSON(op func(context.Context, string, io.Reader, ...apiclient.RequestEditorFn) (*http.Response, error)) benchCall {
	return func(ctx context.Context, body io.Reader) (*http.Response, error) {
		return op(ctx, "application/json", body)
	}
}

func (b *bencher) call(ctx context.Context, op benchCall, body any) (int, []byte, error) {
	code, _, raw, err := b.send(ctx, op, body)
	return code, raw, err
}

// send makes one API request with body as JSON and returns the answer's
// status, headers and body.
func (b *bencher) send(ctx context.Context, op benchCall, body any) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	resp, err := op(ctx, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw, nil
}

// publish posts one event or a batch. Over the key's publish rate (429) it
// waits as Retry-After says and sends the same events again (publishing is
// idempotent by event id).
func (b *bencher) publish(ctx context.Context, body any) error {
	for {
		code, hdr, raw, err := b.send(ctx, withJSON(b.api.PublishEventsWithBody), body)
		if err != nil {
			return err
		}
		switch code {
		case http.StatusAccepted:
			return nil
		case http.StatusTooManyRequests:
			b.throttled.Add(1)
		default:
			return fmt.Errorf("POST /v1/events: %d %s", code, raw)
		}
		wait := time.Second
		if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err == nil && secs > 0 {
			wait = time.Duration(secs) * time.Second
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// mustCall makes a call that must answer want; what names it in errors.
func (b *bencher) mustCall(ctx context.Context, want int, what string, op benchCall, body any) ([]byte, error) {
	code, raw, err := b.call(ctx, op, body)
	if err != nil {
		return nil, err
	}
	if code != want {
		return raw, fmt.Errorf("%s: %d %s", what, code, raw)
	}
	return raw, nil
}

// createWebhooks makes n webhooks for eventType pointing at the receiver.
func (b *bencher) createWebhooks(ctx context.Context, eventType string, n int, ordered bool) ([]string, error) {
	run := b.seq.Add(1)
	var codes []string
	for i := 0; i < n; i++ {
		code := fmt.Sprintf("bench_%d_%d_%d", time.Now().Unix(), run, i)
		if _, err := b.mustCall(ctx, 201, "create webhook", withJSON(b.api.CreateWebhookWithBody), b.webhookBody(code, eventType, ordered)); err != nil {
			return nil, err
		}
		codes = append(codes, code)
	}
	return codes, nil
}

// webhookBody is the creation request of a webhook for eventType that posts
// to the receiver at /code; the receiver learns which event each request
// carries from X-Event-Id.
func (b *bencher) webhookBody(code, eventType string, ordered bool) map[string]any {
	return map[string]any{
		"name": code, "code": code, "url": b.recv.url + "/" + code, "event_types": []string{eventType}, "ordered": ordered,
		"headers": map[string]string{"X-Event-Id": "{{ event.id }}"},
	}
}

func (b *bencher) disableWebhooks(ctx context.Context, codes []string) {
	_, _ = b.mustCall(ctx, 200, "disable webhooks", withJSON(b.api.BulkDisableWebhooksWithBody), map[string]any{"ids": codes})
}

// eventBody is a realistic event of the seeds' shape (~500 bytes).
func eventBody(id, typ string, i int) map[string]any {
	return map[string]any{"id": id, "type": typ, "data": map[string]any{
		"agentInteractionId": fmt.Sprint(181331 + i), "wrapCode": "209", "wrapDescription": "Complete",
		"callerNumber": "+612XXXXXXXX", "calledNumber": "+614XXXXXXXX", "campaignId": "20161", "seq": i,
		"lead":      map[string]any{"completed": true, "totalAttempts": "1", "listId": "20583", "customerKey": "258372"},
		"durations": map[string]any{"preview": 0, "dial": 0, "interaction": 20, "talk": 12, "wrap": 8},
	}}
}

// publishBatch is how many events one batch publish carries: publishAll's
// batch k holds the ids k*publishBatch up to (k+1)*publishBatch-1.
const publishBatch = 200

// publishAll sends events with the single-event API from opts.Clients
// workers (or in batches of publishBatch) and returns when all are accepted.
func (b *bencher) publishAll(ctx context.Context, prefix, typ string, n int, batch bool) (time.Duration, error) {
	start := time.Now()
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	workers := b.opts.Clients
	size := 1
	if batch {
		size, workers = publishBatch, 8
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(int64(size))) - size
				if from >= n {
					return
				}
				to := min(from+size, n)
				var body any
				if batch {
					evs := make([]map[string]any, 0, to-from)
					for i := from; i < to; i++ {
						id := fmt.Sprintf("%s-%06d", prefix, i)
						b.recv.sent(id)
						evs = append(evs, eventBody(id, typ, i))
					}
					body = map[string]any{"events": evs}
				} else {
					id := fmt.Sprintf("%s-%06d", prefix, from)
					b.recv.sent(id)
					body = eventBody(id, typ, from)
				}
				if err := b.publish(ctx, body); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				b.recv.accepted(prefix, from, to)
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

func (b *bencher) deliveryScenario(ctx context.Context, name, typ string, hooks int, ordered bool, n int, batch bool) (benchResult, error) {
	res := benchResult{Scenario: name, Events: n, Deliveries: n * hooks, Publisher: fmt.Sprintf("%d clients, single events", b.opts.Clients)}
	if batch {
		res.Publisher = "8 clients, batches of 200"
	}
	codes, err := b.createWebhooks(ctx, typ, hooks, ordered)
	if err != nil {
		return res, err
	}
	defer b.disableWebhooks(ctx, codes)
	prefix := fmt.Sprintf("b%d", b.seq.Add(1))
	b.recv.expect(prefix, codes, n)
	if ordered && !batch {
		b.recv.orderCausally(prefix)
	}
	cpu0, wall0 := cpuSeconds(), time.Now()
	pubTime, err := b.publishAll(ctx, prefix, typ, n, batch)
	if err != nil {
		return res, err
	}
	res.AcceptedPerSec = float64(n) / pubTime.Seconds()
	if err := b.recv.wait(ctx, prefix, n*hooks, 10*time.Minute); err != nil {
		res.Note = err.Error()
	}
	elapsed := b.recv.lastReceipt(prefix).Sub(wall0)
	b.fill(&res, prefix, n*hooks, elapsed, cpuSeconds()-cpu0)
	if ordered {
		bad := b.recv.outOfOrder(prefix)
		if !batch {
			bad = b.recv.inversions(prefix)
		}
		if bad > 0 {
			res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" %d receipts out of publish order", bad))
		}
	}
	return res, nil
}

// flowScenario publishes to an On Event trigger whose flow has one
// http.request step aimed at the receiver.
func (b *bencher) flowScenario(ctx context.Context, n int) (benchResult, error) {
	res := benchResult{Scenario: "flow: trigger, 1 http.request step", Events: n, Deliveries: n, Publisher: fmt.Sprintf("%d clients, single events", b.opts.Clients)}
	run := b.seq.Add(1)
	code := fmt.Sprintf("benchflow_%d_%d", time.Now().Unix(), run)
	flowName := "bench_flow_" + code
	status, raw, err := b.call(ctx, withJSON(b.api.CreateFlowWithBody), map[string]any{"name": flowName, "type": "service", "steps": []map[string]any{{
		"name": "notify_receiver", "action": "http.request",
		"params": map[string]any{"method": "POST", "url": b.recv.url + "/" + code, "headers": map[string]string{"X-Event-Id": "{{ event.id }}"}, "body": "{{ event.id }}"},
	}}})
	if err != nil {
		return res, err
	}
	if status == 404 {
		res.Skipped = "this API has no flows"
		return res, nil
	}
	if status != 201 {
		return res, fmt.Errorf("create flow: %d %s", status, raw)
	}
	raw, err = b.mustCall(ctx, 201, "create trigger", withJSON(b.api.CreateTriggerWithBody), map[string]any{"name": code, "type": "on_event", "flow": flowName,
		"object": "lead", "event": "outcome_predictive"})
	if err != nil {
		return res, err
	}
	var trig struct{ ID string }
	_ = json.Unmarshal(raw, &trig)
	defer b.call(ctx, func(ctx context.Context, body io.Reader) (*http.Response, error) {
		return b.api.UpdateTriggerWithBody(ctx, trig.ID, "application/json", body)
	}, map[string]any{"enabled": false})
	prefix := fmt.Sprintf("b%d", b.seq.Add(1))
	b.recv.expect(prefix, []string{code}, n)
	cpu0, wall0 := cpuSeconds(), time.Now()
	pubTime, err := b.publishAll(ctx, prefix, "lead.outcome_predictive", n, false)
	if err != nil {
		return res, err
	}
	res.AcceptedPerSec = float64(n) / pubTime.Seconds()
	if err := b.recv.wait(ctx, prefix, n, 10*time.Minute); err != nil {
		res.Note = err.Error()
	}
	b.fill(&res, prefix, n, b.recv.lastReceipt(prefix).Sub(wall0), cpuSeconds()-cpu0)
	return res, nil
}

// latencyScenario publishes at a fixed rate and reports publish→receipt.
func (b *bencher) latencyScenario(ctx context.Context, rate int, dur time.Duration) (benchResult, error) {
	n := int(float64(rate) * dur.Seconds())
	res := benchResult{Scenario: fmt.Sprintf("latency: %d events/s for %s", rate, dur), Events: n, Deliveries: n, Publisher: "fixed rate, single events"}
	codes, err := b.createWebhooks(ctx, "survey.created", 1, false)
	if err != nil {
		return res, err
	}
	defer b.disableWebhooks(ctx, codes)
	prefix := fmt.Sprintf("b%d", b.seq.Add(1))
	b.recv.expect(prefix, codes, n)
	cpu0, wall0 := cpuSeconds(), time.Now()
	failed := b.publishAtRate(ctx, prefix, "survey.created", n, rate)
	res.AcceptedPerSec = float64(n) / time.Since(wall0).Seconds()
	if err := b.recv.wait(ctx, prefix, n, 5*time.Minute); err != nil {
		res.Note = err.Error()
	}
	if failed > 0 {
		res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" %d publishes failed", failed))
	}
	b.fill(&res, prefix, n, b.recv.lastReceipt(prefix).Sub(wall0), cpuSeconds()-cpu0)
	return res, nil
}

// publishAtRate publishes n single events of typ at rate per second, each
// from its own request, and returns how many publishes failed.
func (b *bencher) publishAtRate(ctx context.Context, prefix, typ string, n, rate int) int {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := 0; i < n; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("%s-%06d", prefix, i)
			b.recv.sent(id)
			if _, err := b.mustCall(ctx, 202, "publish", withJSON(b.api.PublishEventsWithBody), eventBody(id, typ, i)); err != nil {
				failed.Add(1)
			}
		}(i)
	}
	wg.Wait()
	return int(failed.Load())
}

// plainHTTP posts the same bodies straight to the receiver: the machine's
// limit, to which every scenario is compared.
func (b *bencher) plainHTTP(ctx context.Context, n int) benchResult {
	res := benchResult{Scenario: "plain HTTP client → receiver", Events: n, Deliveries: n, Publisher: fmt.Sprintf("%d clients", b.opts.Clients)}
	code := "plain"
	prefix := fmt.Sprintf("b%d", b.seq.Add(1))
	b.recv.expect(prefix, []string{code}, n)
	cpu0, start := cpuSeconds(), time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < b.opts.Clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := fmt.Sprintf("%s-%06d", prefix, i)
				raw, _ := json.Marshal(eventBody(id, "plain", i))
				req, _ := http.NewRequestWithContext(ctx, "POST", b.recv.url+"/"+code, bytes.NewReader(raw))
				req.Header.Set("X-Event-Id", id)
				req.Header.Set("Content-Type", "application/json")
				b.recv.sent(id)
				if resp, err := b.client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.AcceptedPerSec = float64(n) / elapsed.Seconds()
	b.fill(&res, prefix, n, elapsed, cpuSeconds()-cpu0)
	return res
}

// fill computes throughput, latency percentiles, CPU and loss figures.
func (b *bencher) fill(res *benchResult, prefix string, want int, elapsed time.Duration, cpu float64) {
	b.fillPooled(res, []string{prefix}, want, elapsed, cpu)
}

// fillPooled is fill for a measurement made in several parts (prefixes):
// their receipts are counted together, over their summed time and CPU.
func (b *bencher) fillPooled(res *benchResult, prefixes []string, want int, elapsed time.Duration, cpu float64) {
	var lat []time.Duration
	var unique, total int
	for _, p := range prefixes {
		l, u, t := b.recv.stats(p)
		lat, unique, total = append(lat, l...), unique+u, total+t
	}
	if elapsed > 0 {
		res.DeliveredPerSec = float64(unique) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		res.P50ms, res.P90ms, res.P99ms = pct(0.50), pct(0.90), pct(0.99)
	}
	if unique > 0 {
		res.CPUPer1000 = cpu / float64(unique) * 1000
	}
	res.Lost = want - unique
	res.Duplicates = total - unique
	res.PeakRSSMB = peakRSSMB()
}

// benchReceiver is a minimal loopback receiver that records each receipt by
// path (the webhook code) and X-Event-Id. Requests for the events of the
// failing prefix are refused with 503 and are not receipts.
type benchReceiver struct {
	url string
	srv *http.Server

	mu         sync.Mutex
	sentAt     map[string]time.Time
	acceptedAt map[string]time.Time   // of events checked causally
	groups     map[string]*benchGroup // by event id prefix
	failing    string                 // event id prefix answered 503; "" for none
	notify     chan struct{}
	// Requests the neighbours answered (see noisyScenario), the slow
	// neighbour's requests received and those still open.
	noiseOK, noiseNUL, noiseSlow, noiseSlowSent, noiseOpen int
}

// noiseQuiet waits (up to limit) until no request of the slow neighbour is
// open, so what the neighbours left behind does not weigh on the next
// scenario.
func (rc *benchReceiver) noiseQuiet(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rc.mu.Lock()
		open := rc.noiseOpen
		rc.mu.Unlock()
		if open == 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// noiseCounts is how many requests the healthy, the NUL and the slow
// neighbours answered so far, and how many the slow one received.
func (rc *benchReceiver) noiseCounts() noiseTally {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return noiseTally{rc.noiseOK, rc.noiseNUL, rc.noiseSlow, rc.noiseSlowSent}
}

// serveNoise answers the neighbours' requests: 200 with no body at once (the
// control's healthy neighbours), a NUL byte at once, or 200 after
// noisySlowDelay. It reports whether the request was one of theirs.
func (rc *benchReceiver) serveNoise(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case strings.HasPrefix(r.URL.Path, "/noise_ok_"):
		rc.mu.Lock()
		rc.noiseOK++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(r.URL.Path, "/noise_nul_"):
		rc.mu.Lock()
		rc.noiseNUL++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		w.Write([]byte{0})
	case strings.HasPrefix(r.URL.Path, "/noise_slow_"):
		rc.mu.Lock()
		rc.noiseOpen++
		rc.noiseSlowSent++
		rc.mu.Unlock()
		defer func() {
			rc.mu.Lock()
			rc.noiseOpen--
			rc.mu.Unlock()
		}()
		select {
		case <-time.After(noisySlowDelay):
		case <-r.Context().Done():
			return true
		}
		rc.mu.Lock()
		rc.noiseSlow++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		return false
	}
	return true
}

// benchGroup is what the receiver saw of one scenario's events.
type benchGroup struct {
	codes    map[string]bool
	seen     map[string]int // code/event id → receipts
	latency  []time.Duration
	total    int
	last     time.Time
	order    map[string]int // code → last seq seen
	disorder int
	batch    int // > 0: publish batches of this size, accepted in any order
	// causal: the events were published one by one by concurrent clients,
	// whose order is only what they saw: an event accepted (202) before
	// another was sent must be received first (see inversions).
	causal   bool
	receipts []string // first receipts' event ids, in order (causal only)
	refused  int      // requests answered 503 while the prefix was failing
}

func startBenchReceiver() (*benchReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &benchReceiver{url: "http://" + ln.Addr().String(), sentAt: map[string]time.Time{}, acceptedAt: map[string]time.Time{}, groups: map[string]*benchGroup{}, notify: make(chan struct{}, 1)}
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 10 * time.Second}
	go rc.srv.Serve(ln)
	return rc, nil
}

func (rc *benchReceiver) expect(prefix string, codes []string, n int) {
	g := &benchGroup{codes: map[string]bool{}, seen: map[string]int{}, order: map[string]int{}}
	for _, c := range codes {
		g.codes[c] = true
		g.order[c] = -1
	}
	rc.mu.Lock()
	rc.groups[prefix] = g
	rc.mu.Unlock()
}

func (rc *benchReceiver) sent(id string) {
	now := time.Now()
	rc.mu.Lock()
	rc.sentAt[id] = now
	rc.mu.Unlock()
}

// accepted records that events prefix-from … prefix-(to-1) were answered 202
// (kept only for groups checked causally).
func (rc *benchReceiver) accepted(prefix string, from, to int) {
	now := time.Now()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if g := rc.groups[prefix]; g != nil && g.causal {
		for i := from; i < to; i++ {
			rc.acceptedAt[fmt.Sprintf("%s-%06d", prefix, i)] = now
		}
	}
}

// orderCausally makes prefix's order check causal (see benchGroup.causal).
func (rc *benchReceiver) orderCausally(prefix string) {
	rc.mu.Lock()
	rc.groups[prefix].causal = true
	rc.mu.Unlock()
}

// inversions counts events received after an event that was sent only once
// they had been accepted: the publish-order violations concurrent
// single-event publishers can observe.
func (rc *benchReceiver) inversions(prefix string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	g := rc.groups[prefix]
	bad := 0
	var latestSend time.Time // the latest send among the receipts so far
	for _, id := range g.receipts {
		if acc, ok := rc.acceptedAt[id]; ok && latestSend.After(acc) {
			bad++
		}
		if t := rc.sentAt[id]; t.After(latestSend) {
			latestSend = t
		}
	}
	return bad
}

func (rc *benchReceiver) serve(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if rc.serveNoise(w, r) {
		return
	}
	now := time.Now()
	id := r.Header.Get("X-Event-Id")
	code := strings.TrimPrefix(r.URL.Path, "/")
	prefix, seqText, _ := strings.Cut(id, "-")
	rc.mu.Lock()
	if rc.failing != "" && prefix == rc.failing {
		if g := rc.groups[prefix]; g != nil {
			g.refused++
		}
		rc.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if g := rc.groups[prefix]; g != nil {
		key := code + "/" + id
		g.total++
		if g.seen[key] == 0 {
			if t, ok := rc.sentAt[id]; ok {
				g.latency = append(g.latency, now.Sub(t))
			}
		}
		g.seen[key]++
		g.last = now
		seq, _ := strconv.Atoi(seqText) // zero-padded decimal, not octal
		if g.causal {
			if g.seen[key] == 1 {
				g.receipts = append(g.receipts, id)
			}
		} else if g.follows(code, seq) {
			g.order[code] = seq
		} else {
			g.disorder++
		}
	}
	rc.mu.Unlock()
	select {
	case rc.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

// follows reports whether seq may follow code's last receipt in publish
// order. Ids must not go back; with batches, whose order concurrent
// publishers do not decide, a batch goes on id by id and the next batch
// starts only after the previous one ended.
func (g *benchGroup) follows(code string, seq int) bool {
	last := g.order[code]
	if g.batch == 0 || seq == last {
		return seq >= last
	}
	if seq%g.batch == 0 {
		return (last+1)%g.batch == 0
	}
	return seq == last+1
}

// orderByBatch tells the receiver that prefix's events were published in
// batches of size by concurrent publishers (see benchGroup.follows).
func (rc *benchReceiver) orderByBatch(prefix string, size int) {
	rc.mu.Lock()
	rc.groups[prefix].batch = size
	rc.mu.Unlock()
}

// failPrefix makes the receiver refuse (503) the events whose id starts with
// prefix and a dash; "" stops refusing.
func (rc *benchReceiver) failPrefix(prefix string) {
	rc.mu.Lock()
	rc.failing = prefix
	rc.mu.Unlock()
}

// refusals is how many requests for prefix's events were answered 503.
func (rc *benchReceiver) refusals(prefix string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.groups[prefix].refused
}

func (rc *benchReceiver) stats(prefix string) ([]time.Duration, int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	g := rc.groups[prefix]
	return append([]time.Duration(nil), g.latency...), len(g.seen), g.total
}

func (rc *benchReceiver) lastReceipt(prefix string) time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.groups[prefix].last
}

func (rc *benchReceiver) outOfOrder(prefix string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.groups[prefix].disorder
}

// wait blocks until n distinct (webhook, event) receipts arrived, timeout
// passed, or nothing new arrived for a minute (a stall: something is lost).
func (rc *benchReceiver) wait(ctx context.Context, prefix string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last, lastChange := -1, time.Now()
	for {
		_, unique, _ := rc.stats(prefix)
		if unique >= n {
			return nil
		}
		if unique != last {
			last, lastChange = unique, time.Now()
		}
		if time.Since(lastChange) > time.Minute {
			return fmt.Errorf("stalled: only %d of %d deliveries arrived, none in the last minute", unique, n)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d deliveries arrived within %s", unique, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rc.notify:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startCPUProfile starts a CPU profile into path ("" does nothing) and
// returns the function that stops it.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// cpuSeconds is the CPU time of the whole machine (user+system, all
// processes: API, worker, Temporal, PostgreSQL and the bench itself), so
// CPU per delivery counts everything the delivery cost.
func cpuSeconds() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	var user, nice, system, idle, iowait, irq, softirq float64
	fmt.Sscanf(strings.TrimPrefix(line, "cpu"), "%f %f %f %f %f %f %f", &user, &nice, &system, &idle, &iowait, &irq, &softirq)
	return (user + nice + system + irq + softirq) / 100 // USER_HZ
}

// peakRSSMB is this process's peak resident memory (the dev stack runs in it).
func peakRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

func cpuCount() int {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	n := strings.Count(string(raw), "processor\t:")
	if n == 0 {
		return 1
	}
	return n
}
