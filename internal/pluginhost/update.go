package pluginhost

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"
)

// This file applies a new output and group list to the active Run (a
// listener reload): outputs are matched by what defines them, not by
// position; a matched output keeps its process; the rest are stopped or
// started. See Update.

// session is the active Run: what Update changes. Host.upd guards it.
type session struct {
	ctx    context.Context
	feed   Feed
	groups []GroupInfo
	outs   []*live // in the order of the latest output list
}

// live is one output of the session and its supervisor goroutine.
type live struct {
	key     outputKey
	sup     *supervisor
	stats   *outputStats
	prog    *progress
	cancel  context.CancelFunc
	removed atomic.Bool   // stopped by Update: logs its own totals
	done    chan struct{} // closed when the supervisor has returned
}

// outputKey is what defines an output's plugin process: two outputs with
// equal keys run the same plugin the same way. Index, File, Line and
// SpecLine only label it (logs, error messages) and may differ.
type outputKey struct {
	kind, sha256, spec string
	hang               time.Duration
}

func keyOf(o *Output) outputKey {
	return outputKey{kind: o.Kind, sha256: o.SHA256, spec: canonicalSpec(o.Spec), hang: o.HangTimeout}
}

// canonicalSpec is a spec's content without its layout: the configuration
// hands a spec over padded so that a parser reports the file's own line
// numbers, so an output whose lines moved (a group added above it) would
// otherwise look changed. Keys are sorted, comments, anchors and spacing
// dropped; a spec that does not parse is compared as written.
func canonicalSpec(spec []byte) string {
	var v any
	if err := yaml.Unmarshal(spec, &v); err != nil {
		return string(spec)
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		return string(spec)
	}
	return string(out)
}

// start launches the supervisor of o; the caller holds h.upd.
func (h *Host) start(s *session, o Output) *live {
	ctx, cancel := context.WithCancel(s.ctx)
	stats := newOutputStats(&o)
	prog := &progress{}
	prog.step(time.Now(), h.opts.launchBound())
	l := &live{key: keyOf(&o), stats: stats, prog: prog, cancel: cancel, done: make(chan struct{})}
	l.sup = &supervisor{
		h:      h,
		out:    o,
		groups: s.groups,
		feed:   s.feed,
		stats:  stats,
		prog:   prog,
		log:    labelLogger{Logger: h.opts.Logger.Named("output"), index: &stats.index, kind: o.Kind},
	}
	go func() {
		defer close(l.done)
		l.sup.run(ctx)
		if l.removed.Load() {
			logTotals(l.sup.log, stats.view())
		}
	}()
	return l
}

// publish makes Stats, AllStarted and Stalled report s's outputs.
func (h *Host) publish(s *session) {
	stats := make([]*outputStats, len(s.outs))
	prog := make([]*progress, len(s.outs))
	for i, l := range s.outs {
		stats[i], prog[i] = l.stats, l.prog
	}
	h.mu.Lock()
	h.stats, h.progress = stats, prog
	h.mu.Unlock()
}

// Update applies a new output list and group list to the active Run (for a
// listener reload). It returns ErrNotRunning when no Run is active; calls
// are serialized.
//
// Outputs are matched to the running ones by kind, spec, sha256 pin and
// hang timeout, one to one (two identical entries match two running
// outputs), preferring the same index. A matched output keeps its plugin
// process and stream untouched; only its index label follows the new list
// (logs, Stats order). Running outputs left unmatched are stopped, in
// parallel and bounded as at shutdown, each logging its totals; Update
// waits for them, so that a replacement can bind what they held. Then the
// unmatched new outputs start: launch, Configure, snapshot, restarts with
// backoff, as at Run. If ctx ends while outputs are still stopping, Update
// applies the new list all the same and returns an error wrapping
// ctx.Err() that names the output still stopping.
//
// A kept output is told the new group list when, and only when, the
// groups it knows changed: for an output subscribed to every group, any
// change of the list (ids, expire, readiness delay); for one subscribed to
// some groups, a change of one of those. A plugin that declared
// CAPABILITY_GROUP_UPDATES (every plugin built on the SDK) keeps its
// process: its stream gets a fresh snapshot whose first chunk carries the
// new list, and its subscription stays. Any other plugin learns the list
// only at Configure and refuses a second one, so it is restarted. The
// outputs whose groups did not change keep their process untouched: the
// feed already carries the added and removed groups' events to them, and
// their filters still hold.
//
// Update does not validate specs: the caller runs ValidateAll first. After
// it returns, Stats, AllStarted and Stalled describe the new list.
func (h *Host) Update(ctx context.Context, outputs []Output, groups []GroupInfo) error {
	h.upd.Lock()
	defer h.upd.Unlock()
	s := h.cur
	if s == nil {
		return ErrNotRunning
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update outputs: %w", err)
	}
	matched, gone := match(s.outs, outputs)

	// Stop the outputs that go, all at once, as at shutdown.
	for _, l := range gone {
		l.removed.Store(true)
		l.cancel()
	}
	var waitErr error
	for _, l := range gone {
		select {
		case <-l.done:
		case <-ctx.Done():
			waitErr = fmt.Errorf("update outputs: output %d (%s) still stopping: %w",
				l.stats.index.Load(), l.stats.kind, ctx.Err())
		}
		if waitErr != nil {
			break
		}
	}

	regroup := !sameGroups(s.groups, groups)
	s.groups = slices.Clone(groups)
	next := make([]*live, len(outputs))
	for i := range outputs {
		l := matched[i]
		if l == nil {
			next[i] = h.start(s, outputs[i])
			continue
		}
		next[i] = l
		if old := l.sup.relabel(outputs[i]); old != outputs[i].Index {
			l.sup.log.Debug("output moved", "from", old)
		}
		if !regroup {
			continue
		}
		switch l.sup.regroup(s.groups) {
		case regroupSent:
			l.sup.log.Info("sending the new group list to the output plugin")
		case regroupRestart:
			l.sup.log.Info("restarting output plugin: the groups it knows changed")
		}
	}
	s.outs = next
	h.publish(s)
	return waitErr
}

// match pairs every new output with an unmatched running one of the same
// key, the same index first; matched[i] is nil for a new output to start.
// gone lists the running outputs left over.
func match(running []*live, outputs []Output) (matched, gone []*live) {
	matched = make([]*live, len(outputs))
	taken := make([]bool, len(running))
	pair := func(sameIndex bool) {
		for i := range outputs {
			if matched[i] != nil {
				continue
			}
			k := keyOf(&outputs[i])
			for j, l := range running {
				if taken[j] || l.key != k || (sameIndex && int(l.stats.index.Load()) != outputs[i].Index) {
					continue
				}
				matched[i], taken[j] = l, true
				break
			}
		}
	}
	pair(true)
	pair(false)
	for j, l := range running {
		if !taken[j] {
			gone = append(gone, l)
		}
	}
	return matched, gone
}

// sameGroups reports whether two group lists describe the same groups,
// in any order.
func sameGroups(a, b []GroupInfo) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[uint64]GroupInfo, len(a))
	for _, g := range a {
		m[g.ID] = g
	}
	for _, g := range b {
		if o, ok := m[g.ID]; !ok || o != g {
			return false
		}
	}
	return true
}

// subscribed is what a configured plugin hears about, and the group list
// it was configured with.
type subscribed struct {
	all    bool
	ids    map[uint64]bool // when !all
	groups []GroupInfo
}

func (s *subscribed) wants(id uint64) bool { return s.all || s.ids[id] }

// affected reports whether a plugin configured with s would have been
// told something else under groups.
func (s *subscribed) affected(groups []GroupInfo) bool {
	if s.all {
		return !sameGroups(s.groups, groups)
	}
	for id := range s.ids {
		was, wasOK := infoOf(s.groups, id)
		now, nowOK := infoOf(groups, id)
		if was != now || wasOK != nowOK {
			return true
		}
	}
	return false
}

// infoOf finds group id in gs.
func infoOf(gs []GroupInfo, id uint64) (GroupInfo, bool) {
	i := slices.IndexFunc(gs, func(g GroupInfo) bool { return g.ID == id })
	if i < 0 {
		return GroupInfo{}, false
	}
	return gs[i], true
}

// output returns the output as last set (Update may relabel it).
func (s *supervisor) output() Output {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out
}

// relabel takes the labels of o (index, file and lines; its key is that of
// the running output) and returns the previous index.
func (s *supervisor) relabel(o Output) int {
	s.mu.Lock()
	old := s.out.Index
	s.out = o
	s.mu.Unlock()
	s.stats.index.Store(int64(o.Index))
	return old
}

// setProc records how to end the current process (nil: none runs).
func (s *supervisor) setProc(end context.CancelFunc) {
	s.mu.Lock()
	s.endProc, s.sub, s.updates = end, nil, nil
	s.mu.Unlock()
}

// regrouping is what regroup did to the current process.
type regrouping int

const (
	regroupNone    regrouping = iota // nothing: no process, or its groups are unchanged
	regroupSent                      // the process takes the new list on its stream
	regroupRestart                   // the process was ended, to be configured again
)

// regroup sets the group list for the next Configure. If the groups the
// current process knows changed, a process that declared
// CAPABILITY_GROUP_UPDATES gets the new list on its stream; any other, or
// one not configured yet (its Configure may carry the old list), is ended.
func (s *supervisor) regroup(groups []GroupInfo) regrouping {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = groups
	if s.endProc == nil || (s.sub != nil && !s.sub.affected(groups)) {
		return regroupNone
	}
	if s.sub != nil && s.updates != nil {
		s.sub.groups = groups
		s.updates.post(groups)
		return regroupSent
	}
	s.regrouped = true
	s.endProc()
	return regroupRestart
}

// takeRegrouped reports, and clears, whether regroup ended the process.
func (s *supervisor) takeRegrouped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.regrouped
	s.regrouped = false
	return r
}
