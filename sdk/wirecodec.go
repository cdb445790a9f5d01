package sdk

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// streamCodec is the gRPC codec of the plugin's server. It is gRPC's proto
// codec, except for one message: a StreamRequest carrying a snapshot chunk.
//
// Why: a restarted plugin receives its whole mirror as snapshot chunks of
// thousands of members each, and the generic protobuf decoder allocates
// two objects per member (the Member message and its address bytes): for
// a 100,000-member group that was 200,000 allocations, most of the plugin's
// CPU time on the way to a complete mirror, and the garbage that made the
// collector run several times meanwhile. decodeSnapshotRequest builds the
// same messages in a few slabs per chunk instead, like the host's encoder.
//
// It decodes only the shape the protocol defines (known fields, in their
// wire types); anything else, such as a field added by a newer host, makes
// it hand the message to the generic decoder, so the result is always what
// proto.Unmarshal gives (FuzzDecodeSnapshotRequest checks that). The wire
// format is unchanged: hosts need nothing new.
type streamCodec struct {
	proto encoding.CodecV2
}

func newStreamCodec() streamCodec {
	return streamCodec{proto: encoding.GetCodecV2("proto")}
}

// Marshal implements encoding.CodecV2.
func (c streamCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

// Unmarshal implements encoding.CodecV2.
func (c streamCodec) Unmarshal(data mem.BufferSlice, v any) error {
	req, ok := v.(*outputv1.StreamRequest)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	if decodeSnapshotRequest(b, req) {
		return nil
	}
	if err := proto.Unmarshal(b, req); err != nil {
		return fmt.Errorf("decode a stream message from the host: %w", err)
	}
	return nil
}

// Name implements encoding.CodecV2: the codec replaces the proto codec.
func (streamCodec) Name() string { return "proto" }

// Field numbers of the messages decodeSnapshotRequest handles (see
// proto/rgap/output/v1/output.proto).
const (
	fieldRequestSeq      = 1
	fieldRequestSnapshot = 2
	fieldSnapshotFirst   = 1
	fieldSnapshotLast    = 2
	fieldSnapshotGroups  = 3
	fieldGroupID         = 1
	fieldGroupReady      = 2
	fieldGroupMembers    = 3
	fieldMemberAddress   = 1
	fieldMemberExpires   = 2
)

// snapshotSize is what a walk over a Snapshot's bytes found.
type snapshotSize struct {
	groups, members, addrBytes int
}

// decodeSnapshotRequest decodes b into req when b is a StreamRequest whose
// payload is a snapshot chunk made only of the fields the protocol
// defines, each once where it is not repeated, and reports whether it did.
// When it reports false, req is unchanged and b may still be a valid
// message: the caller decodes it with proto.Unmarshal.
//
// The first pass checks the shape and counts, the second fills slabs of
// exactly that size; both read the same bytes with the same rules.
func decodeSnapshotRequest(b []byte, req *outputv1.StreamRequest) bool {
	var (
		seq     uint64
		snap    []byte
		hasSnap bool
	)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case num == fieldRequestSeq && typ == protowire.VarintType:
			seq, n = protowire.ConsumeVarint(b)
		case num == fieldRequestSnapshot && typ == protowire.BytesType && !hasSnap:
			snap, n = protowire.ConsumeBytes(b)
			hasSnap = true
		default:
			// Events, unknown fields, a repeated oneof field (which
			// proto merges): the generic decoder's business.
			return false
		}
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	if !hasSnap {
		return false
	}
	var size snapshotSize
	if !walkSnapshot(snap, &size, nil) {
		return false
	}
	out := &outputv1.Snapshot{}
	fill := &snapshotFill{
		snap:    out,
		groups:  make([]outputv1.GroupState, 0, size.groups),
		members: make([]outputv1.Member, 0, size.members),
		ptrs:    make([]*outputv1.Member, 0, size.members),
		addrs:   make([]byte, 0, size.addrBytes),
	}
	if size.groups > 0 {
		out.Groups = make([]*outputv1.GroupState, 0, size.groups)
	}
	if !walkSnapshot(snap, nil, fill) {
		return false // cannot happen: the first walk accepted the same bytes
	}
	proto.Reset(req)
	req.Seq = seq
	req.Payload = &outputv1.StreamRequest_Snapshot{Snapshot: out}
	return true
}

// snapshotFill receives a snapshot's values during the second walk.
type snapshotFill struct {
	snap    *outputv1.Snapshot
	groups  []outputv1.GroupState
	members []outputv1.Member
	ptrs    []*outputv1.Member
	addrs   []byte
}

// walkSnapshot walks a Snapshot's bytes. With size, it counts; with fill,
// it stores. It reports false on anything decodeSnapshotRequest leaves to
// the generic decoder.
//
// Each walker repeats the same tag loop on purpose: a shared loop taking
// a per-field callback measured 20% slower on BenchmarkApplySnapshot100k
// (one indirect call per field, 200,000 per 100,000 members).
func walkSnapshot(b []byte, size *snapshotSize, fill *snapshotFill) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case (num == fieldSnapshotFirst || num == fieldSnapshotLast) && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			if fill != nil && n >= 0 {
				if num == fieldSnapshotFirst {
					fill.snap.First = v != 0
				} else {
					fill.snap.Last = v != 0
				}
			}
		case num == fieldSnapshotGroups && typ == protowire.BytesType:
			var g []byte
			g, n = protowire.ConsumeBytes(b)
			if n >= 0 && !walkGroup(g, size, fill) {
				return false
			}
		default:
			return false
		}
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// walkGroup walks one GroupState, as walkSnapshot.
func walkGroup(b []byte, size *snapshotSize, fill *snapshotFill) bool {
	var g *outputv1.GroupState
	if size != nil {
		size.groups++
	}
	if fill != nil {
		fill.groups = append(fill.groups, outputv1.GroupState{})
		g = &fill.groups[len(fill.groups)-1]
		fill.snap.Groups = append(fill.snap.Groups, g)
	}
	first := 0
	if fill != nil {
		first = len(fill.ptrs)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case (num == fieldGroupID || num == fieldGroupReady) && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			if g != nil && n >= 0 {
				if num == fieldGroupID {
					g.Id = v
				} else {
					g.Ready = v != 0
				}
			}
		case num == fieldGroupMembers && typ == protowire.BytesType:
			var m []byte
			m, n = protowire.ConsumeBytes(b)
			if n >= 0 && !walkMember(m, size, fill) {
				return false
			}
		default:
			return false
		}
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	if g != nil && len(fill.ptrs) > first {
		g.Members = fill.ptrs[first:len(fill.ptrs):len(fill.ptrs)]
	}
	return true
}

// walkMember walks one Member, as walkSnapshot.
func walkMember(b []byte, size *snapshotSize, fill *snapshotFill) bool {
	var m *outputv1.Member
	if size != nil {
		size.members++
	}
	if fill != nil {
		fill.members = append(fill.members, outputv1.Member{})
		m = &fill.members[len(fill.members)-1]
		fill.ptrs = append(fill.ptrs, m)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case num == fieldMemberAddress && typ == protowire.BytesType:
			var a []byte
			a, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				if size != nil {
					size.addrBytes += len(a)
				}
				if m != nil {
					// The last occurrence wins, as in proto.Unmarshal;
					// an earlier one stays in the slab, unused.
					start := len(fill.addrs)
					fill.addrs = append(fill.addrs, a...)
					m.Address = fill.addrs[start:len(fill.addrs):len(fill.addrs)]
				}
			}
		case num == fieldMemberExpires && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			if m != nil && n >= 0 {
				m.ExpiresUnixMicros = int64(v)
			}
		default:
			return false
		}
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}
