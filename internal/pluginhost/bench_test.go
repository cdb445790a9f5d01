package pluginhost

import (
	"context"
	"testing"
)

// BenchmarkSnapshot100k measures how long a freshly started plugin takes to
// receive and acknowledge a 100,000-member snapshot (13 chunks through the
// window of 8), from opening the stream to the last acknowledgement. Process
// start and Configure are outside the timer.
func BenchmarkSnapshot100k(b *testing.B) {
	dir := b.TempDir()
	h := newHost(b, testOptions(b, dir))
	feed := newFakeFeed(64)
	feed.addGroup(1, true, members(100_000, 1)...)
	out := Output{Kind: "bench"}
	tgt, err := h.resolve(out.Kind, "")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := &supervisor{h: h, out: out, groups: testGroups, feed: feed, stats: &outputStats{}, log: h.outputLog(&out)}
		in, err := h.launch(ctx, tgt, s.log)
		if err != nil {
			b.Fatal(err)
		}
		filter, err := s.configure(ctx, in, nil)
		if err != nil {
			b.Fatal(err)
		}
		sub := feed.Subscribe(filter)
		pctx, cancel := context.WithCancel(ctx)
		hang, heartbeat := h.opts.streamTimes(&out)
		p := &pump{opts: &h.opts, hang: hang, heartbeat: heartbeat, log: s.log, stats: s.stats, sub: sub, onCaughtUp: cancel}
		b.StartTimer()
		if err := p.run(pctx, in.rpc); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cancel()
		sub.Close()
		in.shutdown(true)
		if s.stats.snapshots.Load() != 1 || s.stats.messages.Load() != 13 {
			b.Fatalf("sent %d snapshots in %d messages, want 1 in 13", s.stats.snapshots.Load(), s.stats.messages.Load())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100_000, "ns/member")
}
