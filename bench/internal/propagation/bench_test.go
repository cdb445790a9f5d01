package propagation

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rgap-project/rgap/bench/internal/traffic"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// joinCounter is the smallest output that sees every event: it counts
// joins, as benchplugin's snapshot mode does.
type joinCounter struct{ joins atomic.Int64 }

func (c *joinCounter) Run(ctx context.Context, _ *sdk.Env) error { <-ctx.Done(); return nil }

func (c *joinCounter) HandleEvent(e sdk.Event) {
	if e.Kind == sdk.EventJoin {
		c.joins.Add(1)
	}
}

// BenchmarkSDKSnapshot100k reproduces, in one process, the plugin side of
// the snapshot measurement, where a restarted plugin spends most of its
// time: the SDK receiving a 100,000-member snapshot over gRPC, applying it
// to its mirror and handing every join to the output. The fake core of
// package sdktest sends it (in smaller chunks than the listener's plugin
// host, so per-message costs weigh a little more here); its own encoding
// is inside the timer too. It gives SDK changes a number to beat without
// the listener, the process start or a busy machine's scheduling:
//
//	go test -run '^$' -bench SDKSnapshot -benchtime 3x -cpuprofile cpu.out ./internal/bench/propagation
func BenchmarkSDKSnapshot100k(b *testing.B) {
	const n = 100_000
	members := make([]sdk.Member, n)
	expires := time.Now().Add(time.Hour)
	for i := range members {
		members[i] = sdk.Member{Addr: traffic.Addr(i), Expires: expires}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := &joinCounter{}
		p := sdk.Plugin{Name: pluginKind, Version: "bench", New: func(*sdk.Config) (sdk.Output, error) { return c, nil }}
		h := sdktest.Start(b, p, "", sdk.GroupInfo{ID: traffic.Group, Expire: time.Hour})
		b.StartTimer()
		h.Snapshot(sdktest.GroupState{ID: traffic.Group, Ready: true, Members: members})
		h.Sync()
		b.StopTimer()
		h.Stop()
		if got := c.joins.Load(); got != n {
			b.Fatalf("the output saw %d joins, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/snapshot")
}

// BenchmarkSDKJoinEvents measures the SDK's share of the propagation path:
// ten joins (a millisecond at 10,000 events/s), each received over gRPC as
// its own message (sdktest sends one event per message), applied, handed
// to the output and acknowledged. In-process, it has none of the thread
// wake-ups across two processes that dominate the real path.
func BenchmarkSDKJoinEvents(b *testing.B) {
	c := &joinCounter{}
	p := sdk.Plugin{Name: pluginKind, Version: "bench", New: func(*sdk.Config) (sdk.Output, error) { return c, nil }}
	h := sdktest.Start(b, p, "", sdk.GroupInfo{ID: traffic.Group, Expire: time.Hour})
	expires := time.Now().Add(time.Hour)
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for range 10 {
			h.Join(traffic.Group, traffic.Addr(next%maxAddresses), expires)
			next++
		}
		h.Sync()
	}
	b.StopTimer()
	if got := c.joins.Load(); got < int64(min(next, maxAddresses)) {
		b.Fatalf("the output saw %d joins, want %d", got, next)
	}
}
