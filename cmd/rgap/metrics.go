package main

import (
	"github.com/rgap-project/rgap/internal/bindcheck"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/pluginhost"
)

// httpBinds describes the metrics server (http_listen) to the bind check.
func httpBinds(cfg *config.Config) []bindcheck.Bind {
	if cfg.HTTPListen == "" {
		return nil
	}
	return []bindcheck.Bind{{Owner: "http_listen", Network: "tcp", Address: cfg.HTTPListen}}
}

// outputStats is every configured output's state for the metrics and
// readiness endpoints. Until the host has started an output (or when it
// never will) the output is listed as not running, so that every series
// exists from the first scrape and /readyz never reports ready too early.
func (p *pluginOutputs) outputStats() []pluginhost.OutputStats {
	running := p.host.Stats()
	p.mu.Lock()
	outputs := p.outputs
	p.mu.Unlock()
	out := make([]pluginhost.OutputStats, len(outputs))
	for i, o := range outputs {
		out[i] = pluginhost.OutputStats{Index: o.Index, Kind: o.Kind}
		if i < len(running) && running[i].Index == o.Index {
			out[i] = running[i]
		}
	}
	return out
}
