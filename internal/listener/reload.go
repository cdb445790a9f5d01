package listener

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/buildinfo"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/ingest"
	"github.com/rgap-project/rgap/internal/metrics"
)

// reloadTimeout bounds a reload: the check of the new configuration (every
// plugin validates its spec) and the wait for the running listener to apply
// it.
const reloadTimeout = 2 * time.Minute

// Reload applies cfg to the running listener in place. cfg is checked in
// full first, as `rgap check` does (Check), with the plugins directory in
// use; a configuration with any fault changes nothing and is reported with
// every fault. loadErr, when set instead of cfg, is why loading the file
// failed: the listener keeps its configuration and only records the
// failure (the metrics' last reload status). Reload waits, within
// reloadTimeout, until Run has taken the configuration; calls must not
// overlap.
func (l *Listener) Reload(ctx context.Context, cfg *config.Config, loadErr error) error {
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	req := reloadRequest{config: cfg, err: loadErr}
	if req.err == nil {
		req.err = l.outs.check(ctx, cfg)
	}
	if req.err != nil {
		req.config = nil
	}
	done := make(chan error, 1)
	req.done = done
	select {
	case l.reloads <- req:
		return <-done
	case <-ctx.Done():
		return fmt.Errorf("the listener did not take the new configuration: %w", ctx.Err())
	}
}

// reloadRequest hands Run a configuration to apply: config, loaded and
// checked in full, or err, why loading or checking it failed. The outcome
// is sent on done, which has room for it.
type reloadRequest struct {
	config *config.Config
	err    error
	done   chan<- error
}

// runState is what a reload changes, and what the metrics endpoints read
// about the configuration in use.
type runState struct {
	log   hclog.Logger
	outs  *outputs
	reg   *group.Registry
	pipe  *ingest.Pipeline
	socks *sockets

	mu      sync.Mutex
	cfg     *config.Config
	ok      bool      // the last load (start or reload) succeeded
	success time.Time // when a configuration was last loaded successfully
}

// loaded records cfg as the configuration in use, loaded at t.
func (st *runState) loaded(cfg *config.Config, t time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cfg, st.ok, st.success = cfg, true, t
}

func (st *runState) failed() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ok = false
}

// configStatus is the metrics' view of the last load.
func (st *runState) configStatus() (ok bool, success time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ok, st.success
}

// metricsSources points the metrics endpoints at the counters the
// listener's parts keep anyway.
func (st *runState) metricsSources() metrics.Sources {
	return metrics.Sources{
		Sockets:       st.socks.metrics,
		Drops:         st.pipe.Stats,
		Accepted:      st.pipe.AcceptedByGroup,
		AcceptedByKey: st.pipe.AcceptedByKey,
		Groups:        st.reg.Stats,
		Outputs:       st.outs.stats,
		OutputMetrics: st.outs.host.Metrics,
		Build:         buildinfo.Read(),
		Config:        st.configStatus,
	}
}

// reload applies r in place and returns the outcome. It changes only what
// differs (design.md §7: a reload is a diff, never a restart in disguise):
//
//  1. listen entries that are new are opened first, so a socket that
//     cannot be opened fails the reload before anything has changed;
//  2. the group state takes the new group list (groups that stay keep
//     their members and readiness; removed groups' members leave; new
//     groups wait out their readiness delay), then ingest takes the new
//     keys and clock skews;
//  3. the new sockets are read, and removed entries' sockets closed;
//  4. the outputs take the difference (unchanged ones keep running).
//
// A failure in step 4 leaves steps 1 to 3 applied and is reported.
func (st *runState) reload(ctx context.Context, r reloadRequest) error {
	if r.err != nil {
		st.failed()
		return r.err
	}
	cfg := r.config
	st.mu.Lock()
	old := st.cfg
	st.mu.Unlock()

	have := st.socks.keys()
	var fresh []config.Listen
	keep := make(map[string]bool, len(cfg.Listen))
	for _, l := range cfg.Listen {
		keep[key(l)] = true
		if !have[key(l)] {
			fresh = append(fresh, l)
		}
	}
	opened, err := openAll(fresh, cfg.ReceiveBuffer, st.log.Named("source"))
	if err != nil {
		st.failed()
		return err
	}
	gcfgs, igroups := groupConfigs(cfg)
	if err := st.reg.Reconfigure(gcfgs); err != nil {
		closeUnread(opened)
		st.failed()
		return fmt.Errorf("%s: %w", cfg.Path, err)
	}
	if err := st.pipe.SetGroups(igroups); err != nil {
		// Cannot happen for groups the registry took; report it all the
		// same rather than run half-applied in silence.
		st.failed()
		return fmt.Errorf("%s: %w", cfg.Path, err)
	}
	st.socks.add(ctx, opened)
	st.socks.retire(keep)
	warnShortExpire(st.log, newGroups(old, cfg))
	warnRestartOnly(st.log, old, cfg)

	if err := st.outs.update(ctx, cfg); err != nil {
		st.failed()
		return fmt.Errorf("outputs: %w", err)
	}
	st.loaded(cfg, time.Now())
	return nil
}

// newGroups lists the groups of cfg that old did not have.
func newGroups(old, cfg *config.Config) []config.Group {
	had := make(map[uint64]bool, len(old.Groups))
	for _, g := range old.Groups {
		had[g.ID] = true
	}
	var out []config.Group
	for _, g := range cfg.Groups {
		if !had[g.ID] {
			out = append(out, g)
		}
	}
	return out
}

// warnRestartOnly warns about changed keys that a reload does not apply.
func warnRestartOnly(log hclog.Logger, old, cfg *config.Config) {
	for _, k := range []struct {
		key      string
		old, new string
	}{
		{"http_listen", old.HTTPListen, cfg.HTTPListen},
		{"state_file", old.StateFile, cfg.StateFile},
		{"plugins_dir", old.PluginsDir, cfg.PluginsDir},
	} {
		if k.old != k.new {
			log.Warn("a changed key takes effect only when the listener restarts", "key", k.key, "file", cfg.Path)
		}
	}
}
