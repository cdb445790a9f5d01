package group

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSubscriptionStartsWithResync(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: time.Minute}}, Options{Clock: clk})
	mustObserve(t, r, 1, addr("10.0.0.1"), t0)
	sub := r.Subscribe(nil)
	defer sub.Close()
	select {
	case <-sub.Notify():
	default:
		t.Fatal("a new subscription is not signalled")
	}
	if evs, resync := sub.Next(nil); !resync || len(evs) != 0 {
		t.Fatalf("first Next = %v, %v; want resync", evs, resync)
	}
	snap := sub.Resync()
	if g := findGroup(t, snap, 1); !slices.Equal(memberAddrs(g), []netip.Addr{addr("10.0.0.1")}) {
		t.Fatalf("initial snapshot %v", snap)
	}
	if evs, resync := sub.Next(nil); resync || len(evs) != 0 {
		t.Fatalf("Next after Resync = %v, %v; want nothing (the join is in the snapshot)", evs, resync)
	}
}

func TestSubscriberFilter(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: time.Minute}, {ID: 2, Expire: time.Minute}, {ID: 3, Expire: time.Minute}}, Options{Clock: clk})
	tests := []struct {
		name   string
		filter func(uint64) bool
		want   []uint64
	}{
		{"all", nil, []uint64{1, 2, 3}},
		{"only 2", func(id uint64) bool { return id == 2 }, []uint64{2}},
		{"1 and 3", func(id uint64) bool { return id != 2 }, []uint64{1, 3}},
		{"unknown group only", func(id uint64) bool { return id == 99 }, nil},
	}
	subs := make([]*Subscription, len(tests))
	for i, tt := range tests {
		subs[i] = r.Subscribe(tt.filter)
		defer subs[i].Close()
		var ids []uint64
		for _, g := range subs[i].Resync() {
			ids = append(ids, g.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Fatalf("%s: snapshot groups %v, want %v", tt.name, ids, tt.want)
		}
	}
	for _, id := range []uint64{3, 1, 2, 1} {
		mustObserve(t, r, id, netip.AddrFrom4([4]byte{10, 0, 0, byte(id)}), t0.Add(time.Duration(id)*time.Second))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			for _, e := range drain(t, subs[i]) {
				if e.Member.Addr != netip.AddrFrom4([4]byte{10, 0, 0, byte(e.Group)}) {
					t.Errorf("event %v carries another group's member", e)
				}
				got = append(got, e.Group)
			}
			var want []uint64
			for _, id := range []uint64{3, 1, 2} { // the second group-1 announcement is outdated
				if slices.Contains(tt.want, id) {
					want = append(want, id)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("event groups %v, want %v", got, want)
			}
		})
	}
}

func TestNextHonoursBufferCapacity(t *testing.T) {
	r, _, sub := subscribed(t, []Config{{ID: 1, Expire: time.Minute}}, Options{})
	<-sub.Notify()
	for i := range 5 {
		mustObserve(t, r, 1, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), t0)
	}
	buf := make([]Event, 0, 2)
	var seqs []uint64
	for range 3 {
		select {
		case <-sub.Notify():
		default:
			t.Fatalf("Notify not signalled with %d events read of 5", len(seqs))
		}
		evs, resync := sub.Next(buf)
		if resync || len(evs) > 2 || &evs[0] != &buf[:1][0] {
			t.Fatalf("Next = %d events, resync %v; want at most 2 in the given buffer", len(evs), resync)
		}
		for _, e := range evs {
			seqs = append(seqs, e.Seq)
		}
	}
	if !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("sequence numbers %v, want 1..5", seqs)
	}
	select {
	case <-sub.Notify():
		t.Fatal("Notify signalled with nothing pending")
	default:
	}
	mustObserve(t, r, 1, addr("10.9.9.9"), t0)
	select {
	case <-sub.Notify():
	default:
		t.Fatal("Notify not signalled by a new event after catching up")
	}
}

func TestCloseEndsSubscription(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: time.Minute}}, Options{Clock: clk})
	sub := r.Subscribe(nil)
	sub.Resync()
	<-sub.Notify()
	sub.Close()
	sub.Close() // idempotent
	if _, ok := <-sub.Notify(); ok {
		t.Fatal("Notify channel not closed")
	}
	if _, err := r.Observe(1, addr("10.0.0.1"), t0); err != nil { // must not signal a closed channel
		t.Fatal(err)
	}
	if evs, resync := sub.Next(nil); len(evs) != 0 || resync {
		t.Fatalf("Next after Close = %v, %v", evs, resync)
	}
	if snap := sub.Resync(); snap != nil {
		t.Fatalf("Resync after Close = %v", snap)
	}
	if len(r.waiting) != 0 {
		t.Fatalf("closed subscription still registered for wake-ups")
	}
}

func TestLappedSubscriberResyncs(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: 10 * time.Second}, {ID: 2, Expire: 5 * time.Second}}, Options{Clock: clk, RingSize: 16})
	only1 := func(id uint64) bool { return id == 1 }
	for _, filter := range []func(uint64) bool{nil, only1} {
		sub := r.Subscribe(filter)
		defer sub.Close()
		m := newMirror()
		m.reset(sub.Resync())

		// Eight events fit in the ring of 16: no resync.
		for i := range 8 {
			mustObserve(t, r, uint64(1+i%2), netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), clk.Now())
		}
		for _, e := range drain(t, sub) {
			if err := m.apply(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := compareMirror(m, r.Snapshot(filter), time.Second); err != nil {
			t.Fatal(err)
		}

		// Seventeen or more unread events: the oldest was overwritten.
		clk.Advance(time.Second)
		for i := range 17 {
			mustObserve(t, r, uint64(1+i%2), netip.AddrFrom4([4]byte{10, 0, 2, byte(i)}), clk.Now())
		}
		if evs, resync := sub.Next(nil); !resync || len(evs) != 0 {
			t.Fatalf("lapped subscriber: Next = %v, %v; want resync", evs, resync)
		}
		if _, resync := sub.Next(nil); !resync {
			t.Fatal("resync not sticky until Resync is called")
		}
		m.reset(sub.Resync())
		if err := compareMirror(m, r.Snapshot(filter), time.Nanosecond); err != nil {
			t.Fatalf("snapshot after resync: %v", err)
		}

		// Events after the resync continue it exactly.
		clk.Advance(6 * time.Second) // group 2's members expire
		r.sweep(clk.Now().UnixNano())
		mustObserve(t, r, 1, addr("10.0.3.1"), clk.Now())
		mustObserve(t, r, 1, addr("10.0.1.0"), clk.Now())
		for _, e := range drain(t, sub) {
			if err := m.apply(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := compareMirror(m, r.Snapshot(filter), time.Second); err != nil {
			t.Fatalf("after resync and more events: %v", err)
		}
	}
}

func TestStuckSubscriberDoesNotBlockObserve(t *testing.T) {
	clk := NewFakeClock(t0)
	const ring = 1024
	r := mustNew(t, []Config{{ID: 1, Expire: time.Hour}}, Options{Clock: clk, RingSize: ring, ExpiryGranularity: time.Nanosecond})
	stuck := r.Subscribe(nil)
	defer stuck.Close()
	stuck.Resync() // armed, never reads again

	done := make(chan struct{})
	go func() {
		defer close(done)
		a := addr("10.0.0.1")
		for i := range 10 * ring {
			// Every call publishes an event (join, then expiry moves).
			if _, err := r.Observe(1, a, t0.Add(time.Duration(i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatalf("Observe blocked by a subscriber that does not read")
	}
	if r.head-1 != 10*ring {
		t.Fatalf("published %d events, want %d", r.head-1, 10*ring)
	}
	if _, resync := stuck.Next(nil); !resync {
		t.Fatal("stuck subscriber not told to resync")
	}
	g := findGroup(t, stuck.Resync(), 1)
	if len(g.Members) != 1 || !g.Members[0].Expires.Equal(t0.Add(time.Hour+10*ring-1)) {
		t.Fatalf("snapshot after resync: %v", g)
	}
}

// TestConcurrentObserveAndSubscribers runs several ingest goroutines, a Run
// loop driven by a moving clock, and subscribers that keep a mirror, then
// checks every mirror matches the registry. Meant for -race.
func TestConcurrentObserveAndSubscribers(t *testing.T) {
	clk := NewFakeClock(t0)
	groups := []Config{{ID: 1, Expire: 2 * time.Second}, {ID: 2, Expire: 500 * time.Millisecond, ReadinessDelay: time.Second}}
	const granularity = 100 * time.Millisecond
	r := mustNew(t, groups, Options{Clock: clk, RingSize: 256, ExpiryGranularity: granularity})
	l := startRun(t, r, clk)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	filters := []func(uint64) bool{nil, func(id uint64) bool { return id == 2 }, nil}
	mirrors := make([]*mirror, len(filters))
	subs := make([]*Subscription, len(filters))
	var readers sync.WaitGroup
	for i, f := range filters {
		mirrors[i], subs[i] = newMirror(), r.Subscribe(f)
		readers.Add(1)
		go func(m *mirror, sub *Subscription, slow bool) {
			defer readers.Done()
			buf := make([]Event, 0, 16)
			for {
				evs, resync := sub.Next(buf)
				switch {
				case resync:
					m.reset(sub.Resync())
				case len(evs) > 0:
					for _, e := range evs {
						if err := m.apply(e); err != nil {
							t.Error(err)
							return
						}
					}
					if slow {
						time.Sleep(time.Millisecond) // gets lapped now and then
					}
				default:
					select {
					case <-sub.Notify():
					case <-ctx.Done():
						return
					}
				}
			}
		}(mirrors[i], subs[i], i == 2)
	}

	var writers sync.WaitGroup
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 20000 {
				a := netip.AddrFrom4([4]byte{10, byte(w), 0, byte(i % 50)})
				if _, err := r.Observe(uint64(1+i%2), a, clk.Now().Add(-time.Duration(i%7)*100*time.Millisecond)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	clockDone := make(chan struct{})
	go func() {
		defer close(clockDone)
		for range 40 {
			l.advance(t, 50*time.Millisecond, 50*time.Millisecond)
		}
	}()
	writers.Wait()
	<-clockDone
	// Let everything expire, then compare once all readers caught up.
	l.advance(t, 3*time.Second, 500*time.Millisecond)
	mustObserve(t, r, 1, addr("10.9.9.9"), clk.Now())

	deadline := time.Now().Add(waitLimit)
	for i, sub := range subs {
		for {
			r.mu.Lock()
			caught := sub.cursor == r.head && !sub.needResync
			r.mu.Unlock()
			if caught {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("subscriber %d did not catch up within %s", i, waitLimit)
			}
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	readers.Wait()
	for i, m := range mirrors {
		if err := compareMirror(m, r.Snapshot(filters[i]), granularity); err != nil {
			t.Errorf("subscriber %d: %v", i, err)
		}
		subs[i].Close()
	}
	if g := findGroup(t, r.Snapshot(nil), 1); !slices.Equal(memberAddrs(g), []netip.Addr{addr("10.9.9.9")}) {
		t.Errorf("group 1 after everything expired: %v", g.Members)
	}
}
