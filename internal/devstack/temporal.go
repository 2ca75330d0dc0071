package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	// temporalDefaultNamespace matches the namespace SDK clients use when
	// none is configured, so tools work against the dev stack unchanged.
	temporalDefaultNamespace = "default"
	temporalDefaultIP        = "127.0.0.1"
	// temporalRetention is long enough to inspect finished runs in the UI
	// over a weekend, short enough that a dev database does not grow forever.
	temporalRetention = 72 * time.Hour
	// temporalClusterName must stay constant: it is persisted in the
	// database on first start and namespaces reference it.
	temporalClusterName = "active"
	temporalStoreName   = "sqlite-default"
	// temporalReadyTimeout bounds the whole "wait until usable" phase when the
	// caller's context carries no deadline of its own.
	temporalReadyTimeout = 60 * time.Second
)

// TemporalOptions configures StartTemporal. The zero value is a usable
// in-memory server on a free port without UI.
type TemporalOptions struct {
	// DBFile is the SQLite file that persists all server state. Empty means
	// an in-memory database that vanishes on Stop (meant for tests).
	DBFile string
	// Namespace is created when missing. Defaults to "default".
	Namespace string
	// IP is the address the frontend (and UI) bind to. Defaults to 127.0.0.1;
	// internal services always bind to loopback.
	IP string
	// Port is the frontend gRPC port; 0 picks a free one.
	Port int
	// UIPort is the Web UI port: 0 disables the UI, -1 picks a free port.
	UIPort int
	// UICodecEndpoint, when set, is the codec server the Web UI decodes
	// payloads with (Temporal's "codec endpoint": {endpoint}/decode).
	UICodecEndpoint string
	// SearchAttributes are custom search attributes registered at start when
	// missing from the namespace.
	SearchAttributes map[string]enumspb.IndexedValueType
	// DynamicConfig holds extra dynamic config values (key -> value) that
	// override the dev defaults, e.g. "history.transferProcessorMaxPollRPS": 100.
	DynamicConfig map[string]any
	// Logger receives server logs at WARN and above only, because the
	// server logs several lines per second at INFO. Nil discards them.
	Logger *slog.Logger
}

// Temporal is a running in-process Temporal server (frontend, history,
// matching and worker services) with an optional Web UI.
type Temporal struct {
	server    temporal.Server
	ui        *uiserver.Server
	uiDone    chan struct{}
	address   string
	uiURL     string
	namespace string
	// quiet silences server logs once Stop begins: shutting down produces
	// a burst of expected connection-refused, canceled-poll and
	// failed-partition-load warnings and errors that would only alarm
	// whoever reads the log. Real shutdown failures surface as Stop's
	// error instead.
	quiet *atomic.Bool

	stopOnce sync.Once
	stopErr  error
}

// StartTemporal starts the server, waits until the frontend answers and the
// namespace is usable, and registers the requested search attributes. With a
// DBFile, the schema and namespace are created on first use and reused on
// later starts, so workflows, schedules and search attributes survive a
// restart.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	if opts.Namespace == "" {
		opts.Namespace = temporalDefaultNamespace
	}
	if opts.IP == "" {
		opts.IP = temporalDefaultIP
	}
	if opts.UIPort < -1 || opts.Port < 0 {
		return nil, fmt.Errorf("devstack: invalid temporal ports (port %d, ui port %d)", opts.Port, opts.UIPort)
	}
	logger := temporalFilteredLogger(opts.Logger)

	ports, err := temporalPickPorts(opts)
	if err != nil {
		return nil, err
	}
	connectIP := temporalConnectIP(opts.IP)
	t := &Temporal{
		address:   net.JoinHostPort(connectIP, strconv.Itoa(ports.frontend)),
		namespace: opts.Namespace,
		quiet:     new(atomic.Bool),
	}

	sqlCfg, err := temporalPrepareDB(opts)
	if err != nil {
		return nil, err
	}

	serverOpts := []temporal.ServerOption{
		temporal.WithConfig(temporalServerConfig(opts, ports, sqlCfg)),
		temporal.ForServices(temporal.DefaultServices),
		// Static membership instead of ringpop: a single process needs no
		// gossip, and it saves one membership port per service.
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: static.SingleLocalHost(t.address),
			primitives.HistoryService:  static.SingleLocalHost(temporalLoopback(ports.history)),
			primitives.MatchingService: static.SingleLocalHost(temporalLoopback(ports.matching)),
			primitives.WorkerService:   static.SingleLocalHost(temporalLoopback(ports.worker)),
		}),
		temporal.WithLogger(temporalServerLogger{l: logger, quiet: t.quiet}),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return authorization.NewNoopClaimMapper()
		}),
		temporal.WithDynamicConfigClient(temporalDynamicConfig(opts.DynamicConfig)),
	}
	srv, err := temporal.NewServer(serverOpts...)
	if err != nil {
		return nil, fmt.Errorf("devstack: create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		// Start can fail after some services came up; stopping releases
		// whatever ports they already bound.
		t.quiet.Store(true)
		_ = srv.Stop()
		return nil, fmt.Errorf("devstack: start temporal server: %w", err)
	}
	t.server = srv

	readyCtx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		readyCtx, cancel = context.WithTimeout(ctx, temporalReadyTimeout)
		defer cancel()
	}

	if ports.ui != 0 {
		if err := t.startUI(readyCtx, opts, ports.ui, connectIP); err != nil {
			_ = t.Stop()
			return nil, err
		}
	}

	if err := t.waitReady(readyCtx, logger, opts.SearchAttributes); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

// Address returns the host:port of the frontend gRPC endpoint, suitable for
// client.Options.HostPort.
func (t *Temporal) Address() string { return t.address }

// UIURL returns the Web UI base URL, or "" when the UI is disabled.
func (t *Temporal) UIURL() string { return t.uiURL }

// Namespace returns the namespace created (or reused) at start.
func (t *Temporal) Namespace() string { return t.namespace }

// Stop shuts down the UI and the server and releases their ports. It is safe
// to call more than once; later calls return the first call's result.
func (t *Temporal) Stop() error {
	t.stopOnce.Do(func() {
		t.quiet.Store(true)
		if t.ui != nil {
			t.ui.Stop()
			// Wait for the serving goroutine so the UI port is really
			// free when Stop returns; bounded in case echo misbehaves.
			select {
			case <-t.uiDone:
			case <-time.After(10 * time.Second):
			}
		}
		if t.server != nil {
			t.stopErr = t.server.Stop()
		}
	})
	return t.stopErr
}

// RegisterSearchAttributes adds the custom search attributes from attrs that
// the namespace does not have yet, through the operator service, so the same
// code serves the dev stack and an external cluster (SQL or Elasticsearch
// visibility). Already registered attributes are left alone and no write is
// made when nothing is missing, so on clusters where the operator API may not
// add attributes (e.g. Temporal Cloud, where they are created out of band) it
// still works as a check. An attribute registered with a different type is an
// error, because queries would silently behave differently from what the
// caller expects.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string, attrs map[string]enumspb.IndexedValueType) error {
	if len(attrs) == 0 {
		return nil
	}
	for name, typ := range attrs {
		if typ == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return fmt.Errorf("devstack: search attribute %q has no type", name)
		}
	}
	missing, err := temporalMissingSearchAttributes(ctx, c, namespace, attrs)
	if err != nil || len(missing) == 0 {
		return err
	}
	_, addErr := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if addErr != nil {
		// Another process (e.g. a second worker starting concurrently) may
		// have added the same attributes; that is success as long as they
		// are all there now with the right types.
		still, err := temporalMissingSearchAttributes(ctx, c, namespace, attrs)
		if err != nil || len(still) > 0 {
			return fmt.Errorf("devstack: add search attributes to namespace %q: %w", namespace, addErr)
		}
	}
	return nil
}

// temporalMissingSearchAttributes returns the subset of attrs not registered
// on the namespace, or an error if one is registered with another type.
func temporalMissingSearchAttributes(ctx context.Context, c client.Client, namespace string, attrs map[string]enumspb.IndexedValueType) (map[string]enumspb.IndexedValueType, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("devstack: list search attributes of namespace %q: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, want := range attrs {
		got, ok := resp.GetCustomAttributes()[name]
		if !ok {
			got, ok = resp.GetSystemAttributes()[name]
		}
		switch {
		case !ok:
			missing[name] = want
		case got != want:
			return nil, fmt.Errorf("devstack: search attribute %q is registered as %s, want %s", name, got, want)
		}
	}
	return missing, nil
}

// temporalPorts holds every TCP port the stack binds, so callers can reason
// about collisions in one place.
type temporalPorts struct {
	frontend, history, matching, worker, ui int
}

// temporalPickPorts resolves requested ports and picks free ones for the
// rest. Explicit ports are probed up front because a bind failure inside the
// server or the UI ends in a Fatal log (and os.Exit for the UI) rather than a
// returned error.
func temporalPickPorts(opts TemporalOptions) (temporalPorts, error) {
	p := temporalPorts{frontend: opts.Port, ui: opts.UIPort}
	if p.frontend != 0 {
		if err := temporalProbePort(opts.IP, p.frontend); err != nil {
			return p, err
		}
	}
	if p.ui > 0 {
		if err := temporalProbePort(opts.IP, p.ui); err != nil {
			return p, err
		}
	}

	// Hold all listeners open until every port is chosen so that the same
	// port is never handed out twice.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	pick := func(ip string) (int, error) {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, fmt.Errorf("devstack: pick free port on %s: %w", ip, err)
		}
		held = append(held, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	var err error
	if p.frontend == 0 {
		if p.frontend, err = pick(opts.IP); err != nil {
			return p, err
		}
	}
	if p.ui == -1 {
		if p.ui, err = pick(opts.IP); err != nil {
			return p, err
		}
	}
	for _, dst := range []*int{&p.history, &p.matching, &p.worker} {
		if *dst, err = pick(temporalDefaultIP); err != nil {
			return p, err
		}
	}
	return p, nil
}

func temporalProbePort(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("devstack: port %d on %s is not available: %w", port, ip, err)
	}
	return l.Close()
}

// temporalConnectIP turns a wildcard bind address into one clients can dial.
func temporalConnectIP(ip string) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.IsUnspecified() {
		return temporalDefaultIP
	}
	return ip
}

func temporalLoopback(port int) string {
	return net.JoinHostPort(temporalDefaultIP, strconv.Itoa(port))
}

// temporalPrepareDB builds the SQLite store config and, before the server
// starts, creates the schema (new file only) and the namespace (if missing).
// Creating the namespace directly in the database avoids a
// register-then-wait-for-cache-refresh dance through the API.
func temporalPrepareDB(opts TemporalOptions) (*config.SQL, error) {
	cfg := &config.SQL{PluginName: sqliteplugin.PluginName}
	if opts.DBFile == "" {
		// A uniquely named shared-cache memory database: all services in
		// this process see the same data, and parallel test servers don't.
		cfg.DatabaseName = "temporal-devstack-" + strconv.FormatUint(rand.Uint64(), 36)
		cfg.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	} else {
		cfg.DatabaseName = opts.DBFile
		cfg.ConnectAttributes = map[string]string{
			// rwc creates the file on first use.
			"mode": "rwc",
			// Shared cache is meant for memory databases; a file database
			// is safer with its own page cache.
			"cache": "private",
			// WAL keeps readers (UI, visibility) from blocking the writer
			// and makes a crash lose at most the last transactions instead
			// of corrupting the file; NORMAL sync is durable enough with
			// WAL for a dev box and much faster than FULL.
			"journal_mode": "wal",
			"synchronous":  "normal",
			// Ride out short lock contention (e.g. `sqlite3` opened on the
			// file) instead of failing requests immediately.
			"busy_timeout": "5000",
		}
		if err := temporalEnsureSchema(cfg, opts.DBFile); err != nil {
			return nil, err
		}
	}

	ns, err := sqliteschema.NewNamespaceConfig(temporalClusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devstack: namespace config: %w", err)
	}
	ns.Detail.Config.Retention = durationpb.New(temporalRetention)
	if err := sqliteschema.CreateNamespaces(cfg, ns); err != nil {
		return nil, fmt.Errorf("devstack: create namespace %q: %w", opts.Namespace, err)
	}
	return cfg, nil
}

// temporalEnsureSchema creates the schema when the file is new (absent or
// empty). An existing non-empty file is trusted to hold the schema.
func temporalEnsureSchema(cfg *config.SQL, file string) error {
	st, err := os.Stat(file)
	switch {
	case err == nil && st.Size() > 0:
		return nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("devstack: stat %s: %w", file, err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("devstack: create directory for %s: %w", file, err)
	}
	if err := sqliteschema.SetupSchema(cfg); err != nil {
		// A half-initialized file would be mistaken for a complete one on
		// the next start; remove it so that start retries from scratch.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(file + suffix)
		}
		return fmt.Errorf("devstack: set up temporal schema in %s: %w", file, err)
	}
	return nil
}

// temporalServerConfig is the static server config: single cluster, one
// history shard, archival off, no metrics or pprof listeners.
func temporalServerConfig(opts TemporalOptions, ports temporalPorts, sqlCfg *config.SQL) *config.Config {
	var c config.Config
	c.Global.Membership.MaxJoinDuration = 30 * time.Second
	c.Global.Membership.BroadcastAddress = temporalDefaultIP
	// Global.Metrics stays nil (no-op metrics, no Prometheus listener) and
	// PProf.Port stays 0 (disabled) so no extra ports get bound.

	c.Persistence.DefaultStore = temporalStoreName
	c.Persistence.VisibilityStore = temporalStoreName
	// One shard is plenty for a dev box; note the shard count is persisted
	// on first start and cannot change afterwards.
	c.Persistence.NumHistoryShards = 1
	c.Persistence.DataStores = map[string]config.DataStore{temporalStoreName: {SQL: sqlCfg}}

	frontendAddr := net.JoinHostPort(temporalConnectIP(opts.IP), strconv.Itoa(ports.frontend))
	c.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        temporalClusterName,
		CurrentClusterName:       temporalClusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			temporalClusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
			},
		},
	}
	c.DCRedirectionPolicy.Policy = "noop"

	internal := func(port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: temporalDefaultIP}}
	}
	c.Services = map[string]config.Service{
		// HTTPPort stays 0: the frontend HTTP API would be one more port
		// and nothing in the stack needs it.
		"frontend": {RPC: config.RPC{GRPCPort: ports.frontend, BindOnIP: opts.IP}},
		"history":  internal(ports.history),
		"matching": internal(ports.matching),
		"worker":   internal(ports.worker),
	}
	c.Archival.History.State = "disabled"
	c.Archival.Visibility.State = "disabled"
	c.NamespaceDefaults.Archival.History.State = "disabled"
	c.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The in-process worker service (schedules, batch, system workflows)
	// reaches the frontend through this address.
	c.PublicClient.HostPort = frontendAddr
	return &c
}

// temporalDynamicConfig returns dev-box defaults merged with the caller's
// overrides (which win).
func temporalDynamicConfig(extra map[string]any) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{
		// Search attributes added at runtime must be usable right away
		// instead of after the namespace/search-attribute caches' refresh
		// period (StartTemporal relies on this to return without waiting).
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// Explicitly on (they are defaults today) because the product
		// relies on updates and schedules.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
		dynamicconfig.FrontendEnableSchedules.Key():                            true,
		// The default mutable-state cache (128k entries) is sized for
		// production hosts; a dev box needs far less memory.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,
		// The UI and tests poll visibility a lot; the default of 10 RPS
		// throttles them.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// The worker service starts SDK workers for these background jobs
		// but never stops them (server v1.32 has TODOs saying so): after
		// Stop they keep polling forever, and after a restart on the same
		// port they even attach to the new server with stale state. A dev
		// database gains nothing from the scavengers, and with the
		// parent-close-policy worker off history applies parent close
		// policies inline instead.
		dynamicconfig.TaskQueueScannerEnabled.Key():       false,
		dynamicconfig.HistoryScannerEnabled.Key():         false,
		dynamicconfig.ExecutionsScannerEnabled.Key():      false,
		dynamicconfig.BuildIdScavengerEnabled.Key():       false,
		dynamicconfig.EnableParentClosePolicyWorker.Key(): false,
	}
	for k, v := range extra {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	return dc
}

// startUI serves the embedded Web UI pointed at the frontend and waits until
// it answers on "/".
func (t *Temporal) startUI(ctx context.Context, opts TemporalOptions, port int, connectIP string) error {
	host := opts.IP
	if strings.Contains(host, ":") {
		// The UI server joins Host and Port with a plain "%s:%d".
		host = "[" + host + "]"
	}
	t.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: t.address,
		EnableUI:            true,
		DefaultNamespace:    opts.Namespace,
		// Served over plain HTTP, so the CSRF cookie must not be Secure or
		// the browser drops it and every write action fails.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true,
		Codec:            uiconfig.Codec{Endpoint: opts.UICodecEndpoint},
	}))
	t.uiDone = make(chan struct{})
	go func() {
		defer close(t.uiDone)
		// Start blocks until Stop; it returns nil on a clean close.
		_ = t.ui.Start()
	}()
	t.uiURL = "http://" + net.JoinHostPort(connectIP, strconv.Itoa(port))

	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.uiURL+"/", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devstack: temporal UI at %s not ready: %w", t.uiURL, ctx.Err())
		case <-t.uiDone:
			return fmt.Errorf("devstack: temporal UI at %s exited during start", t.uiURL)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReady blocks until a client can dial, the frontend reports healthy and
// the namespace is visible, then registers the search attributes.
func (t *Temporal) waitReady(ctx context.Context, logger *slog.Logger, attrs map[string]enumspb.IndexedValueType) error {
	var (
		c       client.Client
		lastErr error
	)
	for {
		if lastErr = ctx.Err(); lastErr != nil {
			break
		}
		if c == nil {
			c, lastErr = client.DialContext(ctx, client.Options{
				HostPort:  t.address,
				Namespace: t.namespace,
				Logger:    sdklog.NewStructuredLogger(logger),
			})
		}
		if lastErr == nil {
			_, lastErr = c.CheckHealth(ctx, &client.CheckHealthRequest{})
		}
		if lastErr == nil {
			_, lastErr = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: t.namespace})
		}
		if lastErr == nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if c != nil {
		defer c.Close()
	}
	if lastErr != nil {
		return fmt.Errorf("devstack: temporal at %s not ready: %w", t.address, lastErr)
	}

	// No wait is needed after adding: with
	// system.forceSearchAttributesCacheRefreshOnRead the services' namespace
	// registries read alias changes through instead of waiting for their
	// periodic refresh.
	return RegisterSearchAttributes(ctx, c, t.namespace, attrs)
}

// temporalFilteredLogger returns a logger that passes only WARN and above to
// base, or discards everything when base is nil.
func temporalFilteredLogger(base *slog.Logger) *slog.Logger {
	if base == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(temporalLevelHandler{min: slog.LevelWarn, next: base.Handler()})
}

// temporalLevelHandler raises the minimum level of another handler; the
// server and SDK log at INFO constantly, which would drown the dev's output.
type temporalLevelHandler struct {
	min  slog.Level
	next slog.Handler
}

func (h temporalLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}

func (h temporalLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h temporalLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return temporalLevelHandler{min: h.min, next: h.next.WithAttrs(attrs)}
}

func (h temporalLevelHandler) WithGroup(name string) slog.Handler {
	return temporalLevelHandler{min: h.min, next: h.next.WithGroup(name)}
}

// temporalServerLogger adapts slog to the server's logger interface. It
// deliberately does not implement log.SLogWrapper, so every server log line,
// including those from components that want an slog.Logger, passes through
// these methods and the WARN filter.
type temporalServerLogger struct {
	l     *slog.Logger
	quiet *atomic.Bool // when set, nothing is logged (server is stopping)
}

var (
	_ tlog.Logger     = temporalServerLogger{}
	_ tlog.WithLogger = temporalServerLogger{}
)

func (s temporalServerLogger) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }
func (s temporalServerLogger) Info(msg string, tags ...tag.Tag)  { s.log(slog.LevelInfo, msg, tags) }
func (s temporalServerLogger) Warn(msg string, tags ...tag.Tag)  { s.log(slog.LevelWarn, msg, tags) }
func (s temporalServerLogger) Error(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

// DPanic is a development-only panic in zap; in production it only logs,
// which is what an embedded server should do.
func (s temporalServerLogger) DPanic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
}

// Panic and Fatal keep their "does not return" contract: callers in the
// server rely on it, and carrying on in a broken state would be worse than a
// crash with a stack trace.
func (s temporalServerLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic("temporal server: " + msg)
}

func (s temporalServerLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic("temporal server fatal: " + msg)
}

// With returns a logger with tags prepended, avoiding the server's slower
// generic tag-prepending wrapper.
func (s temporalServerLogger) With(tags ...tag.Tag) tlog.Logger {
	return temporalServerLogger{l: slog.New(s.l.Handler().WithAttrs(temporalAttrs(tags))), quiet: s.quiet}
}

func (s temporalServerLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if s.quiet != nil && s.quiet.Load() {
		return
	}
	if strings.HasPrefix(msg, temporalNexusHTTPWarning) {
		return
	}
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.LogAttrs(ctx, level, msg, temporalAttrs(tags)...)
}

// temporalNexusHTTPWarning is logged on every start because the frontend
// HTTP API is left disabled on purpose (one port less); it is not actionable
// for the dev stack, so it is dropped.
const temporalNexusHTTPWarning = "HTTP API port has not been set."

func temporalAttrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	return attrs
}
