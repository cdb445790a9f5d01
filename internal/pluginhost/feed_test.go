package pluginhost

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

var feedT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newFeedRegistry(t *testing.T, ring int) *group.Registry {
	t.Helper()
	reg, err := group.New([]group.Config{{ID: 1, Expire: time.Minute}, {ID: 2, Expire: time.Minute}},
		group.Options{Clock: group.NewFakeClock(feedT0), RingSize: ring})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func feedObserve(t *testing.T, reg *group.Registry, id uint64, a string) {
	t.Helper()
	if _, err := reg.Observe(id, netip.MustParseAddr(a), feedT0); err != nil {
		t.Fatal(err)
	}
}

// subscribeThenJoin makes a registry (groups 1 and 2, a ring of ring
// events) and an unfiltered, resynced subscription to it through
// RegistryFeed, closed at the end of the test; then n addresses (10.0.0.0
// up) join group id.
func subscribeThenJoin(t *testing.T, ring int, id uint64, n int) Subscription {
	t.Helper()
	reg := newFeedRegistry(t, ring)
	sub := RegistryFeed(reg).Subscribe(nil)
	t.Cleanup(sub.Close)
	sub.Resync()
	for i := range n {
		feedObserve(t, reg, id, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}).String())
	}
	return sub
}

func TestRegistryFeedSnapshotThenEvents(t *testing.T) {
	reg := newFeedRegistry(t, 64)
	feedObserve(t, reg, 1, "192.0.2.1")
	feedObserve(t, reg, 2, "192.0.2.2")
	sub := RegistryFeed(reg).Subscribe(func(id uint64) bool { return id == 1 })
	defer sub.Close()

	snap := sub.Resync()
	want := group.Member{Addr: netip.MustParseAddr("192.0.2.1"), Expires: feedT0.Add(time.Minute)}
	if len(snap) != 1 || snap[0].ID != 1 || len(snap[0].Members) != 1 || !snap[0].Members[0].Expires.Equal(want.Expires) || snap[0].Members[0].Addr != want.Addr {
		t.Fatalf("snapshot = %+v, want group 1 with %+v", snap, want)
	}

	feedObserve(t, reg, 1, "2001:db8::1")
	feedObserve(t, reg, 2, "192.0.2.3") // filtered out
	evs, lapped := sub.Next(make([]group.Event, 0, 16))
	if lapped || len(evs) != 1 {
		t.Fatalf("Next = %+v, lapped %v; want one event", evs, lapped)
	}
	e := evs[0]
	if e.Kind != group.Join || e.Group != 1 || e.Member.Addr != netip.MustParseAddr("2001:db8::1") || !e.Member.Expires.Equal(feedT0.Add(time.Minute)) {
		t.Errorf("event = %+v, want a join of 2001:db8::1 to group 1", e)
	}
	select {
	case <-sub.Notify():
	default:
	}
	if evs, lapped := sub.Next(evs); lapped || len(evs) != 0 {
		t.Errorf("second Next = %+v, %v; want nothing", evs, lapped)
	}
}

func TestRegistryFeedNextRespectsBufferCapacity(t *testing.T) {
	sub := subscribeThenJoin(t, 64, 1, 10)
	buf := make([]group.Event, 0, 4)
	got := 0
	for range 10 {
		evs, lapped := sub.Next(buf)
		if lapped {
			t.Fatal("lapped with a ring of 64")
		}
		if len(evs) > 4 {
			t.Fatalf("Next returned %d events into a buffer of capacity 4", len(evs))
		}
		got += len(evs)
	}
	if got != 10 {
		t.Errorf("read %d events, want 10", got)
	}
}

func TestRegistryFeedLappedSubscriberResyncs(t *testing.T) {
	sub := subscribeThenJoin(t, 8, 2, 20)
	if _, lapped := sub.Next(nil); !lapped {
		t.Fatal("Next did not report the lap")
	}
	snap := sub.Resync()
	if len(snap) != 2 || len(snap[1].Members) != 20 {
		t.Fatalf("resync snapshot = %+v, want group 2 with 20 members", snap)
	}
	if evs, lapped := sub.Next(nil); lapped || len(evs) != 0 {
		t.Errorf("Next after Resync = %d events, lapped %v; want none", len(evs), lapped)
	}
}
