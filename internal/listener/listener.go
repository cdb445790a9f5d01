// Package listener assembles the listener process from its parts: the
// configured groups become a group registry and an ingest pipeline, every
// `listen` entry becomes a socket with its own reader goroutine, and the
// output host feeds the registry to the output plugins. It is the one place
// that turns a configuration into those parts: `rgap listener` (New, Run,
// Reload), `rgap check` (Check) and `rgap plugins` (Discover) share it, and
// package main only parses flags and maps errors to exit statuses.
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
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/ingest"
	"github.com/rgap-project/rgap/internal/metrics"
	"github.com/rgap-project/rgap/internal/protocol"
	"github.com/rgap-project/rgap/internal/source"
)

// Options are what the listener needs besides its configuration.
type Options struct {
	Logger hclog.Logger
	// Builtins are the output kinds this binary serves (re-executed as
	// `rgap plugin KIND`).
	Builtins []string
	// PluginsDir is the plugins directory the command line gives; empty
	// means the configuration's plugins_dir, else
	// pluginhost.DefaultPluginsDir.
	PluginsDir string
	// Started, if set, is called once, from its own goroutine, when every
	// socket is open and every output's plugin has started; status
	// summarises. The listener then tells its service manager it is ready.
	Started func(status string)
	// Watchdog, if set, runs in its own goroutine while the listener runs;
	// healthy reports whether the socket readers, the group state and the
	// outputs are making progress (see health.go).
	Watchdog func(ctx context.Context, healthy func() bool)
}

func (o *Options) logger() hclog.Logger {
	if o.Logger == nil {
		return hclog.NewNullLogger()
	}
	return o.Logger
}

// Listener is a listener process assembled from a configuration by New:
// the group state, the ingest pipeline and the output host. Run runs it
// (once); Reload applies a new configuration while it runs.
type Listener struct {
	log     hclog.Logger
	opts    Options
	cfg     *config.Config // the configuration Run starts with
	clock   group.Clock
	reg     *group.Registry
	pipe    *ingest.Pipeline
	outs    *outputs
	reloads chan reloadRequest
}

// New assembles the listener for cfg. Nothing runs and no socket is open
// yet; the configuration's warnings are logged.
func New(cfg *config.Config, opts Options) (*Listener, error) {
	log := opts.logger()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	warnShortExpire(log, cfg.Groups)
	clock := group.SystemClock()
	gcfgs, igroups := groupConfigs(cfg)
	reg, err := group.New(gcfgs, group.Options{Clock: clock, Logger: log.Named("group")})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	pipe, err := ingest.New(igroups, reg, ingest.Options{Now: clock.Now, Logger: log.Named("ingest")})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	outs, err := newOutputs(cfg, &opts)
	if err != nil {
		return nil, err
	}
	return &Listener{log: log, opts: opts, cfg: cfg, clock: clock, reg: reg, pipe: pipe, outs: outs,
		reloads: make(chan reloadRequest)}, nil
}

// Run runs the listener until ctx is cancelled. It returns an error when
// start-up fails or a socket fails while running. An output spec a plugin
// rejects fails with an error for which pluginhost.IsConfigError holds, two
// sockets on one address with one wrapping bindcheck.ErrClash. While it
// runs, each configuration given to Reload is applied in place (see
// reload.go).
func (l *Listener) Run(ctx context.Context) error {
	cfg := l.cfg
	if err := l.outs.start(ctx, cfg); err != nil {
		if ctx.Err() != nil {
			// Asked to stop while the plugins were checking their
			// specs: that is a stop, not a failure.
			l.log.Info("stopped during start-up")
			return nil
		}
		return err
	}
	if cfg.StateFile != "" {
		restoreState(l.log.Named("state"), cfg.StateFile, l.reg, cfg.Groups, l.clock.Now())
	}
	opened, err := openAll(cfg.Listen, cfg.ReceiveBuffer, l.log.Named("source"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(cfg.Listen)+8)
	socks := &sockets{log: l.log, pipe: l.pipe, errc: errc, wg: &wg}
	st := &runState{log: l.log, outs: l.outs, reg: l.reg, pipe: l.pipe, socks: socks}
	st.loaded(cfg, time.Now())
	web, err := l.listenHTTP(st)
	if err != nil {
		closeUnread(opened)
		return err
	}
	l.start(ctx, &wg, errc, socks, opened, web)
	saver := startStateWriter(ctx, &wg, cfg.StateFile, l.reg, l.clock, DefaultStateInterval, l.log.Named("state"))
	if l.opts.Started != nil {
		wg.Go(func() { waitStarted(ctx, l.outs, len(opened), l.opts.Started) })
	}
	if l.opts.Watchdog != nil {
		hl := &health{reg: l.reg, outputs: l.outs, sockets: socks.openCount}
		wg.Go(func() { l.opts.Watchdog(ctx, hl.healthy(l.log)) })
	}
	runErr := l.serve(ctx, errc, st)
	cancel()
	socks.closeAll()
	saver.save() // nothing arrives any more: the final state, before the outputs stop
	wg.Wait()
	logStats(l.log, l.pipe.Stats(), l.pipe.AcceptedByKey(), socks.totals())
	return runErr
}

// listenHTTP opens the metrics and health server when http_listen is set
// (nil otherwise).
func (l *Listener) listenHTTP(st *runState) (*metrics.Server, error) {
	if l.cfg.HTTPListen == "" {
		return nil, nil
	}
	web, err := metrics.Listen(l.cfg.HTTPListen, st.metricsSources())
	if err != nil {
		return nil, err
	}
	l.log.Info("serving metrics and health", "address", web.Addr().String())
	return web, nil
}

// start starts the parts that run until ctx ends, each in its own
// goroutine counted in wg and reporting a failure on errc: the group
// state's sweep, a reader per socket, the outputs and the metrics server
// (web, if not nil).
func (l *Listener) start(ctx context.Context, wg *sync.WaitGroup, errc chan<- error, socks *sockets, opened []*socket, web *metrics.Server) {
	wg.Go(func() {
		if err := l.reg.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("group state: %w", err)
		}
	})
	socks.add(ctx, opened)
	wg.Go(func() {
		if err := l.outs.run(ctx, l.reg); err != nil && ctx.Err() == nil {
			errc <- fmt.Errorf("outputs: %w", err)
		}
	})
	if web != nil {
		wg.Go(func() {
			if err := web.Serve(ctx); err != nil {
				errc <- err
			}
		})
	}
}

// serve applies reloads until ctx ends or a part fails; it returns the
// failure.
func (l *Listener) serve(ctx context.Context, errc <-chan error, st *runState) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			l.log.Error("stopping", "error", err)
			return err
		case r := <-l.reloads:
			r.done <- st.reload(ctx, r)
		}
	}
}

// closeUnread closes sockets that were never read.
func closeUnread(opened []*socket) {
	for _, s := range opened {
		_ = s.conn.Close() // never read: nothing to report
	}
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
