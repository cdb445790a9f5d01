package group

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const waitLimit = 5 * time.Second

func mustNew(t testing.TB, groups []Config, opts Options) *Registry {
	t.Helper()
	r, err := New(groups, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// subscribed returns a registry of groups on a fake clock at t0 (opts with
// that Clock) and an unfiltered, resynced subscription to it, closed at the
// end of the test.
func subscribed(t *testing.T, groups []Config, opts Options) (*Registry, *FakeClock, *Subscription) {
	t.Helper()
	clk := NewFakeClock(t0)
	opts.Clock = clk
	r := mustNew(t, groups, opts)
	sub := r.Subscribe(nil)
	t.Cleanup(sub.Close)
	sub.Resync()
	return r, clk, sub
}

// mustObserve is r.Observe for a test whose later checks would mean nothing
// had the announcement been refused.
func mustObserve(t testing.TB, r *Registry, groupID uint64, a netip.Addr, ts time.Time) Result {
	t.Helper()
	res, err := r.Observe(groupID, a, ts)
	if err != nil {
		t.Fatalf("Observe(%d, %v, %v): %v", groupID, a, ts, err)
	}
	return res
}

// loop is a Run loop under test, driven by a fake clock.
type loop struct {
	r     *Registry
	clk   *FakeClock
	start time.Time
}

// startRun runs r.Run until the test ends and waits until its first sweep is
// done, so that later Advance calls reach its ticker.
func startRun(t *testing.T, r *Registry, clk *FakeClock) *loop {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("Run did not return within %s of cancel", waitLimit)
		}
	})
	l := &loop{r: r, clk: clk, start: clk.Now()}
	l.waitSwept(t, l.start)
	return l
}

// sync waits until the loop has handled the latest tick the fake clock fired
// (ticks fall on start + k*SweepInterval).
func (l *loop) sync(t testing.TB) {
	t.Helper()
	ticks := l.clk.Now().Sub(l.start) / SweepInterval
	l.waitSwept(t, l.start.Add(ticks*SweepInterval))
}

// waitSwept waits (bounded) until the Run loop has completed a sweep at or
// after at.
func (l *loop) waitSwept(t testing.TB, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for l.r.sweptUpTo.Load() < at.UnixNano() {
		if time.Now().After(deadline) {
			t.Fatalf("Run loop did not sweep up to %s within %s (last sweep %s)",
				at, waitLimit, unixTime(l.r.sweptUpTo.Load()))
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// advance moves the fake clock by d in steps of at most step, letting the
// Run loop handle each tick.
func (l *loop) advance(t testing.TB, d, step time.Duration) {
	t.Helper()
	for d > 0 {
		s := min(step, d)
		l.clk.Advance(s)
		l.sync(t)
		d -= s
	}
}

// drain reads every pending event; it fails on resync.
func drain(t testing.TB, s *Subscription) []Event {
	t.Helper()
	var all []Event
	buf := make([]Event, 0, 64)
	for {
		evs, resync := s.Next(buf)
		if resync {
			t.Fatalf("unexpected resync")
		}
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// mirror is a consumer's copy of the groups, built from snapshots and events
// the way the plugin SDK will build it. It rejects events that do not fit
// the state (a join of a member, a leave of a non-member, ...), so a lost or
// duplicated event shows up as an error.
type mirror struct {
	groups map[uint64]*mirrorGroup
}

type mirrorGroup struct {
	ready   bool
	members map[netip.Addr]time.Time
}

func newMirror() *mirror { return &mirror{groups: map[uint64]*mirrorGroup{}} }

func (m *mirror) reset(snap []GroupSnapshot) {
	m.groups = map[uint64]*mirrorGroup{}
	for _, gs := range snap {
		mg := &mirrorGroup{ready: gs.Ready, members: map[netip.Addr]time.Time{}}
		for _, mem := range gs.Members {
			mg.members[mem.Addr] = mem.Expires
		}
		m.groups[gs.ID] = mg
	}
}

func (m *mirror) apply(e Event) error {
	g, ok := m.groups[e.Group]
	if !ok {
		return fmt.Errorf("%v: group not subscribed", e)
	}
	old, present := g.members[e.Member.Addr]
	switch e.Kind {
	case Join:
		if present {
			return fmt.Errorf("%v: already a member", e)
		}
		g.members[e.Member.Addr] = e.Member.Expires
	case Leave:
		if !present {
			return fmt.Errorf("%v: not a member", e)
		}
		delete(g.members, e.Member.Addr)
	case Expiry:
		if !present {
			return fmt.Errorf("%v: not a member", e)
		}
		if !e.Member.Expires.After(old) {
			return fmt.Errorf("%v: expiry does not move forward from %s", e, old)
		}
		g.members[e.Member.Addr] = e.Member.Expires
	case Ready:
		if g.ready {
			return fmt.Errorf("%v: already ready", e)
		}
		g.ready = true
	default:
		return fmt.Errorf("%v: unknown kind", e)
	}
	return nil
}

// compareMirror checks a mirror against a registry snapshot: same groups,
// readiness and addresses; each mirrored expiry is not later than the truth
// and less than granularity earlier.
func compareMirror(m *mirror, snap []GroupSnapshot, granularity time.Duration) error {
	if len(m.groups) != len(snap) {
		return fmt.Errorf("mirror has %d groups, registry %d", len(m.groups), len(snap))
	}
	for _, gs := range snap {
		mg, ok := m.groups[gs.ID]
		if !ok {
			return fmt.Errorf("group %d missing from mirror", gs.ID)
		}
		if mg.ready != gs.Ready {
			return fmt.Errorf("group %d: mirror ready=%v, registry %v", gs.ID, mg.ready, gs.Ready)
		}
		if len(mg.members) != len(gs.Members) {
			return fmt.Errorf("group %d: mirror has %d members, registry %d", gs.ID, len(mg.members), len(gs.Members))
		}
		for _, mem := range gs.Members {
			exp, ok := mg.members[mem.Addr]
			if !ok {
				return fmt.Errorf("group %d: %s missing from mirror", gs.ID, mem.Addr)
			}
			if exp.After(mem.Expires) || mem.Expires.Sub(exp) >= granularity {
				return fmt.Errorf("group %d: %s: mirror expiry %s, registry %s (granularity %s)",
					gs.ID, mem.Addr, exp, mem.Expires, granularity)
			}
		}
	}
	return nil
}

func kinds(evs []Event) []EventKind {
	out := make([]EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

func memberAddrs(gs GroupSnapshot) []netip.Addr {
	out := make([]netip.Addr, len(gs.Members))
	for i, m := range gs.Members {
		out[i] = m.Addr
	}
	return out
}

func findGroup(t testing.TB, snap []GroupSnapshot, id uint64) GroupSnapshot {
	t.Helper()
	i := slices.IndexFunc(snap, func(g GroupSnapshot) bool { return g.ID == id })
	if i < 0 {
		t.Fatalf("group %d not in snapshot %v", id, snap)
	}
	return snap[i]
}
