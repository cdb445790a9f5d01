package sdk

import (
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// codecCases are stream messages, as wire bytes, and whether the fast
// snapshot decoder takes them (the others go to proto.Unmarshal).
func codecCases(t testing.TB) []struct {
	name string
	b    []byte
	fast bool
} {
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	expires := time.Unix(1_900_000_000, 123_000)
	members := benchMembers(20, expires)
	members = append(members, Member{Addr: netip.MustParseAddr("2001:db8::7"), Expires: expires})
	host := hostChunks(7, members, 8, true, 41)
	snap := func(s *outputv1.Snapshot) []byte {
		return marshal(&outputv1.StreamRequest{Seq: 3, Payload: &outputv1.StreamRequest_Snapshot{Snapshot: s}})
	}
	twoGroups := snap(&outputv1.Snapshot{First: true, Last: true, Groups: []*outputv1.GroupState{
		{Id: 1, Members: []*outputv1.Member{{Address: []byte{10, 0, 0, 1}, ExpiresUnixMicros: -5}}},
		{Id: 2, Ready: true},
		{Id: 1, Members: []*outputv1.Member{{Address: []byte{10, 0, 0, 2}}, {}}},
	}})
	// Hand-built encodings a generic encoder would not produce.
	tag := protowire.AppendTag
	member := tag(nil, fieldMemberAddress, protowire.BytesType)
	member = protowire.AppendBytes(member, []byte{1, 2, 3, 4})
	member = tag(member, fieldMemberAddress, protowire.BytesType) // repeated scalar: the last wins
	member = protowire.AppendBytes(member, []byte{5, 6, 7, 8})
	group := tag(nil, fieldGroupMembers, protowire.BytesType)
	group = protowire.AppendBytes(group, member)
	snapBytes := tag(nil, fieldSnapshotGroups, protowire.BytesType)
	snapBytes = protowire.AppendBytes(snapBytes, group)
	req := tag(nil, fieldRequestSeq, protowire.VarintType)
	req = protowire.AppendVarint(req, 9)
	req = tag(req, fieldRequestSnapshot, protowire.BytesType)
	req = protowire.AppendBytes(req, snapBytes)
	withUnknown := tag(append([]byte(nil), req...), 99, protowire.VarintType)
	withUnknown = protowire.AppendVarint(withUnknown, 1)
	snapTwice := tag(append([]byte(nil), req...), fieldRequestSnapshot, protowire.BytesType)
	snapTwice = protowire.AppendBytes(snapTwice, snapBytes)
	wrongType := tag(nil, fieldRequestSnapshot, protowire.VarintType)
	wrongType = protowire.AppendVarint(wrongType, 1)

	return []struct {
		name string
		b    []byte
		fast bool
	}{
		{"host chunk, first", marshal(host[0]), true},
		{"host chunk, last with an IPv6 member", marshal(host[len(host)-1]), true},
		{"groups split and empty", twoGroups, true},
		{"empty snapshot", snap(&outputv1.Snapshot{First: true, Last: true}), true},
		{"repeated address field", req, true},
		{"events", marshal(&outputv1.StreamRequest{Seq: 4, Payload: &outputv1.StreamRequest_Events{Events: &outputv1.Events{
			Events: []*outputv1.Event{{Type: outputv1.EventType_EVENT_TYPE_JOIN, Group: 1, Member: &outputv1.Member{Address: []byte{10, 0, 0, 1}}}},
		}}}), false},
		{"no payload", marshal(&outputv1.StreamRequest{Seq: 5}), false},
		{"unknown field", withUnknown, false},
		{"snapshot field twice (merged)", snapTwice, false},
		{"snapshot field of the wrong wire type", wrongType, false},
		{"truncated", marshal(host[0])[:50], false},
	}
}

func TestDecodeSnapshotRequestMatchesProto(t *testing.T) {
	for _, tc := range codecCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			want := &outputv1.StreamRequest{}
			wantErr := proto.Unmarshal(tc.b, want)

			fast := &outputv1.StreamRequest{Seq: 77}
			took := decodeSnapshotRequest(tc.b, fast)
			if took != tc.fast {
				t.Fatalf("fast decoder took the message: %v, want %v", took, tc.fast)
			}
			if took && (wantErr != nil || !proto.Equal(fast, want)) {
				t.Fatalf("fast decoder gave %v\nproto.Unmarshal gave %v (error %v)", fast, want, wantErr)
			}
			if !took && fast.GetSeq() != 77 {
				t.Fatalf("fast decoder declined but changed the message: %v", fast)
			}

			got := &outputv1.StreamRequest{}
			err := newStreamCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(tc.b)}, got)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("codec error %v, proto.Unmarshal error %v", err, wantErr)
			}
			if err == nil && !proto.Equal(got, want) {
				t.Fatalf("codec gave %v\nwant %v", got, want)
			}
		})
	}
}

// The codec leaves every other message to the proto codec.
func TestStreamCodecOtherMessages(t *testing.T) {
	c := newStreamCodec()
	in := &outputv1.ConfigureRequest{Spec: &outputv1.OutputSpec{File: "rgap.yaml", Line: 3}, Groups: []*outputv1.GroupInfo{{Id: 9}}}
	data, err := c.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := &outputv1.ConfigureRequest{}
	if err := c.Unmarshal(data, out); err != nil || !proto.Equal(in, out) {
		t.Fatalf("round trip = %v, %v; want %v", out, err, in)
	}
	if c.Name() != "proto" {
		t.Fatalf("Name() = %q: the codec must stand in for the proto codec", c.Name())
	}
}

// FuzzDecodeSnapshotRequest checks the fast snapshot decoder against
// proto.Unmarshal on arbitrary bytes: whenever it takes a message, the
// result must be exactly proto's.
func FuzzDecodeSnapshotRequest(f *testing.F) {
	for _, tc := range codecCases(f) {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast := &outputv1.StreamRequest{}
		if !decodeSnapshotRequest(b, fast) {
			return
		}
		want := &outputv1.StreamRequest{}
		if err := proto.Unmarshal(b, want); err != nil {
			t.Fatalf("fast decoder took bytes proto.Unmarshal rejects (%v): %v", err, fast)
		}
		if !proto.Equal(fast, want) {
			t.Fatalf("fast decoder gave %v\nproto.Unmarshal gave %v", fast, want)
		}
	})
}
