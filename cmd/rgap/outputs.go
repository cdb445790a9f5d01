package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rgap-project/rgap/internal/bindcheck"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/pluginhost"
)

// pluginOutputs runs the configured outputs as plugin subprocesses.
type pluginOutputs struct {
	host *pluginhost.Host

	mu      sync.Mutex // guards outputs after Run started (reloads)
	outputs []pluginhost.Output
	groups  []pluginhost.GroupInfo
	// listen are the listener's own sockets, which no output may take.
	listen []bindcheck.Bind
}

// Validate has every output's plugin check its spec, then refuses
// addresses that two outputs, or an output and a listen entry, would both
// bind: that is a mistake in the configuration (exit status 2), caught
// before an output restarts forever on "address already in use".
func (p *pluginOutputs) Validate(ctx context.Context) error {
	binds, err := p.host.ValidateAll(ctx, p.outputs, p.groups)
	if err != nil {
		return err
	}
	err = bindcheck.Check(append(slices.Clone(p.listen), binds...))
	if errors.Is(err, bindcheck.ErrClash) {
		return usageError{err}
	}
	return err // nil, or a plugin that reported a bind it cannot have meant
}

// listenBinds describes the listener's sockets to the bind check, bound as
// package source binds them: an empty host dual-stack, an IP literal in its
// own family, a multicast group with SO_REUSEADDR.
func listenBinds(ls []config.Listen) []bindcheck.Bind {
	out := make([]bindcheck.Bind, 0, len(ls))
	for _, l := range ls {
		b := bindcheck.Bind{
			Owner:   fmt.Sprintf("listen entry %s at %s", l.Spec, l.Pos),
			Network: "udp",
			Address: fmt.Sprintf(":%d", l.Spec.Addr.Port()),
			Shared:  l.Spec.IsMulticast(),
		}
		if ip := l.Spec.Addr.Addr(); ip.IsValid() {
			b.Network = "udp6"
			if ip.Is4() {
				b.Network = "udp4"
			}
			b.Address = l.Spec.Addr.String()
		}
		out = append(out, b)
	}
	return out
}

func (p *pluginOutputs) Run(ctx context.Context, reg *group.Registry) error {
	p.mu.Lock()
	outputs := p.outputs
	p.mu.Unlock()
	return p.host.Run(ctx, pluginhost.RegistryFeed(reg), outputs, p.groups)
}

// checkReload checks a reloaded configuration as `rgap check` does, with
// the running host (so a reload validates with the plugins directory in
// use): every plugin validates its spec, and the binds are checked for
// clashes. It reports every fault at once.
func (p *pluginOutputs) checkReload(ctx context.Context, cfg *config.Config) error {
	binds, err := p.host.ValidateAll(ctx, hostOutputs(cfg), hostGroups(cfg))
	return errors.Join(err, bindcheck.Check(append(append(listenBinds(cfg.Listen), httpBinds(cfg)...), binds...)))
}

// Update applies a reloaded (and checked) configuration to the running
// outputs: only outputs whose kind or spec changed are stopped or started.
func (p *pluginOutputs) Update(ctx context.Context, cfg *config.Config) error {
	outputs := hostOutputs(cfg)
	err := p.host.Update(ctx, outputs, hostGroups(cfg))
	p.mu.Lock()
	p.outputs = outputs // Update applies the list even when a stop ran late
	p.mu.Unlock()
	return err
}

// AllStarted: every output's plugin has been configured at least once
// (listener.StartReporter).
func (p *pluginOutputs) AllStarted() bool { return p.host.AllStarted() }

// Stalled names an output whose supervisor stopped making progress
// (listener.StallReporter).
func (p *pluginOutputs) Stalled(now time.Time) error { return p.host.Stalled(now) }

// pluginsDir picks the plugins directory: --plugins-dir or RGAP_PLUGINS_DIR
// (flagDir), then the configuration's plugins_dir, then the default.
func pluginsDir(flagDir string, cfg *config.Config) string {
	switch {
	case flagDir != "":
		return flagDir
	case cfg != nil && cfg.PluginsDir != "":
		return cfg.PluginsDir
	}
	return pluginhost.DefaultPluginsDir
}

func newHost(env *cmdEnv, dir string) (*pluginhost.Host, error) {
	kinds := map[string]bool{}
	for k := range builtins {
		kinds[k] = true
	}
	return pluginhost.New(pluginhost.Options{
		Logger:     env.log,
		Builtins:   kinds,
		PluginsDir: dir,
	})
}

// newOutputs builds the output host for cfg, also when cfg has no output:
// a reload may add some.
func newOutputs(env *cmdEnv, cfg *config.Config, flagDir string) (*pluginOutputs, error) {
	h, err := newHost(env, pluginsDir(flagDir, cfg))
	if err != nil {
		return nil, err
	}
	return &pluginOutputs{host: h, outputs: hostOutputs(cfg), groups: hostGroups(cfg), listen: append(listenBinds(cfg.Listen), httpBinds(cfg)...)}, nil
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
