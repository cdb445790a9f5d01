package pluginhost

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/rgap-project/rgap/internal/group"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
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
		p := &pump{opts: &h.opts, hang: hang, heartbeat: heartbeat, log: s.log, stats: s.stats, sub: sub, version: in.version}
		b.StartTimer()
		if err := p.run(pctx, ackWatch{OutputServiceClient: in.rpc, want: 13, done: cancel}); err != nil {
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

// ackWatch wraps a plugin's client: once the plugin acknowledged message
// want of its stream, done is called (the benchmark's end).
type ackWatch struct {
	outputv1.OutputServiceClient
	want uint64
	done func()
}

func (w ackWatch) Stream(ctx context.Context, opts ...grpc.CallOption) (outputv1.OutputService_StreamClient, error) {
	st, err := w.OutputServiceClient.Stream(ctx, opts...)
	return &ackStream{OutputService_StreamClient: st, w: w}, err
}

type ackStream struct {
	outputv1.OutputService_StreamClient
	w ackWatch
}

func (s *ackStream) Recv() (*outputv1.StreamResponse, error) {
	r, err := s.OutputService_StreamClient.Recv()
	if err == nil && r.GetAckSeq() >= s.w.want {
		s.w.done()
	}
	return r, err
}

// BenchmarkMergeSnapshot100k is the host's extra work for a plugin that
// speaks only protocol 1: merging a 100,000-member snapshot by address.
func BenchmarkMergeSnapshot100k(b *testing.B) {
	snap := []group.GroupSnapshot{{ID: 1, Ready: true, Members: members(100_000, 1)}}
	b.ReportAllocs()
	for b.Loop() {
		var m addrMerger
		if got := m.snapshot(snap); len(got[0].Members) != 100_000 {
			b.Fatalf("merged to %d members, want 100000", len(got[0].Members))
		}
	}
}
