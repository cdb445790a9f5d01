package sdk

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// benchChunkSize is the plugin host's default chunk size
// (pluginhost.DefaultChunkSize): a 100,000-member group arrives as 13
// messages.
const benchChunkSize = 8192

// hostChunks splits one group's members into snapshot messages the way the
// plugin host does for a protocol-2 plugin (internal/pluginhost/encode.go):
// at most chunk members per message, by column, in the host's order (sorted
// by address and port), the first message marked first and the last marked
// last, seq numbers from seq0 on.
func hostChunks(group uint64, members []Member, chunk int, ready bool, seq0 uint64) []*outputv1.StreamRequest {
	var out []*outputv1.StreamRequest
	for start := 0; start < len(members) || len(out) == 0; start += chunk {
		part := members[start:min(start+chunk, len(members))]
		gs := &outputv1.GroupState{Id: group, Ready: ready, Addresses: make([]byte, 0, 16*len(part)),
			Ports: make([]uint32, 0, len(part)), Weights: make([]uint32, 0, len(part)), ExpiresUnixMicros: make([]int64, 0, len(part))}
		for _, m := range part {
			a := m.Addr.As16()
			gs.Addresses = append(gs.Addresses, a[:]...)
			gs.Ports = append(gs.Ports, uint32(m.Port))
			gs.Weights = append(gs.Weights, uint32(m.Weight))
			gs.ExpiresUnixMicros = append(gs.ExpiresUnixMicros, m.Expires.UnixMicro())
		}
		snap := &outputv1.Snapshot{
			First:  len(out) == 0,
			Last:   start+chunk >= len(members),
			Groups: []*outputv1.GroupState{gs},
		}
		out = append(out, &outputv1.StreamRequest{Seq: seq0 + uint64(len(out)), Payload: &outputv1.StreamRequest_Snapshot{Snapshot: snap}})
	}
	return out
}

// benchMembers returns n members with distinct IPv4 addresses, each with a
// port and a weight, sorted.
func benchMembers(n int, expires time.Time) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Port: 8080, Weight: uint16(1 + i%100), Expires: expires}
	}
	return ms
}

// joinCounter is the smallest output that hears every event.
type joinCounter struct{ joins, leaves int }

func (c *joinCounter) Run(ctx context.Context, _ *Env) error { <-ctx.Done(); return nil }

func (c *joinCounter) HandleEvent(e Event) {
	switch e.Kind {
	case EventJoin:
		c.joins++
	case EventLeave:
		c.leaves++
	}
}

// benchStream configures a service for group 1 with a joinCounter output
// and returns the stream processor the host's messages go to.
func benchStream(b *testing.B) (*streamProc, *joinCounter, func()) {
	c := &joinCounter{}
	s := newService(Plugin{Name: "bench", New: func(*Config) (Output, error) { return c, nil }}, nil, func(err error) { b.Errorf("plugin exit: %v", err) })
	if _, err := s.Configure(context.Background(), &outputv1.ConfigureRequest{Groups: []*outputv1.GroupInfo{{Id: 1}}}); err != nil {
		b.Fatal(err)
	}
	sp := &streamProc{svc: s, mirror: s.mirror, handler: s.handler, subAll: s.subAll, subs: s.subs}
	stop := func() {
		if err := s.shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	return sp, c, stop
}

// BenchmarkApplySnapshot100k is the plugin's side of a restart: a
// 100,000-member group arriving as the first snapshot, in the host's 8192
// member chunks, applied to an empty mirror and handed to the output as
// 100,000 joins. "decoded" starts from protobuf messages; "wire" also
// decodes each chunk from its wire bytes with the stock protobuf code, as
// gRPC's proto codec does in the plugin (what remains outside is gRPC's
// framing and the network). "resync"
// applies a second snapshot, 1% different, on top of the first (the diff
// path).
//
//	go test -run '^$' -bench ApplySnapshot100k -benchtime 5x -count 3 ./sdk
func BenchmarkApplySnapshot100k(b *testing.B) {
	const n = 100_000
	expires := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	members := benchMembers(n, expires)
	chunks := hostChunks(1, members, benchChunkSize, true, 1)
	wire := make([][]byte, len(chunks))
	for i, c := range chunks {
		var err error
		if wire[i], err = proto.Marshal(c); err != nil {
			b.Fatal(err)
		}
	}

	apply := func(b *testing.B, sp *streamProc, msgs []*outputv1.StreamRequest) {
		for _, m := range msgs {
			if err := sp.handle(m); err != nil {
				b.Fatal(err)
			}
		}
	}
	// snapshot times send, on a fresh stream, and checks that the output
	// saw every member join.
	snapshot := func(b *testing.B, send func(*streamProc)) {
		b.ReportAllocs()
		for range b.N {
			b.StopTimer()
			sp, c, stop := benchStream(b)
			b.StartTimer()
			send(sp)
			b.StopTimer()
			stop()
			if c.joins != n {
				b.Fatalf("the output saw %d joins, want %d", c.joins, n)
			}
			b.StartTimer()
		}
	}
	b.Run("decoded", func(b *testing.B) {
		snapshot(b, func(sp *streamProc) { apply(b, sp, chunks) })
	})
	b.Run("wire", func(b *testing.B) {
		snapshot(b, func(sp *streamProc) {
			for _, w := range wire {
				req := &outputv1.StreamRequest{}
				if err := proto.Unmarshal(w, req); err != nil {
					b.Fatal(err)
				}
				apply(b, sp, []*outputv1.StreamRequest{req})
			}
		})
	})
	b.Run("resync", func(b *testing.B) {
		// Every 100th member is replaced by a new address.
		next := benchMembers(n, expires)
		for i := 0; i < n; i += 100 {
			next[i].Addr = netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		resync := hostChunks(1, sortedMembers(next), benchChunkSize, true, uint64(len(chunks))+1)
		b.ReportAllocs()
		for range b.N {
			b.StopTimer()
			sp, c, stop := benchStream(b)
			apply(b, sp, chunks)
			c.joins = 0
			b.StartTimer()
			apply(b, sp, resync)
			b.StopTimer()
			stop()
			if c.joins != n/100 || c.leaves != n/100 {
				b.Fatalf("the resync delivered %d joins and %d leaves, want %d of each", c.joins, c.leaves, n/100)
			}
			b.StartTimer()
		}
	})
}

func sortedMembers(ms []Member) []Member {
	out := append([]Member(nil), ms...)
	slices.SortFunc(out, func(a, b Member) int { return a.Addr.Compare(b.Addr) })
	return out
}
