package sdk

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

var wireT = time.UnixMicro(1_900_000_000_000_001)

func v4col(a string) []byte {
	b := netip.MustParseAddr(a).As16()
	return b[:]
}

func cols(parts ...[]byte) []byte { return slices.Concat(parts...) }

// A snapshot chunk, in either layout, converts to the members it carries,
// sorted by address and port; a chunk whose columns disagree is refused
// with what is wrong.
func TestSnapshotFromWire(t *testing.T) {
	us := wireT.UnixMicro()
	tests := []struct {
		name    string
		chunks  []*outputv1.GroupState
		want    []Member
		wantErr string
	}{
		{"protocol 1 list", []*outputv1.GroupState{{Members: []*outputv1.Member{
			{Address: []byte{192, 0, 2, 2}, ExpiresUnixMicros: us},
			{Address: []byte{192, 0, 2, 1}, ExpiresUnixMicros: us},
		}}}, []Member{
			{Addr: netip.MustParseAddr("192.0.2.1"), Expires: wireT},
			{Addr: netip.MustParseAddr("192.0.2.2"), Expires: wireT},
		}, ""},
		{"protocol 2 columns over two chunks", []*outputv1.GroupState{
			{Addresses: cols(v4col("192.0.2.1"), v4col("192.0.2.1")), Ports: []uint32{80, 443}, Weights: []uint32{10, 65535}, ExpiresUnixMicros: []int64{us, us}},
			{Addresses: v4col("2001:db8::1"), ExpiresUnixMicros: []int64{us}},
		}, []Member{
			{Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 10, Expires: wireT},
			{Addr: netip.MustParseAddr("192.0.2.1"), Port: 443, Weight: 65535, Expires: wireT},
			{Addr: netip.MustParseAddr("2001:db8::1"), Expires: wireT},
		}, ""},
		{"unsorted columns are sorted", []*outputv1.GroupState{
			{Addresses: cols(v4col("192.0.2.9"), v4col("192.0.2.1"), v4col("192.0.2.1")), Ports: []uint32{1, 9, 8}, ExpiresUnixMicros: []int64{us, us, us}},
		}, []Member{
			{Addr: netip.MustParseAddr("192.0.2.1"), Port: 8, Expires: wireT},
			{Addr: netip.MustParseAddr("192.0.2.1"), Port: 9, Expires: wireT},
			{Addr: netip.MustParseAddr("192.0.2.9"), Port: 1, Expires: wireT},
		}, ""},
		{"short address column", []*outputv1.GroupState{{Addresses: []byte{192, 0, 2, 1}, ExpiresUnixMicros: []int64{us}}},
			nil, "4 bytes of addresses for 1 members"},
		{"ports column of another length", []*outputv1.GroupState{{Addresses: v4col("192.0.2.1"), Ports: []uint32{1, 2}, ExpiresUnixMicros: []int64{us}}},
			nil, "2 ports for 1 members"},
		{"weight out of range", []*outputv1.GroupState{{Addresses: v4col("192.0.2.1"), Weights: []uint32{65536}, ExpiresUnixMicros: []int64{us}}},
			nil, "weights value 65536 out of range"},
		{"bad address in a list", []*outputv1.GroupState{{Members: []*outputv1.Member{{Address: []byte{1, 2, 3}}}}},
			nil, "address of 3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &wireGroup{}
			var err error
			for _, c := range tt.chunks {
				if err = g.add(c); err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("add error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := g.finish().members
			if !slices.EqualFunc(got, tt.want, func(a, b Member) bool { return key(a) == key(b) && a.Weight == b.Weight && a.Expires.Equal(b.Expires) }) {
				t.Errorf("members = %v\nwant %v", got, tt.want)
			}
			for _, m := range got {
				if m.Addr.Is4In6() {
					t.Errorf("member %v is IPv4-mapped; want plain IPv4", m.Addr)
				}
			}
		})
	}
}

// Events convert with their port and weight; unknown types are ignored
// (Kind 0), malformed members refused.
func TestEventFromWire(t *testing.T) {
	us := wireT.UnixMicro()
	tests := []struct {
		name    string
		in      *outputv1.Event
		want    Event
		wantErr string
	}{
		{"join with port and weight", &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_JOIN, Group: 3,
			Member: &outputv1.Member{Address: []byte{192, 0, 2, 1}, Port: 8080, Weight: 7, ExpiresUnixMicros: us}},
			Event{Kind: EventJoin, Group: 3, Member: Member{Addr: netip.MustParseAddr("192.0.2.1"), Port: 8080, Weight: 7, Expires: wireT}}, ""},
		{"protocol 1 leave", &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_LEAVE, Group: 3,
			Member: &outputv1.Member{Address: netip.MustParseAddr("2001:db8::1").AsSlice(), ExpiresUnixMicros: us}},
			Event{Kind: EventLeave, Group: 3, Member: Member{Addr: netip.MustParseAddr("2001:db8::1"), Expires: wireT}}, ""},
		{"expiry carries the weight", &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_EXPIRY, Group: 3,
			Member: &outputv1.Member{Address: []byte{192, 0, 2, 1}, Port: 53, Weight: 100, ExpiresUnixMicros: us}},
			Event{Kind: EventExpiry, Group: 3, Member: Member{Addr: netip.MustParseAddr("192.0.2.1"), Port: 53, Weight: 100, Expires: wireT}}, ""},
		{"ready", &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_READY, Group: 4}, Event{Kind: EventReady, Group: 4}, ""},
		{"unknown type", &outputv1.Event{Type: 99, Group: 4}, Event{Group: 4}, ""},
		{"no member", &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_JOIN, Group: 3}, Event{}, "join event without a member"},
		{"port out of range", &outputv1.Event{Type: outputv1.EventType_EVENT_TYPE_JOIN, Group: 3,
			Member: &outputv1.Member{Address: []byte{192, 0, 2, 1}, Port: 70000}}, Event{}, "port 70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eventFromWire(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.wantErr)) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.want.Kind || got.Group != tt.want.Group || key(got.Member) != key(tt.want.Member) ||
				got.Member.Weight != tt.want.Member.Weight || !got.Member.Expires.Equal(tt.want.Member.Expires) {
				t.Errorf("event = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Two members share an address on different ports; an expiry event that
// changes one's weight updates that member only, is delivered, and counts
// as a change for Changed watchers (an expiry move alone does not).
func TestMirrorPortsAndWeights(t *testing.T) {
	m := &Mirror{}
	a := netip.MustParseAddr("192.0.2.1")
	for _, port := range []uint16{80, 443} {
		if _, ok, changed := m.impl.apply(Event{Kind: EventJoin, Group: 1, Member: Member{Addr: a, Port: port, Weight: 1, Expires: wireT}}); !ok || !changed {
			t.Fatalf("join of port %d: delivered %v, changed %v", port, ok, changed)
		}
	}
	if got := m.Members(1); len(got) != 2 || got[0].Port != 80 || got[1].Port != 443 {
		t.Fatalf("members = %v, want %v on ports 80 and 443", got, a)
	}
	out, ok, changed := m.impl.apply(Event{Kind: EventExpiry, Group: 1, Member: Member{Addr: a, Port: 443, Weight: 9, Expires: wireT}})
	if !ok || !changed || out.Member.Weight != 9 {
		t.Fatalf("weight change: delivered %v (%+v), changed %v; want delivered with weight 9, changed", ok, out, changed)
	}
	if _, _, changed := m.impl.apply(Event{Kind: EventExpiry, Group: 1, Member: Member{Addr: a, Port: 443, Weight: 9, Expires: wireT.Add(time.Second)}}); changed {
		t.Errorf("an expiry move alone reported a change")
	}
	if got := m.Members(1); got[0].Weight != 1 || got[1].Weight != 9 {
		t.Errorf("members = %v, want weight 1 on port 80 and 9 on port 443", got)
	}
	if _, ok, _ := m.impl.apply(Event{Kind: EventLeave, Group: 1, Member: Member{Addr: a, Port: 80}}); !ok {
		t.Fatal("leave of port 80 not delivered")
	}
	if got := m.Members(1); len(got) != 1 || got[0].Port != 443 {
		t.Errorf("after port 80 left, members = %v, want %v on 443 only", got, a)
	}
}
