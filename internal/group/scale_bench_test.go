package group

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// BenchmarkScale is the registry's part of the scale benchmark (bench/
// scale): members spread evenly over the groups, then refreshes of random
// existing members, each announcement a microsecond newer than the one
// before (not a replay; no expiry moves by a whole granularity, so nearly
// no events), with the clock read by the caller as ingest does. It reports
// the live heap per member after a forced collection (the registry after
// the fill minus the empty registry, over the members) and ns/op, the cost
// of one refresh. Compare the sizes for how a refresh's cost grows with the
// membership.
func BenchmarkScale(b *testing.B) {
	for _, size := range []struct{ members, groups int }{
		{10_000, 1}, {100_000, 100}, {1_000_000, 1_000},
	} {
		b.Run(fmt.Sprintf("members=%d/groups=%d", size.members, size.groups), func(b *testing.B) {
			benchScale(b, size.members, size.groups)
		})
	}
}

func benchScale(b *testing.B, members, groups int) {
	cfgs := make([]Config, groups)
	for i := range cfgs {
		cfgs[i] = Config{ID: uint64(i + 1), Expire: time.Hour}
	}
	// The refresh order, drawn before the heap is measured.
	order := rand.New(rand.NewPCG(1, 2)).Perm(members)
	addrOf := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	groupOf := func(i int) uint64 { return uint64(i%groups + 1) }

	r := mustNew(b, cfgs, Options{})
	before := liveHeap()
	now := time.Now()
	ts := now
	for i := range members {
		ts = ts.Add(time.Microsecond)
		if res, err := r.Apply(groupOf(i), Announcement{Addr: addrOf(i), Timestamp: ts}, now); res != Joined || err != nil {
			b.Fatalf("join %d: %v, %v", i, res, err)
		}
	}
	after := liveHeap()
	runtime.KeepAlive(r)
	perMember := float64(after-before) / float64(members)

	b.ReportAllocs()
	n := 0
	for b.Loop() {
		i := order[n%members]
		n++
		ts = ts.Add(time.Microsecond)
		if res, err := r.Apply(groupOf(i), Announcement{Addr: addrOf(i), Timestamp: ts}, now); res != Refreshed || err != nil {
			b.Fatalf("refresh %d: %v, %v", i, res, err)
		}
	}
	// After the loop: b.Loop's first call resets the reported metrics.
	b.ReportMetric(perMember, "B/member")
}

// liveHeap is the live heap in bytes after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
