package main

import (
	"context"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/listener"
	"github.com/rgap-project/rgap/internal/pluginhost"
	"github.com/rgap-project/rgap/internal/pluginhost/groupfeed"
)

// pluginOutputs runs the configured outputs as plugin subprocesses.
type pluginOutputs struct {
	host    *pluginhost.Host
	outputs []pluginhost.Output
	groups  []pluginhost.GroupInfo
}

func (p *pluginOutputs) Validate(ctx context.Context) error {
	return p.host.ValidateAll(ctx, p.outputs, p.groups)
}

func (p *pluginOutputs) Run(ctx context.Context, reg *group.Registry) error {
	return p.host.Run(ctx, groupfeed.New(reg), p.outputs, p.groups)
}

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

// newOutputs builds the output host for cfg; nil when no output is configured.
func newOutputs(env *cmdEnv, cfg *config.Config, flagDir string) (listener.Outputs, error) {
	if len(cfg.Outputs) == 0 {
		return nil, nil
	}
	h, err := newHost(env, pluginsDir(flagDir, cfg))
	if err != nil {
		return nil, err
	}
	p := &pluginOutputs{host: h}
	for _, o := range cfg.Outputs {
		p.outputs = append(p.outputs, pluginhost.Output{
			Index: o.Index, Kind: o.Kind, File: o.Pos.File, Line: o.Pos.Line,
			SHA256: o.SHA256, Spec: o.Spec, SpecLine: o.SpecPos.Line, HangTimeout: o.HangTimeout,
		})
	}
	for _, g := range cfg.Groups {
		p.groups = append(p.groups, pluginhost.GroupInfo{ID: g.ID, Expire: g.Expire, ReadinessDelay: g.ReadinessDelay})
	}
	return p, nil
}
