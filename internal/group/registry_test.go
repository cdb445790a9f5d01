package group

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		groups  []Config
		opts    Options
		wantSub string
	}{
		{"duplicate id", []Config{{ID: 7, Expire: time.Second}, {ID: 7, Expire: 2 * time.Second}}, Options{}, "group 7: configured more than once"},
		{"zero expire", []Config{{ID: 1, Expire: time.Second}, {ID: 7}}, Options{}, "group 7: expire 0s must be positive"},
		{"negative expire", []Config{{ID: 7, Expire: -time.Second}}, Options{}, "group 7: expire -1s must be positive"},
		{"negative readiness delay", []Config{{ID: 7, Expire: time.Second, ReadinessDelay: -1}}, Options{}, "group 7: readiness delay"},
		{"negative ring size", []Config{{ID: 7, Expire: time.Second}}, Options{RingSize: -1}, "ring size -1"},
		{"negative granularity", []Config{{ID: 7, Expire: time.Second}}, Options{ExpiryGranularity: -time.Second}, "expiry granularity -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.groups, tt.opts)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantSub)
			}
		})
	}
}

func TestNewRoundsRingSize(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{0, DefaultRingSize}, {1, 1}, {5, 8}, {8, 8}, {1000, 1024}} {
		r := mustNew(t, nil, Options{RingSize: tt.in})
		if len(r.ring) != tt.want {
			t.Errorf("RingSize %d: ring has %d slots, want %d", tt.in, len(r.ring), tt.want)
		}
	}
}

func TestGroupsReturnsConfig(t *testing.T) {
	cfg := []Config{{ID: 5, Expire: time.Second}, {ID: 2, Expire: time.Minute, ReadinessDelay: time.Second}}
	r := mustNew(t, cfg, Options{})
	got := r.Groups()
	if !slices.Equal(got, cfg) {
		t.Fatalf("Groups() = %v, want %v", got, cfg)
	}
	got[0].ID = 99
	if r.Groups()[0].ID != 5 {
		t.Error("Groups() returned the registry's own slice")
	}
}

func TestObserve(t *testing.T) {
	const expire = 10 * time.Second
	type step struct {
		addr   string
		ts     time.Duration // announcement timestamp relative to t0
		now    time.Duration // clock advance before this step
		want   Result
		expiry time.Duration // member's expiry afterwards, relative to t0; 0: not a member
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"join", []step{{addr: "10.0.0.1", want: Joined, expiry: expire}}},
		{"refresh moves expiry forward", []step{
			{addr: "10.0.0.1", want: Joined, expiry: expire},
			{addr: "10.0.0.1", ts: 3 * time.Second, want: Refreshed, expiry: 13 * time.Second},
		}},
		{"older or repeated announcement is a replay and never moves expiry back", []step{
			{addr: "10.0.0.1", ts: 5 * time.Second, want: Joined, expiry: 15 * time.Second},
			{addr: "10.0.0.1", ts: 1 * time.Second, want: Replayed, expiry: 15 * time.Second},
			{addr: "10.0.0.1", ts: 5 * time.Second, want: Replayed, expiry: 15 * time.Second},
			{addr: "10.0.0.1", ts: 5*time.Second + time.Microsecond, want: Refreshed, expiry: 15*time.Second + time.Microsecond},
		}},
		{"stale announcement does not join", []step{
			{addr: "10.0.0.1", ts: -expire, want: Stale},
			{addr: "10.0.0.1", ts: -expire - time.Second, want: Stale},
		}},
		{"announcement expiring one ns from now joins", []step{
			{addr: "10.0.0.1", ts: -expire + 1, want: Joined, expiry: 1},
		}},
		{"stale announcement does not touch a member", []step{
			{addr: "10.0.0.1", want: Joined, expiry: expire},
			{addr: "10.0.0.1", ts: -expire, want: Stale, expiry: expire},
		}},
		{"IPv4-mapped is the same member as IPv4", []step{
			{addr: "10.0.0.1", want: Joined, expiry: expire},
			{addr: "::ffff:10.0.0.1", ts: time.Second, want: Refreshed, expiry: 11 * time.Second},
		}},
		{"IPv6 zone is ignored", []step{
			{addr: "fe80::1", want: Joined, expiry: expire},
			{addr: "fe80::1%eth0", ts: time.Second, want: Refreshed, expiry: 11 * time.Second},
		}},
		{"expired member not yet swept joins again", []step{
			{addr: "10.0.0.1", want: Joined, expiry: expire},
			{addr: "10.0.0.1", ts: 11 * time.Second, now: 11 * time.Second, want: Joined, expiry: 21 * time.Second},
		}},
		{"expired member not yet swept, stale announcement", []step{
			{addr: "10.0.0.1", want: Joined, expiry: expire},
			{addr: "10.0.0.1", ts: time.Second, now: 11 * time.Second, want: Stale, expiry: expire},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := NewFakeClock(t0)
			r := mustNew(t, []Config{{ID: 1, Expire: expire}}, Options{Clock: clk})
			for i, s := range tt.steps {
				clk.Advance(s.now)
				got, err := r.Observe(1, addr(s.addr), t0.Add(s.ts))
				if err != nil || got != s.want {
					t.Fatalf("step %d: Observe = %v, %v; want %v, nil", i, got, err, s.want)
				}
				g := findGroup(t, r.Snapshot(nil), 1)
				a := addr(s.addr).Unmap().WithZone("")
				j := slices.IndexFunc(g.Members, func(m Member) bool { return m.Addr == a })
				switch {
				case s.expiry == 0 && j >= 0:
					t.Fatalf("step %d: %s is a member, want not", i, a)
				case s.expiry != 0 && j < 0:
					t.Fatalf("step %d: %s is not a member", i, a)
				case s.expiry != 0 && !g.Members[j].Expires.Equal(t0.Add(s.expiry)):
					t.Fatalf("step %d: expiry %s, want %s", i, g.Members[j].Expires, t0.Add(s.expiry))
				}
			}
		})
	}
}

func TestObserveRejectsBadInput(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: time.Second}}, Options{Clock: clk})
	tests := []struct {
		name  string
		group uint64
		addr  netip.Addr
		ts    time.Time
		want  error
	}{
		{"unknown group", 2, addr("10.0.0.1"), t0, ErrUnknownGroup},
		{"zero address", 1, netip.Addr{}, t0, ErrInvalidAddress},
		{"timestamp far future", 1, addr("10.0.0.1"), time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), ErrTimestampOutOfRange},
		{"timestamp far past", 1, addr("10.0.0.1"), time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), ErrTimestampOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Observe(tt.group, tt.addr, tt.ts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if g := findGroup(t, r.Snapshot(nil), 1); len(g.Members) != 0 {
		t.Errorf("rejected announcements created members: %v", g.Members)
	}
}

func TestObserveEvents(t *testing.T) {
	r, clk, sub := subscribed(t, []Config{{ID: 1, Expire: 10 * time.Second}}, Options{})

	a := addr("192.0.2.1")
	mustObserve(t, r, 1, a, t0)
	mustObserve(t, r, 1, a, t0.Add(-time.Second)) // outdated: no event
	mustObserve(t, r, 1, a, t0.Add(-time.Minute)) // stale: no event
	clk.Advance(11 * time.Second)                 // expired, no sweep running
	mustObserve(t, r, 1, a, t0.Add(11*time.Second))

	got := drain(t, sub)
	want := []Event{
		{Seq: 1, Kind: Join, Group: 1, Member: Member{Addr: a, Expires: t0.Add(10 * time.Second)}},
		{Seq: 2, Kind: Leave, Group: 1, Member: Member{Addr: a, Expires: t0.Add(10 * time.Second)}},
		{Seq: 3, Kind: Join, Group: 1, Member: Member{Addr: a, Expires: t0.Add(21 * time.Second)}},
	}
	if !slices.EqualFunc(got, want, eventEqual) {
		t.Fatalf("events:\n got %v\nwant %v", got, want)
	}
}

func eventEqual(a, b Event) bool {
	return a.Seq == b.Seq && a.Kind == b.Kind && a.Group == b.Group &&
		a.Member.Addr == b.Member.Addr && a.Member.Expires.Equal(b.Member.Expires)
}

func TestLeaveWithin100msOfExpiry(t *testing.T) {
	const expire = 10 * time.Second
	for _, step := range []time.Duration{10 * time.Millisecond, SweepInterval, 330 * time.Millisecond, 3 * time.Second} {
		t.Run(step.String(), func(t *testing.T) {
			r, clk, sub := subscribed(t, []Config{{ID: 1, Expire: expire}}, Options{})
			l := startRun(t, r, clk)
			a := addr("2001:db8::1")
			if res, err := r.Observe(1, a, t0); res != Joined || err != nil {
				t.Fatalf("Observe = %v, %v", res, err)
			}

			// Up to just before the expiry: still a member, no Leave.
			l.advance(t, expire-time.Millisecond, step)
			for _, e := range drain(t, sub) {
				if e.Kind == Leave {
					t.Fatalf("Leave at %s, before expiry %s: %v", clk.Now(), t0.Add(expire), e)
				}
			}
			if g := findGroup(t, r.Snapshot(nil), 1); len(g.Members) != 1 {
				t.Fatalf("member gone before expiry: %v", g.Members)
			}

			// By expiry+100ms the Leave has been published.
			l.advance(t, 101*time.Millisecond, min(step, 101*time.Millisecond))
			evs := drain(t, sub)
			if len(evs) != 1 || evs[0].Kind != Leave || evs[0].Member.Addr != a || !evs[0].Member.Expires.Equal(t0.Add(expire)) {
				t.Fatalf("after expiry+100ms got %v, want one Leave of %s at %s", evs, a, t0.Add(expire))
			}
			if g := findGroup(t, r.Snapshot(nil), 1); len(g.Members) != 0 {
				t.Fatalf("member still present after leave: %v", g.Members)
			}
		})
	}
}

func TestRefreshedMemberDoesNotLeave(t *testing.T) {
	r, clk, sub := subscribed(t, []Config{{ID: 1, Expire: 2 * time.Second}}, Options{})
	l := startRun(t, r, clk)
	a := addr("10.1.1.1")
	// Announce every 500ms for 20s: the member must never leave.
	for i := range 40 {
		if _, err := r.Observe(1, a, clk.Now()); err != nil {
			t.Fatal(err)
		}
		l.advance(t, 500*time.Millisecond, SweepInterval)
		if i == 0 {
			continue
		}
		for _, e := range drain(t, sub) {
			if e.Kind == Leave {
				t.Fatalf("refreshed member left at %s: %v", clk.Now(), e)
			}
		}
	}
	// Then silence: it leaves 2s after its last announcement.
	last := clk.Now().Add(-500 * time.Millisecond)
	l.advance(t, 2*time.Second, SweepInterval)
	evs := drain(t, sub)
	i := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == Leave })
	if i < 0 || !evs[i].Member.Expires.Equal(last.Add(2*time.Second)) {
		t.Fatalf("events %v: want a Leave at %s", evs, last.Add(2*time.Second))
	}
}

func TestRejoinAfterLeave(t *testing.T) {
	r, clk, sub := subscribed(t, []Config{{ID: 1, Expire: time.Second}}, Options{})
	l := startRun(t, r, clk)
	a := addr("10.0.0.9")
	mustObserve(t, r, 1, a, t0)
	l.advance(t, 2*time.Second, SweepInterval)
	if res, err := r.Observe(1, a, clk.Now()); res != Joined || err != nil {
		t.Fatalf("Observe after leave = %v, %v; want joined", res, err)
	}
	got := kinds(drain(t, sub))
	if want := []EventKind{Ready, Join, Leave, Join}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	l.advance(t, 2*time.Second, SweepInterval)
	if got := kinds(drain(t, sub)); !slices.Equal(got, []EventKind{Leave}) {
		t.Fatalf("after second expiry: events %v, want [leave]", got)
	}
}

func TestReadiness(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
	}{
		{"no delay", 0},
		{"one tick", SweepInterval},
		{"15s", 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := NewFakeClock(t0)
			r := mustNew(t, []Config{{ID: 1, Expire: time.Minute, ReadinessDelay: tt.delay}, {ID: 2, Expire: time.Minute, ReadinessDelay: time.Hour}}, Options{Clock: clk})
			sub := r.Subscribe(func(id uint64) bool { return id == 1 })
			defer sub.Close()
			sub.Resync()
			clk.Advance(time.Hour) // time before Run does not count
			if g := findGroup(t, r.Snapshot(nil), 1); g.Ready {
				t.Fatal("ready before Run")
			}
			l := startRun(t, r, clk)
			if tt.delay > 0 {
				l.advance(t, tt.delay-time.Millisecond, 7*time.Second)
				if g := findGroup(t, r.Snapshot(nil), 1); g.Ready {
					t.Fatalf("ready %s after start, delay is %s", tt.delay-time.Millisecond, tt.delay)
				}
				if evs := drain(t, sub); len(evs) != 0 {
					t.Fatalf("events before readiness: %v", evs)
				}
				l.advance(t, SweepInterval+time.Millisecond, SweepInterval)
			}
			if g := findGroup(t, r.Snapshot(nil), 1); !g.Ready {
				t.Fatal("not ready after the delay")
			}
			evs := drain(t, sub)
			if len(evs) != 1 || evs[0].Kind != Ready || evs[0].Group != 1 {
				t.Fatalf("events %v, want one Ready of group 1", evs)
			}
			l.advance(t, time.Second, 200*time.Millisecond)
			if evs := drain(t, sub); len(evs) != 0 {
				t.Fatalf("events after Ready: %v (Ready must be sent once)", evs)
			}
			if g := findGroup(t, r.Snapshot(nil), 2); g.Ready {
				t.Fatal("group 2 (1h delay) ready too early")
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, nil, Options{Clock: clk})
	startRun(t, r, clk)
	if err := r.Run(t.Context()); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Run = %v, want ErrAlreadyRunning", err)
	}
}

func TestExpiryGranularity(t *testing.T) {
	tests := []struct {
		name        string
		granularity time.Duration
		refreshes   []time.Duration // announcement timestamps after the join at t0
		want        []time.Duration // expiries published in Expiry events, relative to t0
	}{
		{
			name:        "default 1s collapses µs refreshes",
			refreshes:   []time.Duration{time.Microsecond, 2 * time.Microsecond, 999 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second},
			want:        []time.Duration{time.Minute + time.Second, time.Minute + 2*time.Second},
			granularity: 0,
		},
		{
			name:        "100ms",
			granularity: 100 * time.Millisecond,
			refreshes:   []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond, 250 * time.Millisecond},
			want:        []time.Duration{time.Minute + 100*time.Millisecond, time.Minute + 250*time.Millisecond},
		},
		{
			name:        "1ns publishes every move",
			granularity: time.Nanosecond,
			refreshes:   []time.Duration{1, 2, 2, 1, 3},
			want:        []time.Duration{time.Minute + 1, time.Minute + 2, time.Minute + 3},
		},
		{
			name:        "older announcements publish nothing",
			granularity: time.Second,
			refreshes:   []time.Duration{-time.Second, -2 * time.Second},
			want:        nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, sub := subscribed(t, []Config{{ID: 1, Expire: time.Minute}}, Options{ExpiryGranularity: tt.granularity})
			a := addr("10.0.0.1")
			mustObserve(t, r, 1, a, t0)
			for _, ts := range tt.refreshes {
				if _, err := r.Observe(1, a, t0.Add(ts)); err != nil {
					t.Fatal(err)
				}
			}
			evs := drain(t, sub)
			var got []time.Duration
			for _, e := range evs[1:] {
				if e.Kind != Expiry {
					t.Fatalf("unexpected event %v", e)
				}
				got = append(got, e.Member.Expires.Sub(t0))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("published expiries %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSnapshotSortedAndFiltered(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 3, Expire: time.Minute}, {ID: 1, Expire: time.Minute}, {ID: 2, Expire: time.Minute}}, Options{Clock: clk})
	want := []netip.Addr{addr("1.2.3.4"), addr("10.0.0.2"), addr("10.0.0.10"), addr("::1"), addr("2001:db8::1"), addr("2001:db8::a")}
	shuffled := slices.Clone(want)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i, a := range shuffled {
		if _, err := r.Observe(1, a, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	mustObserve(t, r, 2, addr("9.9.9.9"), t0)

	snap := r.Snapshot(nil)
	if ids := []uint64{snap[0].ID, snap[1].ID, snap[2].ID}; !slices.Equal(ids, []uint64{3, 1, 2}) {
		t.Fatalf("group order %v, want configuration order [3 1 2]", ids)
	}
	g := findGroup(t, snap, 1)
	if got := memberAddrs(g); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	for _, m := range g.Members {
		i := slices.Index(shuffled, m.Addr)
		if !m.Expires.Equal(t0.Add(time.Duration(i)*time.Second + time.Minute)) {
			t.Errorf("%s expires %s", m.Addr, m.Expires)
		}
	}

	only2 := r.Snapshot(func(id uint64) bool { return id == 2 })
	if len(only2) != 1 || only2[0].ID != 2 || len(only2[0].Members) != 1 {
		t.Fatalf("filtered snapshot %v, want only group 2 with one member", only2)
	}
	if none := r.Snapshot(func(uint64) bool { return false }); len(none) != 0 {
		t.Fatalf("snapshot with reject-all filter: %v", none)
	}
}

// TestSweepMatchesModel drives random announcements and sweeps directly and
// checks the lazy heap removes exactly the members a naive model expires.
func TestSweepMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: 3 * time.Second}, {ID: 2, Expire: 700 * time.Millisecond}}, Options{Clock: clk})
	expire := map[uint64]time.Duration{1: 3 * time.Second, 2: 700 * time.Millisecond}
	type key struct {
		g uint64
		a netip.Addr
	}
	model := map[key]time.Time{}
	for round := range 2000 {
		clk.Advance(time.Duration(rng.IntN(200)) * time.Millisecond)
		now := clk.Now()
		for range rng.IntN(8) {
			k := key{uint64(1 + rng.IntN(2)), netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(30))})}
			ts := now.Add(-time.Duration(rng.IntN(4000)) * time.Millisecond)
			exp := ts.Add(expire[k.g])
			mustObserve(t, r, k.g, k.a, ts)
			if cur, ok := model[k]; exp.After(now) && (!ok || exp.After(cur)) {
				model[k] = exp
			}
		}
		if rng.IntN(3) == 0 {
			r.sweep(now.UnixNano())
			for k, exp := range model {
				if !exp.After(now) {
					delete(model, k)
				}
			}
			got := map[key]time.Time{}
			for _, g := range r.Snapshot(nil) {
				for _, m := range g.Members {
					got[key{g.ID, m.Addr}] = m.Expires
				}
			}
			if len(got) != len(model) {
				t.Fatalf("round %d: registry has %d members, model %d", round, len(got), len(model))
			}
			for k, exp := range model {
				if !got[k].Equal(exp) {
					t.Fatalf("round %d: %v expires %s in registry, %s in model", round, k, got[k], exp)
				}
			}
			if len(r.expiry) != len(model) {
				t.Fatalf("round %d: %d heap entries for %d members", round, len(r.expiry), len(model))
			}
		}
	}
}

func TestObserveAtUsesGivenTime(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: 10 * time.Second}}, Options{Clock: clk})
	// Stale by the supplied time, though not by the clock.
	if res, _ := r.ObserveAt(1, addr("10.0.0.1"), t0, t0.Add(10*time.Second)); res != Stale {
		t.Fatalf("ObserveAt with now=expiry: %v, want stale", res)
	}
	if res, _ := r.ObserveAt(1, addr("10.0.0.1"), t0, t0.Add(10*time.Second-1)); res != Joined {
		t.Fatalf("ObserveAt with now just before expiry: %v, want joined", res)
	}
}

// TestLongestDurations covers expire and readiness_delay near the largest
// duration a configuration can hold (2562047h47m16.854775807s): the sums
// with the current time or a timestamp must saturate, never wrap around
// into the past.
func TestLongestDurations(t *testing.T) {
	const maxDuration = time.Duration(math.MaxInt64)
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{
		{ID: 1, Expire: maxDuration, ReadinessDelay: maxDuration},
		{ID: 2, Expire: maxDuration - time.Second, ReadinessDelay: maxDuration - time.Hour},
	}, Options{Clock: clk})
	farFuture := time.Unix(maxTimestampSec, 0)
	farPast := time.Unix(-maxTimestampSec, 0)
	for _, id := range []uint64{1, 2} {
		for _, ts := range []time.Time{t0, farFuture, farPast} {
			if _, err := r.Observe(id, addr("192.0.2.1"), ts); err != nil {
				t.Fatalf("group %d: Observe at %s: %v", id, ts, err)
			}
		}
	}
	l := startRun(t, r, clk)
	l.advance(t, time.Second, 200*time.Millisecond)
	for _, g := range r.Snapshot(nil) {
		if g.Ready {
			t.Errorf("group %d: ready a second after start with a readiness delay of centuries", g.ID)
		}
		if len(g.Members) != 1 {
			t.Fatalf("group %d: members %v, want 192.0.2.1", g.ID, g.Members)
		}
		if exp := g.Members[0].Expires; !exp.After(farFuture) {
			t.Errorf("group %d: member expires %s, want after %s", g.ID, exp, farFuture)
		}
	}
}
