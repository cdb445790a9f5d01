// Package listener assembles the listener process from its parts: the
// configured groups become a group registry and an ingest pipeline, every
// `listen` entry becomes a socket with its own reader goroutine, and the
// output host feeds the registry to the output plugins.
//
// The order of start-up is chosen so that an operator's mistake surfaces
// before anything runs: outputs are validated by their plugins first, then
// every socket is opened, and only then does anything read or publish. On
// shutdown the sockets close first (nothing new arrives), the outputs are
// stopped, and the drop counters are logged once.
package listener

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/ingest"
	"github.com/rgap-project/rgap/internal/metrics"
	"github.com/rgap-project/rgap/internal/pluginhost"
	"github.com/rgap-project/rgap/internal/protocol"
	"github.com/rgap-project/rgap/internal/source"
)

// Outputs runs the configured outputs (the plugin host).
type Outputs interface {
	// Validate has every output's plugin check its spec; nothing runs yet.
	Validate(ctx context.Context) error
	// Run feeds the registry to the outputs until ctx ends, then stops them.
	Run(ctx context.Context, reg *group.Registry) error
	// Update applies a reloaded configuration's outputs and groups to the
	// running outputs (a difference: an unchanged output keeps running).
	// cfg has been checked in full already.
	Update(ctx context.Context, cfg *config.Config) error
}

// Options are the listener's run-time dependencies.
type Options struct {
	Logger hclog.Logger
	// Outputs may be nil: the listener then only keeps the group state
	// (useful in tests and with an empty `outputs` list).
	Outputs Outputs
	// Clock is injected by tests; nil means the system clock.
	Clock group.Clock
	// Ready, if set, is called once every socket is open, with their local
	// addresses (tests use it to learn ports chosen by the kernel).
	Ready func(addrs []netip.AddrPort)
	// StateInterval is how often the state_file is rewritten while the
	// groups change; zero means DefaultStateInterval.
	StateInterval time.Duration
	// Started, if set, is called once, from its own goroutine, when every
	// socket is open and every output's plugin has started (see
	// StartReporter); status summarises. The listener then tells its
	// service manager it is ready.
	Started func(status string)
	// Watchdog, if set, runs in its own goroutine while the listener runs;
	// healthy reports whether the socket readers, the group state and the
	// outputs are making progress (see health.go).
	Watchdog func(ctx context.Context, healthy func() bool)
	// OutputStats, if set, is the outputs' state for the metrics and
	// readiness endpoints (served when cfg.HTTPListen is set).
	OutputStats func() []pluginhost.OutputStats
	// OutputMetrics, if set, reads the series the outputs' plugins export
	// (sdk.Metrics), bounded in time, for the metrics endpoint.
	OutputMetrics func(context.Context) []pluginhost.OutputMetrics
	// Reload delivers configurations to apply while running (SIGHUP). Each
	// is answered on its Done channel.
	Reload <-chan Reload
}

// Run runs the listener until ctx is cancelled. It returns an error when
// start-up fails or a socket fails while running. While it runs, each
// configuration sent on Options.Reload is applied in place (see reload.go).
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	warnShortExpire(log, cfg.Groups)
	clock := opts.Clock
	if clock == nil {
		clock = group.SystemClock()
	}

	gcfgs, igroups := groupConfigs(cfg)
	reg, err := group.New(gcfgs, group.Options{Clock: clock, Logger: log.Named("group")})
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Path, err)
	}
	pipe, err := ingest.New(igroups, reg, ingest.Options{Now: clock.Now, Logger: log.Named("ingest")})
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Path, err)
	}

	if opts.Outputs != nil {
		if err := opts.Outputs.Validate(ctx); err != nil {
			if ctx.Err() != nil {
				// Asked to stop while the plugins were checking their
				// specs: that is a stop, not a failure.
				log.Info("stopped during start-up")
				return nil
			}
			return err
		}
	}

	if cfg.StateFile != "" {
		restoreState(log.Named("state"), cfg.StateFile, reg, cfg.Groups, clock.Now())
	}

	opened, err := openAll(cfg.Listen, cfg.ReceiveBuffer, log.Named("source"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(cfg.Listen)+8)
	socks := &sockets{log: log, pipe: pipe, errc: errc, wg: &wg}
	st := &runState{log: log, opts: &opts, reg: reg, pipe: pipe, socks: socks}
	st.loaded(cfg, time.Now())

	var web *metrics.Server
	if cfg.HTTPListen != "" {
		web, err = metrics.Listen(cfg.HTTPListen, st.metricsSources())
		if err != nil {
			for _, s := range opened {
				_ = s.conn.Close() // never read: nothing to report
			}
			return err
		}
		log.Info("serving metrics and health", "address", web.Addr().String())
	}

	hl := &health{reg: reg, outputs: opts.Outputs, sockets: socks.openCount}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := reg.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("group state: %w", err)
		}
	}()
	socks.add(ctx, opened)
	if opts.Outputs != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := opts.Outputs.Run(ctx, reg); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("outputs: %w", err)
			}
		}()
	}
	if web != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := web.Serve(ctx); err != nil {
				errc <- err
			}
		}()
	}
	saver := startStateWriter(ctx, &wg, cfg.StateFile, reg, clock, opts.StateInterval, log.Named("state"))
	if opts.Ready != nil {
		opts.Ready(socks.addrs())
	}
	if opts.Started != nil {
		wg.Go(func() { waitStarted(ctx, opts.Outputs, len(opened), opts.Started) })
	}
	if opts.Watchdog != nil {
		wg.Go(func() { opts.Watchdog(ctx, hl.healthy(log)) })
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case runErr = <-errc:
			log.Error("stopping", "error", runErr)
			break loop
		case r := <-opts.Reload:
			r.Done <- st.reload(ctx, r)
		}
	}
	cancel()
	socks.closeAll()
	saver.save() // nothing arrives any more: the final state, before the outputs stop
	wg.Wait()
	logStats(log, pipe.Stats(), pipe.AcceptedByKey(), socks.totals())
	return runErr
}

// groupConfigs is the configured groups in the shapes the group state and
// ingest take.
func groupConfigs(cfg *config.Config) ([]group.Config, []ingest.Group) {
	gcfgs := make([]group.Config, 0, len(cfg.Groups))
	igroups := make([]ingest.Group, 0, len(cfg.Groups))
	for _, g := range cfg.Groups {
		gcfgs = append(gcfgs, group.Config{ID: g.ID, Expire: g.Expire, ReadinessDelay: g.ReadinessDelay, ClockSkew: g.ClockSkew})
		ig := ingest.Group{ID: g.ID, ClockSkew: g.ClockSkew}
		keys := g.Keys
		if len(keys) == 0 { // a Config built in code: its PSK is key 0
			keys = []config.GroupKey{{ID: 0, PSK: g.PSK}}
		}
		for _, k := range keys {
			ig.Keys = append(ig.Keys, ingest.Key{ID: k.ID, Key: protocol.NewKey(k.PSK)})
		}
		igroups = append(igroups, ig)
	}
	return gcfgs, igroups
}

// minExpire is the shortest expire the group state honours as written: a
// member leaves up to one sweep (group.SweepInterval) after its expiry, and
// outputs learn of a later expiry only once it has moved by
// group.DefaultExpiryGranularity, so below this an address may flap or
// outlive its expire by a large fraction of it.
const minExpire = group.DefaultExpiryGranularity

// warnShortExpire warns, once per group at start, about an expire below
// minExpire.
func warnShortExpire(log hclog.Logger, groups []config.Group) {
	for _, g := range groups {
		if g.Expire < minExpire {
			log.Warn("group expire is shorter than the listener can honour",
				"group", g.ID, "expire", g.Expire.String(), "minimum", minExpire.String(),
				"leave_delay", group.SweepInterval.String(), "position", g.Pos.String())
		}
	}
}

// logStats writes the counters once, at shutdown, so an operator sees what
// was dropped and why without a metrics endpoint, and how many
// announcements each key of each group verified (accepted_group_G_key_K,
// for the keys configured at the end), so that the end of a key rotation
// shows there too.
func logStats(log hclog.Logger, s ingest.Stats, byKey []ingest.KeyCount, socks source.Stats) {
	kv := []any{"accepted", s.Accepted, "joined", s.Results[group.Joined], "refreshed", s.Results[group.Refreshed]}
	for _, k := range byKey {
		kv = append(kv, fmt.Sprintf("accepted_group_%d_key_%d", k.Group, k.Key), k.Accepted)
	}
	for _, r := range ingest.Reasons() {
		kv = append(kv, "dropped_"+r.String(), s.Dropped[r])
	}
	kv = append(kv, "received", socks.Datagrams, "truncated", socks.Truncated)
	log.Info("ingest totals", kv...)
}
