package sdk

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMirrorMembersViewIsStable(t *testing.T) {
	var m Mirror
	exp := time.Unix(100, 0)
	m.impl.apply(Event{Kind: EventJoin, Group: 1, Member: Member{Addr: netip.MustParseAddr("10.0.0.2"), Expires: exp}})
	m.impl.apply(Event{Kind: EventJoin, Group: 1, Member: Member{Addr: netip.MustParseAddr("10.0.0.1"), Expires: exp}})
	before := m.Members(1)
	if len(before) != 2 || before[0].Addr.String() != "10.0.0.1" {
		t.Fatalf("Members = %v, want both, sorted", before)
	}
	m.impl.apply(Event{Kind: EventLeave, Group: 1, Member: Member{Addr: netip.MustParseAddr("10.0.0.1")}})
	if len(before) != 2 || before[0].Addr.String() != "10.0.0.1" {
		t.Fatalf("a slice returned earlier changed after a leave: %v", before)
	}
	if after := m.Members(1); len(after) != 1 || after[0].Addr.String() != "10.0.0.2" {
		t.Fatalf("Members after leave = %v", after)
	}
	if got := m.Members(99); got != nil {
		t.Fatalf("Members(unknown) = %v, want nil", got)
	}
}

func TestMirrorZeroValue(t *testing.T) {
	var m Mirror
	if m.Ready(1) || m.Members(1) != nil {
		t.Fatal("an empty mirror reports state")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady with no groups = %v, want nil", err)
	}
}

func TestMirrorConcurrentReaders(t *testing.T) {
	var m Mirror
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ms := m.Members(1)
				for i := 1; i < len(ms); i++ {
					if ms[i-1].Addr.Compare(ms[i].Addr) >= 0 {
						t.Errorf("unsorted view %v", ms)
						return
					}
				}
			}
		}()
	}
	for i := range 2000 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		m.impl.apply(Event{Kind: EventJoin, Group: 1, Member: Member{Addr: a}})
		if i%3 == 0 {
			m.impl.apply(Event{Kind: EventLeave, Group: 1, Member: Member{Addr: a}})
		}
	}
	close(stop)
	wg.Wait()
	if got := len(m.Members(1)); got != 2000-667 {
		t.Fatalf("mirror holds %d members, want %d", got, 2000-667)
	}
}

func TestChangedCollapses(t *testing.T) {
	var m Mirror
	ch := m.Changed(1)
	other := m.Changed(2)
	all := m.Changed()
	m.impl.notify([]uint64{1})
	m.impl.notify([]uint64{1})
	select {
	case <-ch:
	default:
		t.Fatal("Changed(1) did not fire")
	}
	select {
	case <-ch:
		t.Fatal("Changed(1) fired twice for a burst; want the burst collapsed")
	default:
	}
	select {
	case <-other:
		t.Fatal("Changed(2) fired for group 1")
	default:
	}
	select {
	case <-all:
	default:
		t.Fatal("Changed() did not fire")
	}
}

// BenchmarkMembers is the per-query read path (e.g. a DNS answer): it must
// not allocate.
func BenchmarkMembers(b *testing.B) {
	var m Mirror
	for i := range 50 {
		m.impl.apply(Event{Kind: EventJoin, Group: 1, Member: Member{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})}})
	}
	m.Members(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			n += len(m.Members(1))
		}
		sink.Add(int64(n))
	})
	if sink.Load() == 0 {
		b.Fatal("Members returned nothing")
	}
}

var sink atomic.Int64

// BenchmarkMembersAfterChange is a read right after a membership change:
// the view is rebuilt once. "100k" is a large group, where the rebuild
// merges the change into the sorted members instead of sorting them all.
func BenchmarkMembersAfterChange(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"50", 50}, {"100k", 100_000}} {
		b.Run(size.name, func(b *testing.B) {
			var m Mirror
			for i := range size.n {
				m.impl.apply(Event{Kind: EventJoin, Group: 1, Member: Member{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}})
			}
			a := netip.MustParseAddr("11.0.1.1")
			m.Members(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				kind := EventJoin
				if i%2 == 1 {
					kind = EventLeave
				}
				m.impl.apply(Event{Kind: kind, Group: 1, Member: Member{Addr: a}})
				m.Members(1)
			}
		})
	}
}

// A group's members are a sorted base plus the changes since; whatever the
// mix of joins, expiry moves and leaves, reads must agree with a plain map
// that took the same changes, before and after the changes are merged.
func TestGroupStateMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Members are (address, port): two ports per address, with weights.
	pick := func() netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(64))}), uint16(80*rng.IntN(2)))
	}
	for round := range 20 {
		want := map[netip.AddrPort]Member{}
		var base []Member
		for i := range 32 {
			if rng.IntN(2) == 0 {
				m := Member{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(2 * i)}), Port: 80, Weight: uint16(i), Expires: time.Unix(int64(i), 0)}
				base = append(base, m)
				want[key(m)] = m
			}
		}
		g := newGroupState(base, false)
		for step := range 200 {
			k := pick()
			m := Member{Addr: k.Addr(), Port: k.Port(), Weight: uint16(rng.IntN(3)), Expires: time.Unix(int64(rng.IntN(5)), 0)}
			old, had := want[k]
			switch op := rng.IntN(3); op {
			case 0:
				if added := g.set(m); added != !had {
					t.Fatalf("round %d step %d: set(%v) added = %v, map had it: %v", round, step, k, added, had)
				}
				want[k] = m
			case 1:
				member, reweighted := g.update(m)
				if member != had || reweighted != (had && old.Weight != m.Weight) {
					t.Fatalf("round %d step %d: update(%v) = %v, %v; map had %v, %v", round, step, m, member, reweighted, old, had)
				}
				if had {
					want[k] = m
				}
			case 2:
				got, ok := g.remove(k)
				if ok != had || (ok && (key(got) != k || got.Weight != old.Weight || !got.Expires.Equal(old.Expires))) {
					t.Fatalf("round %d step %d: remove(%v) = %v, %v; map had %v, %v", round, step, k, got, ok, old, had)
				}
				delete(want, k)
			}
			if rng.IntN(8) == 0 { // a reader merges the changes now and then
				checkGroup(t, g, want)
			}
		}
		checkGroup(t, g, want)
	}
}

func checkGroup(t *testing.T, g *groupState, want map[netip.AddrPort]Member) {
	t.Helper()
	got := g.sorted()
	var exp []Member
	for _, m := range want {
		exp = append(exp, m)
	}
	slices.SortFunc(exp, compareMembers)
	same := func(x, y Member) bool { return key(x) == key(y) && x.Weight == y.Weight && x.Expires.Equal(y.Expires) }
	if !slices.EqualFunc(got, exp, same) {
		t.Fatalf("members = %v\nwant %v", got, exp)
	}
	for k, m := range want {
		g.mu.Lock()
		got, ok, _ := g.find(k)
		g.mu.Unlock()
		if !ok || !same(got, m) {
			t.Fatalf("find(%v) = %v, %v; want %v", k, got, ok, m)
		}
	}
}

func TestSortMembers(t *testing.T) {
	m := func(last byte, sec int64) Member {
		return Member{Addr: netip.AddrFrom4([4]byte{10, 0, 0, last}), Expires: time.Unix(sec, 0)}
	}
	v6 := Member{Addr: netip.MustParseAddr("2001:db8::1"), Expires: time.Unix(9, 0)}
	tests := []struct {
		name   string
		in     []Member
		sorted bool
		want   []Member
	}{
		{"empty", nil, true, nil},
		{"already sorted", []Member{m(1, 1), m(2, 1), v6}, true, []Member{m(1, 1), m(2, 1), v6}},
		{"unsorted", []Member{v6, m(3, 1), m(1, 1)}, false, []Member{m(1, 1), m(3, 1), v6}},
		{"duplicates: the last one wins", []Member{m(2, 1), m(1, 1), m(2, 2), m(1, 3), m(2, 4)}, false, []Member{m(1, 3), m(2, 4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sortMembers(slices.Clone(tt.in), tt.sorted)
			if !slices.EqualFunc(got, tt.want, func(x, y Member) bool { return x.Addr == y.Addr && x.Expires.Equal(y.Expires) }) {
				t.Fatalf("sortMembers = %v, want %v", got, tt.want)
			}
		})
	}
}

// replace turns the old mirror into the snapshot and says what changed:
// per group in ascending id order, leaves then joins (ascending), then a
// ready that is new.
func TestReplaceDiffs(t *testing.T) {
	m := func(last byte, sec int64) Member {
		return Member{Addr: netip.AddrFrom4([4]byte{10, 0, 0, last}), Expires: time.Unix(sec, 0)}
	}
	type group struct {
		ready   bool
		members []Member
	}
	tests := []struct {
		name        string
		old         map[uint64]group // nil: the first snapshot
		snap        map[uint64]group
		wantDiffs   []groupDiff
		wantChanged []uint64
	}{
		{
			name:        "first snapshot: every member joins",
			snap:        map[uint64]group{2: {true, []Member{m(1, 1), m(2, 1)}}, 1: {false, nil}},
			wantDiffs:   []groupDiff{{id: 2, joins: []Member{m(1, 1), m(2, 1)}, ready: true}},
			wantChanged: []uint64{2},
		},
		{
			name: "resync",
			old: map[uint64]group{
				1: {true, []Member{m(1, 1), m(2, 1), m(4, 1)}},
				2: {false, []Member{m(1, 1)}},
				3: {true, []Member{m(7, 1)}},
				4: {true, []Member{m(1, 1)}},
			},
			snap: map[uint64]group{
				1: {true, []Member{m(2, 5), m(3, 1), m(5, 1)}}, // 1, 4 leave; 3, 5 join; 2 only moves its expiry
				2: {false, []Member{m(1, 9)}},                  // expiry only: no event, no change
				3: {false, []Member{m(7, 1)}},                  // ready lost: a change, no event
				5: {true, nil},                                 // new and ready
			}, // 4 is gone: its member leaves
			wantDiffs: []groupDiff{
				{id: 1, leaves: []Member{m(1, 1), m(4, 1)}, joins: []Member{m(3, 1), m(5, 1)}},
				{id: 4, leaves: []Member{m(1, 1)}},
				{id: 5, ready: true},
			},
			wantChanged: []uint64{1, 3, 4, 5},
		},
	}
	eq := func(x, y Member) bool { return x.Addr == y.Addr && x.Expires.Equal(y.Expires) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mi mirrorImpl
			if tt.old != nil {
				old := map[uint64]*stagedGroup{}
				for id, g := range tt.old {
					old[id] = &stagedGroup{ready: g.ready, members: g.members}
				}
				mi.replace(old)
			}
			staged := map[uint64]*stagedGroup{}
			for id, g := range tt.snap {
				staged[id] = &stagedGroup{ready: g.ready, members: slices.Clone(g.members)}
			}
			diffs, changed := mi.replace(staged)
			if !slices.EqualFunc(diffs, tt.wantDiffs, func(x, y groupDiff) bool {
				return x.id == y.id && x.ready == y.ready && slices.EqualFunc(x.leaves, y.leaves, eq) && slices.EqualFunc(x.joins, y.joins, eq)
			}) {
				t.Errorf("diffs = %+v\nwant %+v", diffs, tt.wantDiffs)
			}
			if !slices.Equal(changed, tt.wantChanged) {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			for id, g := range tt.snap {
				if got := mi.members(id); !slices.EqualFunc(got, g.members, eq) || mi.ready(id) != g.ready {
					t.Errorf("group %d after replace: %v (ready %v), want %v (ready %v)", id, got, mi.ready(id), g.members, g.ready)
				}
			}
			for id := range tt.old {
				if _, kept := tt.snap[id]; !kept && mi.group(id) != nil {
					t.Errorf("group %d is not in the snapshot but still in the mirror", id)
				}
			}
		})
	}
}
