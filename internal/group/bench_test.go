package group

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// BenchmarkObserveRefresh is the ingest hot path: an existing member
// announced again with a newer timestamp. It must not allocate.
func BenchmarkObserveRefresh(b *testing.B) {
	r, a, ts := oneMember(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ts = ts.Add(time.Microsecond)
		if res, err := r.Observe(1, a, ts); res != Refreshed || err != nil {
			b.Fatalf("Observe = %v, %v", res, err)
		}
	}
}

// BenchmarkObserveAtRefresh is BenchmarkObserveRefresh with the clock read
// by the caller (once per batch in ingest), as ingest does.
func BenchmarkObserveAtRefresh(b *testing.B) {
	r, a, ts := oneMember(b)
	now := ts
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ts = ts.Add(time.Microsecond)
		if res, err := r.ObserveAt(1, a, ts, now); res != Refreshed || err != nil {
			b.Fatalf("ObserveAt = %v, %v", res, err)
		}
	}
}

// oneMember returns a registry of one group (id 1) in which address a
// joined at ts.
func oneMember(b *testing.B) (r *Registry, a netip.Addr, ts time.Time) {
	r = mustNew(b, []Config{{ID: 1, Expire: time.Hour}}, Options{})
	a = netip.MustParseAddr("10.0.0.1")
	ts = time.Now()
	if _, err := r.Observe(1, a, ts); err != nil {
		b.Fatal(err)
	}
	return r, a, ts
}

// BenchmarkObserveJoin cycles through 10k distinct addresses; the first pass
// joins them, the rest refresh, as with a real group of 10k members.
func BenchmarkObserveJoin(b *testing.B) {
	const n = 10000
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := mustNew(b, []Config{{ID: 1, Expire: time.Hour}}, Options{RingSize: 1024})
		ts := time.Now()
		b.StartTimer()
		for _, a := range addrs {
			if res, _ := r.Observe(1, a, ts); res != Joined {
				b.Fatalf("Observe(%s) = %v", a, res)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/join")
}

// BenchmarkObserveRefreshWith6Subscribers refreshes members while six
// subscribers read the event stream. With the default granularity events are
// rare; with 1ns every refresh publishes, the worst case for fan-out.
func BenchmarkObserveRefreshWith6Subscribers(b *testing.B) {
	for _, bc := range []struct {
		name        string
		granularity time.Duration
	}{{"granularity=1s", 0}, {"granularity=1ns", time.Nanosecond}} {
		b.Run(bc.name, func(b *testing.B) {
			r := mustNew(b, []Config{{ID: 1, Expire: time.Hour}, {ID: 2, Expire: time.Hour}}, Options{ExpiryGranularity: bc.granularity})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for i := range 6 {
				sub := r.Subscribe(func(id uint64) bool { return i%2 == 0 || id == 1 })
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer sub.Close()
					buf := make([]Event, 0, 256)
					sub.Resync()
					for {
						evs, resync := sub.Next(buf)
						switch {
						case resync:
							sub.Resync()
						case len(evs) == 0:
							select {
							case <-sub.Notify():
							case <-ctx.Done():
								return
							}
						}
					}
				}()
			}
			addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")}
			ts := time.Now()
			for _, a := range addrs {
				for _, id := range []uint64{1, 2} {
					if _, err := r.Observe(id, a, ts); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ts = ts.Add(time.Microsecond)
				if _, err := r.Observe(uint64(1+i&1), addrs[i>>1&1], ts); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}
