package pluginhost

import (
	"github.com/rgap-project/rgap/internal/pluginproto"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// The encoders below build each message's protobuf values in a few slab
// allocations (one slice of structs, one of pointers, one byte buffer for
// every address) instead of one allocation per member: a 100,000-member
// snapshot is 13 messages, not 300,000 small objects. A message is built
// right before it is sent and never touched again (gRPC may read it after
// Send returns).

// snapCursor walks a snapshot that is being sent in chunks.
type snapCursor struct {
	groups  []GroupSnapshot
	gi, mi  int // next group, next member within it
	started bool
	list    *outputv1.GroupList // sent on the first chunk when not nil
	// columns selects protocol 2's layout (members by column) over
	// protocol 1's (a list of Member messages).
	columns bool
}

func (c *snapCursor) done() bool { return c.started && c.gi >= len(c.groups) }

// nextChunk returns the next chunk of at most max members (and at most max
// group entries). The first chunk has First set, the last has Last set; an
// empty snapshot is one chunk with both.
func (c *snapCursor) nextChunk(max int) *outputv1.Snapshot {
	// Pass 1 sizes the chunk, so that every slab is allocated once. Pass 2
	// repeats the same arithmetic while filling.
	nMembers, nGroups := 0, 0
	for gi, mi := c.gi, c.mi; gi < len(c.groups) && nMembers < max && nGroups < max; gi, mi = gi+1, 0 {
		take := min(len(c.groups[gi].Members)-mi, max-nMembers)
		nMembers += take
		nGroups++
		if mi+take < len(c.groups[gi].Members) {
			break // the group continues in the next chunk
		}
	}

	snap := &outputv1.Snapshot{First: !c.started, Groups: make([]*outputv1.GroupState, nGroups)}
	if snap.First {
		snap.GroupList = c.list
	}
	c.started = true
	states := make([]outputv1.GroupState, nGroups)
	var fill memberFiller
	if c.columns {
		fill = newColumnFiller(nMembers)
	} else {
		fill = newListFiller(nMembers)
	}
	used := 0
	for i := range states {
		g := &c.groups[c.gi]
		take := min(len(g.Members)-c.mi, nMembers-used)
		st := &states[i]
		st.Id, st.Ready = g.ID, g.Ready
		fill.group(st, g.Members[c.mi:c.mi+take])
		used += take
		c.mi += take
		if c.mi >= len(g.Members) {
			c.gi, c.mi = c.gi+1, 0
		}
		snap.Groups[i] = st
	}
	snap.Last = c.gi >= len(c.groups)
	return snap
}

// memberFiller stores one chunk's members of each group into its
// GroupState, in the layout of the plugin's protocol version, from slabs
// sized for the whole chunk. An invalid address is skipped, never sent.
type memberFiller interface {
	group(st *outputv1.GroupState, ms []Member)
}

// listFiller is protocol 1's layout: GroupState.members.
type listFiller struct {
	members []outputv1.Member
	ptrs    []*outputv1.Member
	addrs   []byte
	m       int
}

func newListFiller(n int) *listFiller {
	return &listFiller{
		members: make([]outputv1.Member, n),
		ptrs:    make([]*outputv1.Member, n),
		addrs:   make([]byte, 0, 16*n),
	}
}

func (f *listFiller) group(st *outputv1.GroupState, ms []Member) {
	first := f.m
	for _, mem := range ms {
		var ok bool
		if f.addrs, ok = fillMember(&f.members[f.m], f.addrs, mem, false); ok {
			f.ptrs[f.m] = &f.members[f.m]
			f.m++
		}
	}
	st.Members = f.ptrs[first:f.m:f.m]
}

// columnFiller is protocol 2's layout: GroupState.addresses, ports,
// weights and expires_unix_micros. The ports and weights columns of a
// group stay empty when all of them are 0 (every member of a group of
// protocol-1 agents).
type columnFiller struct {
	addrs   []byte
	ports   []uint32
	weights []uint32
	expires []int64
}

func newColumnFiller(n int) *columnFiller {
	return &columnFiller{
		addrs:   make([]byte, 0, 16*n),
		ports:   make([]uint32, 0, n),
		weights: make([]uint32, 0, n),
		expires: make([]int64, 0, n),
	}
}

func (f *columnFiller) group(st *outputv1.GroupState, ms []Member) {
	a0, p0, e0 := len(f.addrs), len(f.ports), len(f.expires)
	anyPort, anyWeight := false, false
	for _, mem := range ms {
		if !mem.Addr.IsValid() {
			continue
		}
		b := mem.Addr.As16() // IPv4 as IPv4-mapped, as the protocol says
		f.addrs = append(f.addrs, b[:]...)
		f.ports = append(f.ports, uint32(mem.Port))
		f.weights = append(f.weights, uint32(mem.Weight))
		f.expires = append(f.expires, pluginproto.TimeToMicros(mem.Expires))
		anyPort = anyPort || mem.Port != 0
		anyWeight = anyWeight || mem.Weight != 0
	}
	if len(f.expires) == e0 {
		return
	}
	st.Addresses = f.addrs[a0:len(f.addrs):len(f.addrs)]
	st.ExpiresUnixMicros = f.expires[e0:len(f.expires):len(f.expires)]
	if anyPort {
		st.Ports = f.ports[p0:len(f.ports):len(f.ports)]
	}
	if anyWeight {
		st.Weights = f.weights[p0:len(f.weights):len(f.weights)]
	}
}

// fillMember encodes mem into dst, appending its address bytes to addrs
// (which has room for them), with its port and weight when withPort
// (protocol 2). It reports false for an invalid address.
func fillMember(dst *outputv1.Member, addrs []byte, mem Member, withPort bool) ([]byte, bool) {
	a := mem.Addr.Unmap()
	start := len(addrs)
	switch {
	case a.Is4():
		b := a.As4()
		addrs = append(addrs, b[:]...)
	case a.Is6():
		b := a.As16()
		addrs = append(addrs, b[:]...)
	default:
		return addrs, false
	}
	dst.Address = addrs[start:len(addrs):len(addrs)]
	dst.ExpiresUnixMicros = pluginproto.TimeToMicros(mem.Expires)
	if withPort {
		dst.Port, dst.Weight = uint32(mem.Port), uint32(mem.Weight)
	}
	return addrs, true
}

// encodeEvents encodes events from evs, at most max of them, skipping
// expiry events unless expiry is true and skipping malformed ones; members
// carry their port and weight when withPort (protocol 2). It returns the
// message (nil when nothing was kept) and how many of evs it consumed.
func encodeEvents(evs []Event, max int, expiry, withPort bool) (*outputv1.Events, int) {
	keep := func(e *Event) bool {
		switch e.Kind {
		case EventJoin, EventLeave:
			return e.Member.Addr.IsValid()
		case EventExpiry:
			return expiry && e.Member.Addr.IsValid()
		case EventReady:
			return true
		}
		return false
	}
	n, consumed := 0, 0
	for consumed < len(evs) && n < max {
		if keep(&evs[consumed]) {
			n++
		}
		consumed++
	}
	if n == 0 {
		return nil, consumed
	}
	msg := &outputv1.Events{Events: make([]*outputv1.Event, 0, n)}
	slab := make([]outputv1.Event, n)
	members := make([]outputv1.Member, n)
	addrs := make([]byte, 0, 16*n)
	i := 0
	for k := range evs[:consumed] {
		e := &evs[k]
		if !keep(e) {
			continue
		}
		pe := &slab[i]
		pe.Type = outputv1.EventType(e.Kind)
		pe.Group = e.Group
		if e.Kind != EventReady {
			addrs, _ = fillMember(&members[i], addrs, e.Member, withPort)
			pe.Member = &members[i]
		}
		msg.Events = append(msg.Events, pe)
		i++
	}
	return msg, consumed
}
