package pluginhost

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/pluginproto"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

func members(n int, base byte) []Member {
	out := make([]Member, n)
	for i := range out {
		out[i] = Member{Addr: netip.AddrFrom4([4]byte{10, base, byte(i >> 8), byte(i)}), Expires: time.UnixMicro(int64(1_900_000_000_000_000 + i))}
	}
	return out
}

// Chunks never exceed the limit, flags mark the first and last chunk, and
// the chunks put back together are the snapshot.
func TestSnapshotChunking(t *testing.T) {
	tests := []struct {
		name       string
		groups     []GroupSnapshot
		max        int
		wantChunks int
	}{
		{"empty snapshot", nil, 4, 1},
		{"one empty group", []GroupSnapshot{{ID: 7, Ready: true}}, 4, 1},
		{"exactly one chunk", []GroupSnapshot{{ID: 1, Members: members(4, 1)}}, 4, 1},
		{"one over", []GroupSnapshot{{ID: 1, Members: members(5, 1)}}, 4, 2},
		{"group split across chunks", []GroupSnapshot{{ID: 1, Members: members(3, 1)}, {ID: 2, Ready: true, Members: members(10, 2)}, {ID: 3}}, 4, 4},
		{"many empty groups", []GroupSnapshot{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}, {ID: 5}}, 2, 3},
		{"100k members", []GroupSnapshot{{ID: 1, Members: members(100_000, 1)}}, DefaultChunkSize, 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &snapCursor{groups: tt.groups}
			var chunks []*outputv1.Snapshot
			for !c.done() {
				chunks = append(chunks, c.nextChunk(tt.max))
				if len(chunks) > 100_000 {
					t.Fatal("chunking does not terminate")
				}
			}
			if len(chunks) != tt.wantChunks {
				t.Errorf("%d chunks, want %d", len(chunks), tt.wantChunks)
			}
			got := map[uint64]*GroupSnapshot{}
			var order []uint64
			for i, ch := range chunks {
				if ch.First != (i == 0) || ch.Last != (i == len(chunks)-1) {
					t.Errorf("chunk %d: first=%v last=%v", i, ch.First, ch.Last)
				}
				n := 0
				for _, g := range ch.Groups {
					n += len(g.Members)
					gs := got[g.Id]
					if gs == nil {
						gs = &GroupSnapshot{ID: g.Id}
						got[g.Id] = gs
						order = append(order, g.Id)
					}
					gs.Ready = g.Ready
					for _, m := range g.Members {
						a, err := pluginproto.AddrFromBytes(m.Address)
						if err != nil {
							t.Fatal(err)
						}
						if len(m.Address) != 4 {
							t.Errorf("IPv4 member encoded in %d bytes", len(m.Address))
						}
						gs.Members = append(gs.Members, Member{Addr: a, Expires: time.UnixMicro(m.ExpiresUnixMicros)})
					}
				}
				if n > tt.max || len(ch.Groups) > tt.max {
					t.Errorf("chunk %d has %d members in %d groups, limit %d", i, n, len(ch.Groups), tt.max)
				}
			}
			if len(order) != len(tt.groups) {
				t.Fatalf("reassembled %d groups, want %d", len(order), len(tt.groups))
			}
			for i, want := range tt.groups {
				g := got[order[i]]
				if g.ID != want.ID || g.Ready != want.Ready || len(g.Members) != len(want.Members) {
					t.Fatalf("group %d = id %d ready %v %d members; want %d %v %d", i, g.ID, g.Ready, len(g.Members), want.ID, want.Ready, len(want.Members))
				}
				for j := range want.Members {
					if g.Members[j].Addr != want.Members[j].Addr || !g.Members[j].Expires.Equal(want.Members[j].Expires) {
						t.Fatalf("group %d member %d = %+v, want %+v", want.ID, j, g.Members[j], want.Members[j])
					}
				}
			}
		})
	}
}

// Invalid addresses are never sent; IPv4-mapped addresses go as 4 bytes,
// IPv6 as 16.
func TestSnapshotAddressEncoding(t *testing.T) {
	c := &snapCursor{groups: []GroupSnapshot{{ID: 1, Members: []Member{
		{Addr: netip.MustParseAddr("::ffff:192.0.2.1")},
		{},
		{Addr: netip.MustParseAddr("2001:db8::1")},
	}}}}
	ch := c.nextChunk(10)
	ms := ch.Groups[0].Members
	if len(ms) != 2 || len(ms[0].Address) != 4 || len(ms[1].Address) != 16 {
		t.Fatalf("members = %v, want a 4-byte and a 16-byte address", ms)
	}
	if a, _ := pluginproto.AddrFromBytes(ms[0].Address); a != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("mapped address decoded as %v", a)
	}
}

func TestEncodeEvents(t *testing.T) {
	m := Member{Addr: netip.MustParseAddr("192.0.2.1"), Expires: time.UnixMicro(42)}
	evs := []Event{
		{Kind: EventJoin, Group: 1, Member: m},
		{Kind: EventExpiry, Group: 1, Member: m},
		{Kind: EventReady, Group: 2},
		{Kind: EventLeave, Group: 1, Member: m},
		{Kind: EventJoin, Group: 1}, // invalid address: dropped
		{Kind: 0, Group: 1, Member: m},
		{Kind: EventJoin, Group: 3, Member: m},
	}
	tests := []struct {
		expiry bool
		max    int
		want   [][]string
	}{
		{false, 10, [][]string{{"JOIN/1", "READY/2", "LEAVE/1", "JOIN/3"}}},
		{true, 10, [][]string{{"JOIN/1", "EXPIRY/1", "READY/2", "LEAVE/1", "JOIN/3"}}},
		{false, 2, [][]string{{"JOIN/1", "READY/2"}, {"LEAVE/1", "JOIN/3"}}},
		{true, 3, [][]string{{"JOIN/1", "EXPIRY/1", "READY/2"}, {"LEAVE/1", "JOIN/3"}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("expiry=%v,max=%d", tt.expiry, tt.max), func(t *testing.T) {
			var got [][]string
			rest := evs
			for len(rest) > 0 {
				msg, n := encodeEvents(rest, tt.max, tt.expiry, false)
				if n == 0 {
					t.Fatal("encodeEvents consumed nothing")
				}
				rest = rest[n:]
				if msg == nil {
					continue
				}
				var names []string
				for _, e := range msg.Events {
					names = append(names, fmt.Sprintf("%s/%d", e.Type.String()[len("EVENT_TYPE_"):], e.Group))
					if e.Type == outputv1.EventType_EVENT_TYPE_READY && e.Member != nil {
						t.Errorf("ready event carries a member")
					}
					if e.Type != outputv1.EventType_EVENT_TYPE_READY && (len(e.Member.GetAddress()) != 4 || e.Member.GetExpiresUnixMicros() != 42) {
						t.Errorf("event member = %v", e.Member)
					}
				}
				got = append(got, names)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("messages = %v, want %v", got, tt.want)
			}
		})
	}
}
