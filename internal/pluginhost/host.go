package pluginhost

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/pluginhost/pluginfile"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// Host runs output plugins: it validates their configuration at startup,
// supervises one subprocess per output while the listener runs, and lists
// the available plugins.
type Host struct {
	opts    Options
	running atomic.Bool
	runDir  *runDir

	mu       sync.Mutex
	stats    []*outputStats
	progress []*progress // per output of the active Run; see progress.go

	upd sync.Mutex // one Update at a time; guards cur
	cur *session   // the active Run; nil when none
}

// New returns a Host. It starts nothing.
func New(opts Options) (*Host, error) {
	opts = opts.withDefaults()
	for kind := range opts.Builtins {
		if err := pluginfile.ValidKind(kind); err != nil {
			return nil, fmt.Errorf("built-in kinds: %w", err)
		}
	}
	return &Host{opts: opts, runDir: &runDir{base: opts.RuntimeDir, log: opts.Logger}}, nil
}

// Run supervises one plugin per output until ctx is done, then stops every
// plugin (each shutdown bounded, all in parallel) and returns nil. A plugin
// that fails is restarted with backoff and gets a fresh snapshot; a failing
// output never affects the others or the feed. Run does not validate
// specs: call ValidateAll first. While it runs, Update changes its outputs
// and groups. Only one Run may be active at a time.
func (h *Host) Run(ctx context.Context, feed Feed, outputs []Output, groups []GroupInfo) error {
	if !h.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer h.running.Store(false)

	s := &session{ctx: ctx, feed: feed, groups: slices.Clone(groups)}
	h.upd.Lock()
	for i := range outputs {
		s.outs = append(s.outs, h.start(s, outputs[i]))
	}
	h.publish(s)
	h.cur = s
	h.upd.Unlock()

	<-ctx.Done()
	h.upd.Lock() // waits for an Update under way
	h.cur = nil
	h.upd.Unlock()
	for _, l := range s.outs {
		<-l.done
	}
	for _, l := range s.outs {
		logTotals(l.sup.log, l.stats.view())
	}
	return nil
}

// logTotals logs an output's counters once, when the listener stops: what
// crossed its stream, and how often its plugin had to be restarted.
func logTotals(log hclog.Logger, s OutputStats) {
	log.Info("output totals", "events", s.EventsSent, "messages", s.MessagesSent, "heartbeats", s.Heartbeats,
		"snapshots", s.SnapshotsSent, "resyncs", s.Resyncs, "starts", s.Starts, "restarts", s.Restarts, "hung", s.Hung)
}

// Stats returns a snapshot of every output's counters, ordered as the
// outputs passed to the latest Run or Update.
func (h *Host) Stats() []OutputStats {
	h.mu.Lock()
	stats := h.stats
	h.mu.Unlock()
	out := make([]OutputStats, len(stats))
	for i, s := range stats {
		out[i] = s.view()
	}
	return out
}

func specOf(o *Output) *outputv1.OutputSpec {
	return &outputv1.OutputSpec{
		Yaml:  o.Spec,
		File:  o.File,
		Line:  uint32(max(o.SpecLine, 0)),
		Index: uint32(max(o.Index, 0)),
	}
}

func groupsOf(gs []GroupInfo) []*outputv1.GroupInfo {
	out := make([]*outputv1.GroupInfo, len(gs))
	for i, g := range gs {
		out[i] = &outputv1.GroupInfo{
			Id:                   g.ID,
			ExpireMicros:         g.Expire.Microseconds(),
			ReadinessDelayMicros: g.ReadinessDelay.Microseconds(),
		}
	}
	return out
}

func diagsOf(ds []*outputv1.Diagnostic) []Diagnostic {
	out := make([]Diagnostic, len(ds))
	for i, d := range ds {
		out[i] = Diagnostic{Key: d.GetKey(), Line: int(d.GetLine()), Message: d.GetMessage()}
	}
	return out
}
