package group

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// reconfEnv is what a TestReconfigure case's follow-up step works with.
type reconfEnv struct {
	r   *Registry
	clk *FakeClock
	l   *loop // nil when the case does not run the Run loop
	sub *Subscription
}

// events drains the subscription and formats what it read, compactly.
func (e *reconfEnv) events(t *testing.T) []string {
	t.Helper()
	return formatEvents(drain(t, e.sub))
}

func formatEvents(evs []Event) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == Ready {
			out = append(out, fmt.Sprintf("ready %d", e.Group))
			continue
		}
		out = append(out, fmt.Sprintf("%s %d %s", e.Kind, e.Group, e.Member.Addr))
	}
	return out
}

func groupIDs(cs []Config) []uint64 {
	var out []uint64
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestReconfigure(t *testing.T) {
	const m = time.Minute
	tests := []struct {
		name          string
		before, after []Config
		run           bool                // run the Run loop from t0
		members       map[uint64][]string // announced at t0
		at            time.Duration       // clock advance before Reconfigure
		wantEvents    []string            // published by Reconfigure
		wantStats     []Stats             // right after Reconfigure
		then          func(t *testing.T, e *reconfEnv)
	}{
		{
			name:       "group stays: members, readiness and counters kept, no event",
			before:     []Config{{ID: 1, Expire: m}},
			after:      []Config{{ID: 1, Expire: m}},
			run:        true,
			members:    map[uint64][]string{1: {"192.0.2.1", "192.0.2.2"}},
			at:         time.Second,
			wantEvents: nil,
			wantStats:  []Stats{{ID: 1, Members: 2, Ready: true, Started: true, Joins: 2}},
		},
		{
			name:      "groups stay in a new order",
			before:    []Config{{ID: 1, Expire: m}, {ID: 2, Expire: m}},
			after:     []Config{{ID: 2, Expire: m}, {ID: 1, Expire: m}},
			run:       true,
			members:   map[uint64][]string{1: {"192.0.2.1"}, 2: {"192.0.2.2"}},
			wantStats: []Stats{{ID: 2, Members: 1, Ready: true, Started: true, Joins: 1}, {ID: 1, Members: 1, Ready: true, Started: true, Joins: 1}},
			then: func(t *testing.T, e *reconfEnv) {
				var ids []uint64
				for _, g := range e.r.Snapshot(nil) {
					ids = append(ids, g.ID)
				}
				if !slices.Equal(ids, []uint64{2, 1}) {
					t.Fatalf("Snapshot groups %v, want [2 1]", ids)
				}
			},
		},
		{
			name:      "group added while running: delay counted from the reload",
			before:    []Config{{ID: 1, Expire: m}},
			after:     []Config{{ID: 1, Expire: m}, {ID: 3, Expire: m, ReadinessDelay: 5 * time.Second}},
			run:       true,
			members:   map[uint64][]string{1: {"192.0.2.1"}},
			at:        2 * time.Second,
			wantStats: []Stats{{ID: 1, Members: 1, Ready: true, Started: true, Joins: 1}, {ID: 3, Started: true, ReadyIn: 5 * time.Second}},
			then: func(t *testing.T, e *reconfEnv) {
				if res := mustObserve(t, e.r, 3, addr("192.0.2.9"), e.clk.Now()); res != Joined {
					t.Fatalf("Observe in the new group = %v, want joined", res)
				}
				e.l.advance(t, 5*time.Second, SweepInterval)
				if got, want := e.events(t), []string{"join 3 192.0.2.9", "ready 3"}; !slices.Equal(got, want) {
					t.Fatalf("events %q, want %q", got, want)
				}
			},
		},
		{
			name:       "group added while running without a delay: ready at once",
			before:     []Config{{ID: 1, Expire: m}},
			after:      []Config{{ID: 1, Expire: m}, {ID: 3, Expire: m}},
			run:        true,
			wantEvents: []string{"ready 3"},
			wantStats:  []Stats{{ID: 1, Ready: true, Started: true}, {ID: 3, Ready: true, Started: true}},
		},
		{
			name:      "group added before Run: delay counted from Run",
			before:    []Config{{ID: 1, Expire: m}},
			after:     []Config{{ID: 1, Expire: m}, {ID: 3, Expire: m, ReadinessDelay: 5 * time.Second}},
			wantStats: []Stats{{ID: 1}, {ID: 3}},
			then: func(t *testing.T, e *reconfEnv) {
				e.clk.Advance(2 * time.Second)
				e.l = startRun(t, e.r, e.clk)
				want := []Stats{{ID: 1, Ready: true, Started: true}, {ID: 3, Started: true, ReadyIn: 5 * time.Second}}
				if got := e.r.Stats(); !equalStats(got, want) {
					t.Fatalf("Stats after Run started = %+v, want %+v", got, want)
				}
				e.l.advance(t, 5*time.Second, SweepInterval)
				if got, want := e.events(t), []string{"ready 1", "ready 3"}; !slices.Equal(got, want) {
					t.Fatalf("events %q, want %q", got, want)
				}
			},
		},
		{
			name:       "group removed: its members leave, in address order",
			before:     []Config{{ID: 1, Expire: m}, {ID: 2, Expire: m}},
			after:      []Config{{ID: 1, Expire: m}},
			run:        true,
			members:    map[uint64][]string{1: {"192.0.2.1"}, 2: {"2001:db8::1", "192.0.2.2", "192.0.2.1"}},
			wantEvents: []string{"leave 2 192.0.2.1", "leave 2 192.0.2.2", "leave 2 2001:db8::1"},
			wantStats:  []Stats{{ID: 1, Members: 1, Ready: true, Started: true, Joins: 1}},
			then: func(t *testing.T, e *reconfEnv) {
				if _, err := e.r.Observe(2, addr("192.0.2.1"), e.clk.Now()); !errors.Is(err, ErrUnknownGroup) {
					t.Fatalf("Observe in the removed group: err = %v, want ErrUnknownGroup", err)
				}
				snap := e.r.Snapshot(nil)
				if len(snap) != 1 || snap[0].ID != 1 {
					t.Fatalf("Snapshot = %v, want group 1 only", snap)
				}
				// The removed members' expiries pass: nothing more is
				// published for them.
				e.l.advance(t, 2*m, time.Second)
				if got, want := e.events(t), []string{"leave 1 192.0.2.1"}; !slices.Equal(got, want) {
					t.Fatalf("events after the expiries %q, want %q", got, want)
				}
			},
		},
		{
			name:       "every group removed",
			before:     []Config{{ID: 1, Expire: m}, {ID: 2, Expire: m}},
			after:      nil,
			run:        true,
			members:    map[uint64][]string{1: {"192.0.2.1"}, 2: {"192.0.2.2"}},
			wantEvents: []string{"leave 1 192.0.2.1", "leave 2 192.0.2.2"},
			wantStats:  []Stats{},
		},
		{
			name:      "longer expire: applies to the next announcement only",
			before:    []Config{{ID: 1, Expire: 10 * time.Second}},
			after:     []Config{{ID: 1, Expire: m}},
			run:       true,
			members:   map[uint64][]string{1: {"192.0.2.1"}},
			wantStats: []Stats{{ID: 1, Members: 1, Ready: true, Started: true, Joins: 1}},
			then: func(t *testing.T, e *reconfEnv) {
				if got := findGroup(t, e.r.Snapshot(nil), 1).Members[0].Expires; !got.Equal(t0.Add(10 * time.Second)) {
					t.Fatalf("existing expiry %s, want the old t0+10s", got)
				}
				ts := t0.Add(time.Second)
				if res := mustObserve(t, e.r, 1, addr("192.0.2.1"), ts); res != Refreshed {
					t.Fatalf("Observe = %v, want refreshed", res)
				}
				mustObserve(t, e.r, 1, addr("192.0.2.2"), ts)
				for _, mem := range findGroup(t, e.r.Snapshot(nil), 1).Members {
					if !mem.Expires.Equal(ts.Add(m)) {
						t.Errorf("%s expires %s, want the announcement's time plus the new expire", mem.Addr, mem.Expires)
					}
				}
			},
		},
		{
			name:      "shorter expire: a member's expiry never moves back",
			before:    []Config{{ID: 1, Expire: m}},
			after:     []Config{{ID: 1, Expire: 10 * time.Second}},
			run:       true,
			members:   map[uint64][]string{1: {"192.0.2.1"}},
			wantStats: []Stats{{ID: 1, Members: 1, Ready: true, Started: true, Joins: 1}},
			then: func(t *testing.T, e *reconfEnv) {
				if res := mustObserve(t, e.r, 1, addr("192.0.2.1"), t0.Add(time.Second)); res != Outdated {
					t.Fatalf("Observe = %v, want outdated (t0+11s is before the current t0+60s)", res)
				}
				if res := mustObserve(t, e.r, 1, addr("192.0.2.2"), t0.Add(-11*time.Second)); res != Stale {
					t.Fatalf("Observe of a t0-11s announcement = %v, want stale under the new 10s expire", res)
				}
			},
		},
		{
			name:      "shorter delay, not ready yet: ready at the original start plus the new delay",
			before:    []Config{{ID: 1, Expire: m, ReadinessDelay: 10 * time.Second}},
			after:     []Config{{ID: 1, Expire: m, ReadinessDelay: 5 * time.Second}},
			run:       true,
			at:        2 * time.Second,
			wantStats: []Stats{{ID: 1, Started: true, ReadyIn: 3 * time.Second}},
			then: func(t *testing.T, e *reconfEnv) {
				e.l.advance(t, 3*time.Second-SweepInterval, SweepInterval)
				if got := e.events(t); len(got) != 0 {
					t.Fatalf("events before the new delay passed: %q", got)
				}
				e.l.advance(t, SweepInterval, SweepInterval)
				if got, want := e.events(t), []string{"ready 1"}; !slices.Equal(got, want) {
					t.Fatalf("events %q, want %q", got, want)
				}
			},
		},
		{
			name:       "shorter delay that has already passed: ready at once",
			before:     []Config{{ID: 1, Expire: m, ReadinessDelay: 10 * time.Second}},
			after:      []Config{{ID: 1, Expire: m, ReadinessDelay: 5 * time.Second}},
			run:        true,
			at:         6 * time.Second,
			wantEvents: []string{"ready 1"},
			wantStats:  []Stats{{ID: 1, Ready: true, Started: true}},
		},
		{
			name:      "longer delay, not ready yet",
			before:    []Config{{ID: 1, Expire: m, ReadinessDelay: 10 * time.Second}},
			after:     []Config{{ID: 1, Expire: m, ReadinessDelay: 20 * time.Second}},
			run:       true,
			at:        2 * time.Second,
			wantStats: []Stats{{ID: 1, Started: true, ReadyIn: 18 * time.Second}},
		},
		{
			name:      "delay of a ready group: stays ready",
			before:    []Config{{ID: 1, Expire: m}},
			after:     []Config{{ID: 1, Expire: m, ReadinessDelay: 30 * time.Second}},
			run:       true,
			at:        time.Second,
			wantStats: []Stats{{ID: 1, Ready: true, Started: true}},
		},
		{
			name:      "delay changed before Run",
			before:    []Config{{ID: 1, Expire: m, ReadinessDelay: 10 * time.Second}},
			after:     []Config{{ID: 1, Expire: m, ReadinessDelay: 3 * time.Second}},
			wantStats: []Stats{{ID: 1}},
			then: func(t *testing.T, e *reconfEnv) {
				e.l = startRun(t, e.r, e.clk)
				if got, want := e.r.Stats(), []Stats{{ID: 1, Started: true, ReadyIn: 3 * time.Second}}; !equalStats(got, want) {
					t.Fatalf("Stats after Run started = %+v, want %+v", got, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := NewFakeClock(t0)
			e := &reconfEnv{r: mustNew(t, tt.before, Options{Clock: clk}), clk: clk}
			if tt.run {
				e.l = startRun(t, e.r, clk)
			}
			for id, as := range tt.members {
				for _, a := range as {
					mustObserve(t, e.r, id, addr(a), t0)
				}
			}
			if tt.at > 0 {
				e.l.advance(t, tt.at, SweepInterval)
			}
			e.sub = e.r.Subscribe(nil)
			defer e.sub.Close()
			e.sub.Resync()

			if err := e.r.Reconfigure(tt.after); err != nil {
				t.Fatalf("Reconfigure: %v", err)
			}
			if got := e.events(t); !slices.Equal(got, tt.wantEvents) {
				t.Fatalf("events of Reconfigure %q, want %q", got, tt.wantEvents)
			}
			if got := e.r.Stats(); !equalStats(got, tt.wantStats) {
				t.Fatalf("Stats = %+v, want %+v", got, tt.wantStats)
			}
			if got, want := groupIDs(e.r.Groups()), groupIDs(tt.after); !slices.Equal(got, want) {
				t.Fatalf("Groups() = %v, want %v", got, want)
			}
			if tt.then != nil {
				tt.then(t, e)
			}
		})
	}
}

// TestReconfigureInvalidChangesNothing: a list New refuses is refused with
// the same error, and the registry goes on as before.
func TestReconfigureInvalidChangesNothing(t *testing.T) {
	before := []Config{{ID: 1, Expire: time.Minute, ReadinessDelay: 10 * time.Second}, {ID: 2, Expire: time.Minute}}
	tests := []struct {
		name  string
		after []Config
	}{
		{"duplicate id", []Config{{ID: 1, Expire: time.Minute}, {ID: 3, Expire: time.Minute}, {ID: 1, Expire: time.Second}}},
		{"zero expire", []Config{{ID: 1, Expire: time.Minute}, {ID: 3}}},
		{"negative expire", []Config{{ID: 3, Expire: -time.Second}}},
		{"negative delay", []Config{{ID: 1, Expire: time.Minute, ReadinessDelay: -time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, newErr := New(tt.after, Options{})
			if newErr == nil {
				t.Fatal("New accepted the list; the case is wrong")
			}
			clk := NewFakeClock(t0)
			r := mustNew(t, before, Options{Clock: clk})
			startRun(t, r, clk)
			mustObserve(t, r, 2, addr("192.0.2.1"), t0)
			seq, snap, stats := r.Seq(), r.Snapshot(nil), r.Stats()

			err := r.Reconfigure(tt.after)
			if !errors.Is(err, ErrInvalidConfig) || err.Error() != newErr.Error() {
				t.Fatalf("Reconfigure: %v; want New's error %q", err, newErr)
			}
			if got := r.Seq(); got != seq {
				t.Errorf("Seq moved from %d to %d: events were published", seq, got)
			}
			if got := r.Groups(); !slices.Equal(got, before) {
				t.Errorf("Groups() = %v, want the old %v", got, before)
			}
			if got := r.Snapshot(nil); fmt.Sprint(got) != fmt.Sprint(snap) {
				t.Errorf("Snapshot = %v, want the old %v", got, snap)
			}
			if got := r.Stats(); !equalStats(got, stats) {
				t.Errorf("Stats = %+v, want the old %+v", got, stats)
			}
			if _, err := r.Observe(3, addr("192.0.2.1"), t0); !errors.Is(err, ErrUnknownGroup) {
				t.Errorf("Observe in group 3 = %v, want ErrUnknownGroup", err)
			}
		})
	}
}

// TestReconfigureReAdd: a group removed and added again is a new group:
// empty, not ready, its counters from zero, and its events reach the
// subscribers whose filter takes its id.
func TestReconfigureReAdd(t *testing.T) {
	clk := NewFakeClock(t0)
	one := Config{ID: 1, Expire: time.Minute}
	two := Config{ID: 2, Expire: time.Minute, ReadinessDelay: 5 * time.Second}
	r := mustNew(t, []Config{one, two}, Options{Clock: clk})
	l := startRun(t, r, clk)
	mustObserve(t, r, 2, addr("192.0.2.2"), t0)
	l.advance(t, 5*time.Second, SweepInterval)
	only2 := r.Subscribe(func(id uint64) bool { return id == 2 })
	defer only2.Close()
	only2.Resync()

	if err := r.Reconfigure([]Config{one}); err != nil {
		t.Fatal(err)
	}
	if err := r.Reconfigure([]Config{one, two}); err != nil {
		t.Fatal(err)
	}
	want := []Stats{{ID: 1, Ready: true, Started: true}, {ID: 2, Started: true, ReadyIn: 5 * time.Second}}
	if got := r.Stats(); !equalStats(got, want) {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
	if g := findGroup(t, r.Snapshot(nil), 2); g.Ready || len(g.Members) != 0 {
		t.Fatalf("re-added group %+v, want empty and not ready", g)
	}
	mustObserve(t, r, 2, addr("192.0.2.3"), clk.Now())
	l.advance(t, 5*time.Second, SweepInterval)
	got := formatEvents(drain(t, only2))
	if want := []string{"leave 2 192.0.2.2", "join 2 192.0.2.3", "ready 2"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if n := len(r.groups); n != 2 {
		t.Errorf("%d group slots after re-adding a group, want 2 (its slot reused)", n)
	}
}

// TestReconfigureMidStream: a subscriber that has events left to read when
// the reload happens reads them all, with the right groups, then the leaves
// of the removed group and nothing for the members that stayed; its copy of
// the groups ends equal to the registry's.
func TestReconfigureMidStream(t *testing.T) {
	clk := NewFakeClock(t0)
	cfg := func(id uint64) Config { return Config{ID: id, Expire: time.Minute} }
	r := mustNew(t, []Config{cfg(1), cfg(2), cfg(3)}, Options{Clock: clk, RingSize: 64})
	startRun(t, r, clk)
	all := r.Subscribe(nil)
	defer all.Close()
	some := r.Subscribe(func(id uint64) bool { return id == 2 || id == 4 })
	defer some.Close()
	mAll, mSome := newMirror(), newMirror()
	mAll.reset(all.Resync())
	mSome.reset(some.Resync())

	mustObserve(t, r, 1, addr("192.0.2.1"), t0)
	mustObserve(t, r, 2, addr("192.0.2.2"), t0)
	// The subscribers read part of the stream, then fall behind.
	for _, sm := range []struct {
		s *Subscription
		m *mirror
	}{{all, mAll}, {some, mSome}} {
		evs, _ := sm.s.Next(make([]Event, 0, 1))
		for _, e := range evs {
			if err := sm.m.apply(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustObserve(t, r, 2, addr("192.0.2.3"), t0)
	mustObserve(t, r, 3, addr("192.0.2.4"), t0)

	if err := r.Reconfigure([]Config{cfg(1), cfg(3), cfg(4)}); err != nil {
		t.Fatal(err)
	}
	mustObserve(t, r, 4, addr("192.0.2.5"), t0)
	mustObserve(t, r, 1, addr("192.0.2.1"), t0.Add(5*time.Second)) // an expiry update of a member that stayed

	got := drain(t, all)
	wantAll := []string{
		"join 2 192.0.2.2", "join 2 192.0.2.3", "join 3 192.0.2.4", // read late
		"leave 2 192.0.2.2", "leave 2 192.0.2.3", // the removed group
		"ready 4", "join 4 192.0.2.5", // the added group
		"expiry 1 192.0.2.1",
	}
	if fs := formatEvents(got); !slices.Equal(fs, wantAll) {
		t.Fatalf("subscriber of every group read %q, want %q", fs, wantAll)
	}
	mAll.groups[4] = &mirrorGroup{members: map[netip.Addr]time.Time{}} // the group list change a plugin hears of
	for _, e := range got {
		if err := mAll.apply(e); err != nil {
			t.Fatal(err)
		}
	}
	delete(mAll.groups, 2)
	if err := compareMirror(mAll, r.Snapshot(nil), DefaultExpiryGranularity); err != nil {
		t.Fatal(err)
	}

	got = drain(t, some)
	wantSome := []string{"join 2 192.0.2.3", "leave 2 192.0.2.2", "leave 2 192.0.2.3", "ready 4", "join 4 192.0.2.5"}
	if fs := formatEvents(got); !slices.Equal(fs, wantSome) {
		t.Fatalf("subscriber of groups 2 and 4 read %q, want %q", fs, wantSome)
	}
	if snap := some.Resync(); len(snap) != 1 || snap[0].ID != 4 {
		t.Fatalf("Resync of groups 2 and 4 after the reload = %v, want group 4 only", snap)
	}
}

// TestReconfigureConcurrent runs Observe, Snapshot, Stats, Seq and a
// subscriber against a stream of reloads that remove and add groups back.
// Under -race it checks the locking; the subscriber's copy, built from
// events alone, must end with exactly the registry's members: no join or
// leave lost or doubled across a reload.
func TestReconfigureConcurrent(t *testing.T) {
	const (
		observers = 4
		rounds    = 2000
		reloads   = 300
	)
	cfg := func(id uint64) Config { return Config{ID: id, Expire: time.Hour} }
	lists := [][]Config{
		{cfg(1), cfg(2), cfg(3)},
		{cfg(3), cfg(4)},
		{cfg(1), cfg(4), cfg(2), cfg(5)},
	}
	clk := NewFakeClock(t0)
	r := mustNew(t, lists[0], Options{Clock: clk})
	startRun(t, r, clk)
	sub := r.Subscribe(nil)
	defer sub.Close()
	sub.Resync()

	var wg sync.WaitGroup
	errs := make(chan error, observers+2)
	for w := range observers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				id := uint64(1 + (i+w)%5)
				a := netip.AddrFrom4([4]byte{10, byte(w), 0, byte(i % 7)})
				res, err := r.Observe(id, a, t0.Add(time.Duration(i)*time.Millisecond))
				if err != nil && !errors.Is(err, ErrUnknownGroup) {
					errs <- fmt.Errorf("Observe(%d, %s): %w", id, a, err)
					return
				}
				if err == nil && res != Joined && res != Refreshed && res != Outdated {
					errs <- fmt.Errorf("Observe(%d, %s) = %v", id, a, res)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range reloads {
			if err := r.Reconfigure(lists[(i+1)%len(lists)]); err != nil {
				errs <- err
				return
			}
			r.Snapshot(func(id uint64) bool { return id%2 == 0 })
			r.Stats()
			r.Seq()
		}
	}()
	// The subscriber: group id -> members, from events only.
	members := map[uint64]map[netip.Addr]bool{}
	apply := func(evs []Event) error {
		for _, e := range evs {
			g := members[e.Group]
			if g == nil {
				g = map[netip.Addr]bool{}
				members[e.Group] = g
			}
			switch e.Kind {
			case Join:
				if g[e.Member.Addr] {
					return fmt.Errorf("%v: already a member", e)
				}
				g[e.Member.Addr] = true
			case Leave:
				if !g[e.Member.Addr] {
					return fmt.Errorf("%v: not a member", e)
				}
				delete(g, e.Member.Addr)
			case Expiry:
				if !g[e.Member.Addr] {
					return fmt.Errorf("%v: not a member", e)
				}
			}
		}
		return nil
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	buf := make([]Event, 0, 64)
	read := func() {
		for {
			evs, resync := sub.Next(buf)
			if resync {
				t.Fatal("subscriber lapped; make the ring larger")
			}
			if len(evs) == 0 {
				return
			}
			if err := apply(evs); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.After(30 * time.Second)
loop:
	for {
		select {
		case <-done:
			break loop
		case err := <-errs:
			t.Fatal(err)
		case <-deadline:
			t.Fatal("workers did not finish within 30s")
		case <-sub.Notify():
			read()
		}
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	read()

	final := r.Snapshot(nil)
	if got, want := groupIDs(r.Groups()), groupIDs(lists[reloads%len(lists)]); !slices.Equal(got, want) {
		t.Fatalf("Groups() = %v, want the last list %v", got, want)
	}
	live := map[uint64]bool{}
	for _, g := range final {
		live[g.ID] = true
		if len(g.Members) != len(members[g.ID]) {
			t.Errorf("group %d: registry has %d members, the subscriber %d", g.ID, len(g.Members), len(members[g.ID]))
		}
		for _, mem := range g.Members {
			if !members[g.ID][mem.Addr] {
				t.Errorf("group %d: %s missing from the subscriber's copy", g.ID, mem.Addr)
			}
		}
	}
	for id, ms := range members {
		if !live[id] && len(ms) > 0 {
			t.Errorf("removed group %d still has %d members in the subscriber's copy", id, len(ms))
		}
	}
}

// TestObserveRacingRemoval: an Observe that looked its group up before a
// reload removed it, and got the registry lock after, is refused as an
// unknown group instead of adding a member to the removed group.
func TestObserveRacingRemoval(t *testing.T) {
	r, _, sub := subscribed(t, []Config{{ID: 1, Expire: time.Minute}, {ID: 2, Expire: time.Minute}}, Options{})

	r.mu.Lock()
	type result struct {
		res Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := r.Observe(2, addr("192.0.2.1"), t0)
		done <- result{res, err}
	}()
	// Give Observe time to look group 2 up and block on the lock. Were it
	// slower, it would see the new list and the test would pass anyway.
	time.Sleep(20 * time.Millisecond)
	if _, err := r.reconfigureLocked([]Config{{ID: 1, Expire: time.Minute}}, t0.UnixNano()); err != nil {
		r.mu.Unlock()
		t.Fatal(err)
	}
	r.mu.Unlock()
	select {
	case got := <-done:
		if !errors.Is(got.err, ErrUnknownGroup) {
			t.Fatalf("Observe = %v, %v; want ErrUnknownGroup", got.res, got.err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Observe did not return")
	}
	if evs := drain(t, sub); len(evs) != 0 {
		t.Fatalf("events %v; want none", evs)
	}
}
