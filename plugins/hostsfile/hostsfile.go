// Package hostsfile is the "hostsfile" output: it keeps a hosts(5) file
// listing the live addresses of redundancy groups under fixed hostnames, so
// that anything using the system resolver (or a load balancer reading the
// file) finds the current members by name.
//
// Design decisions:
//
//   - The file is rewritten promptly after a membership change of a mapped
//     group (the mirror's Changed channel, whose capacity of one collapses a
//     burst of changes into one rewrite) and checked again every interval.
//     The periodic check retries a failed write and restores a file that was
//     edited or deleted behind our back.
//   - Nothing is written until every mapped group is ready: right after the
//     listener starts, a group looks empty only because announcements have
//     not arrived yet, and writing that (or its fallback) would send clients
//     to the wrong place.
//   - Every write is atomic (temporary file in the same directory, fsync,
//     rename, directory fsync) and keeps the existing file's mode, so a
//     reader never sees a partial file and permissions set by the operator
//     survive. Content identical to what is on disk is not rewritten: the
//     mtime only moves when the membership really changed, which keeps
//     inotify-driven reloaders quiet.
//   - A write failure (missing directory, permissions, full disk) is logged
//     with the file name and retried at the next change or interval; it never
//     stops the output, because the cause is usually fixed by an operator
//     while the listener keeps running.
package hostsfile

import (
	"context"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk"
)

// Plugin is the "hostsfile" output, ready for sdk.Serve.
var Plugin = sdk.Plugin{Name: "hostsfile", Version: "1.0.0", New: New}

// New decodes and validates the output's spec and subscribes to the mapped
// groups. It touches no file: the hosts file is only written by Run.
func New(cfg *sdk.Config) (sdk.Output, error) {
	s, err := sdk.DecodeSpec(cfg, (*spec).validate)
	if err != nil {
		return nil, err
	}
	cfg.Subscribe(s.groups()...)
	return &output{settings: s}, nil
}

// output is a configured hosts file writer.
type output struct {
	settings *settings
	// writes and writeErrors are exported on the listener's /metrics;
	// nil in tests that call run directly.
	writes, writeErrors *sdk.Counter
}

// groupSource is the part of *sdk.Mirror the writer uses; tests provide a
// fake.
type groupSource interface {
	memberLister
	Ready(group uint64) bool
	Changed(groups ...uint64) <-chan struct{}
}

// Run keeps the hosts file up to date until ctx is cancelled.
func (o *output) Run(ctx context.Context, env *sdk.Env) error {
	var err error
	if o.writes, err = env.Metrics.Counter("writes_total", "Times the hosts file was written (replaced with new content)."); err != nil {
		return err
	}
	if o.writeErrors, err = env.Metrics.Counter("write_errors_total", "Failed attempts to write the hosts file."); err != nil {
		return err
	}
	return o.run(ctx, env.Groups, env.Log)
}

func (o *output) run(ctx context.Context, groups groupSource, log hclog.Logger) error {
	path := o.settings.filename
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // names the file unambiguously in logs
	}
	ids := o.settings.groups()
	// Subscribe to changes before the first render, so that none is missed.
	changed := groups.Changed(ids...)
	tick := time.NewTicker(o.settings.interval)
	defer tick.Stop()

	waiting := false
	for {
		select { // the render below reflects any change signalled so far
		case <-changed:
		default:
		}
		if g, ok := allReady(groups, ids); !ok {
			if !waiting {
				log.Info("waiting for group to become ready before writing", "file", path, "group", g)
				waiting = true
			}
		} else {
			waiting = false
			o.update(path, groups, log)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		}
		if ctx.Err() != nil { // select picks at random among ready cases
			return nil
		}
	}
}

// allReady reports whether every listed group is ready, and if not, the
// first that is not.
func allReady(groups groupSource, ids []uint64) (uint64, bool) {
	for _, id := range ids {
		if !groups.Ready(id) {
			return id, false
		}
	}
	return 0, true
}

// update renders the file and writes it if it differs from the disk.
func (o *output) update(path string, groups memberLister, log hclog.Logger) {
	content := render(o.settings, groups)
	wrote, err := writeIfChanged(path, content)
	if err != nil {
		log.Error("cannot write hosts file, will retry", "file", path, "error", err)
		if o.writeErrors != nil {
			o.writeErrors.Add(1)
		}
		return
	}
	if wrote && o.writes != nil {
		o.writes.Add(1)
	}
	if wrote {
		log.Info("hosts file written", "file", path, "bytes", len(content))
	}
}
