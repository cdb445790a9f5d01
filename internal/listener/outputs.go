package listener

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rgap-project/rgap/internal/bindcheck"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/pluginhost"
)

// This file turns a configuration into the plugin host's terms (outputs,
// groups, the sockets no output may take) and is the one place that does:
// the running listener, a reload, `rgap check` (Check) and `rgap plugins`
// (Discover) all go through it.

// outputs runs the configured outputs as plugin subprocesses.
type outputs struct {
	host   *pluginhost.Host
	groups []pluginhost.GroupInfo // at start; a reload hands the host its own

	mu   sync.Mutex // guards list after Run started (reloads)
	list []pluginhost.Output
}

// newHost builds the plugin host for cfg (nil: no configuration).
func newHost(cfg *config.Config, opts *Options) (*pluginhost.Host, error) {
	kinds := make(map[string]bool, len(opts.Builtins))
	for _, k := range opts.Builtins {
		kinds[k] = true
	}
	return pluginhost.New(pluginhost.Options{
		Logger:     opts.logger(),
		Builtins:   kinds,
		PluginsDir: pluginsDir(opts.PluginsDir, cfg),
	})
}

// pluginsDir picks the plugins directory: the command line's (flagDir),
// then the configuration's plugins_dir, then the default.
func pluginsDir(flagDir string, cfg *config.Config) string {
	switch {
	case flagDir != "":
		return flagDir
	case cfg != nil && cfg.PluginsDir != "":
		return cfg.PluginsDir
	}
	return pluginhost.DefaultPluginsDir
}

// newOutputs builds the output host for cfg, also when cfg has no output:
// a reload may add some.
func newOutputs(cfg *config.Config, opts *Options) (*outputs, error) {
	h, err := newHost(cfg, opts)
	if err != nil {
		return nil, err
	}
	return &outputs{host: h, groups: hostGroups(cfg), list: hostOutputs(cfg)}, nil
}

// validate does everything the listener does with cfg before it opens a
// socket: every output's plugin validates its spec (which also checks its
// file and sha256 pin), then the addresses the listener's sockets and the
// valid outputs bind are checked for clashes (package bindcheck). Two
// sockets on one address are a mistake in the configuration, caught before
// an output restarts forever on "address already in use".
func validate(ctx context.Context, h *pluginhost.Host, cfg *config.Config) (specs, binds error) {
	outBinds, specs := h.ValidateAll(ctx, hostOutputs(cfg), hostGroups(cfg))
	return specs, bindcheck.Check(append(configBinds(cfg), outBinds...))
}

// Check checks cfg as the listener does before it opens a socket (see
// validate), for `rgap check`: every fault at once, with nothing left
// running. Only opts' Logger, Builtins and PluginsDir are used.
func Check(ctx context.Context, cfg *config.Config, opts Options) error {
	h, err := newHost(cfg, &opts)
	if err != nil {
		return err
	}
	return errors.Join(validate(ctx, h, cfg))
}

// Discover lists the output kinds the listener can run, starting each
// plugin once to ask for its version, for `rgap plugins`. With cfg (nil:
// none), the plugins directory may come from it, and a plugin that does not
// match the sha256 pin of an output of its kind is refused without being
// run. Only opts' Logger, Builtins and PluginsDir are used.
func Discover(ctx context.Context, cfg *config.Config, opts Options) ([]pluginhost.PluginInfo, error) {
	h, err := newHost(cfg, &opts)
	if err != nil {
		return nil, err
	}
	var outs []pluginhost.Output
	if cfg != nil {
		outs = hostOutputs(cfg)
	}
	return h.Discover(ctx, outs...), nil
}

// start validates the configured outputs at start-up: the first fault
// found (an output spec, else a bind) is returned.
func (o *outputs) start(ctx context.Context, cfg *config.Config) error {
	specs, binds := validate(ctx, o.host, cfg)
	if specs != nil {
		return specs
	}
	return binds // nil, a clash, or a plugin that reported a bind it cannot have meant
}

// check checks a reloaded configuration as `rgap check` does, with the
// running host (so a reload validates with the plugins directory in use).
// It reports every fault at once.
func (o *outputs) check(ctx context.Context, cfg *config.Config) error {
	return errors.Join(validate(ctx, o.host, cfg))
}

// run feeds reg to the outputs until ctx ends, then stops them.
func (o *outputs) run(ctx context.Context, reg *group.Registry) error {
	o.mu.Lock()
	list := o.list
	o.mu.Unlock()
	return o.host.Run(ctx, pluginhost.RegistryFeed(reg), list, o.groups)
}

// update applies a reloaded (and checked) configuration to the running
// outputs: only outputs whose kind or spec changed are stopped or started.
func (o *outputs) update(ctx context.Context, cfg *config.Config) error {
	list := hostOutputs(cfg)
	err := o.host.Update(ctx, list, hostGroups(cfg))
	o.mu.Lock()
	o.list = list // Update applies the list even when a stop ran late
	o.mu.Unlock()
	return err
}

// AllStarted: every output's plugin has been configured at least once
// (see progress).
func (o *outputs) AllStarted() bool { return o.host.AllStarted() }

// Stalled names an output whose supervisor stopped making progress (see
// progress).
func (o *outputs) Stalled(now time.Time) error { return o.host.Stalled(now) }

// stats is every configured output's state for the metrics and readiness
// endpoints. Until the host has started an output (or when it never will)
// the output is listed as not running, so that every series exists from
// the first scrape and /readyz never reports ready too early.
func (o *outputs) stats() []pluginhost.OutputStats {
	running := o.host.Stats()
	o.mu.Lock()
	list := o.list
	o.mu.Unlock()
	out := make([]pluginhost.OutputStats, len(list))
	for i, op := range list {
		out[i] = pluginhost.OutputStats{Index: op.Index, Kind: op.Kind}
		if i < len(running) && running[i].Index == op.Index {
			out[i] = running[i]
		}
	}
	return out
}

// hostGroups lists the configured groups for the plugin host.
func hostGroups(cfg *config.Config) []pluginhost.GroupInfo {
	out := make([]pluginhost.GroupInfo, 0, len(cfg.Groups))
	for _, g := range cfg.Groups {
		out = append(out, pluginhost.GroupInfo{ID: g.ID, Expire: g.Expire, ReadinessDelay: g.ReadinessDelay})
	}
	return out
}

// hostOutputs lists the configured outputs for the plugin host.
func hostOutputs(cfg *config.Config) []pluginhost.Output {
	var out []pluginhost.Output
	for _, o := range cfg.Outputs {
		out = append(out, pluginhost.Output{
			Index: o.Index, Kind: o.Kind, File: o.Pos.File, Line: o.Pos.Line,
			SHA256: o.SHA256, Spec: o.Spec, SpecLine: o.SpecPos.Line, HangTimeout: o.HangTimeout,
		})
	}
	return out
}
