package sdk

import (
	"context"
	"net/netip"
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
// the view is rebuilt once.
func BenchmarkMembersAfterChange(b *testing.B) {
	var m Mirror
	for i := range 50 {
		m.impl.apply(Event{Kind: EventJoin, Group: 1, Member: Member{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})}})
	}
	a := netip.MustParseAddr("10.0.1.1")
	b.ReportAllocs()
	for i := range b.N {
		kind := EventJoin
		if i%2 == 1 {
			kind = EventLeave
		}
		m.impl.apply(Event{Kind: kind, Group: 1, Member: Member{Addr: a}})
		m.Members(1)
	}
}
