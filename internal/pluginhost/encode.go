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
	members := make([]outputv1.Member, nMembers)
	ptrs := make([]*outputv1.Member, nMembers)
	addrs := make([]byte, 0, 16*nMembers)
	used, m := 0, 0
	for i := range states {
		g := &c.groups[c.gi]
		take := min(len(g.Members)-c.mi, nMembers-used)
		first := m
		for _, mem := range g.Members[c.mi : c.mi+take] {
			var ok bool
			if addrs, ok = fillMember(&members[m], addrs, mem); ok {
				ptrs[m] = &members[m]
				m++
			} // an invalid address is skipped, never sent
		}
		used += take
		c.mi += take
		if c.mi >= len(g.Members) {
			c.gi, c.mi = c.gi+1, 0
		}
		st := &states[i]
		st.Id, st.Ready, st.Members = g.ID, g.Ready, ptrs[first:m:m]
		snap.Groups[i] = st
	}
	snap.Last = c.gi >= len(c.groups)
	return snap
}

// fillMember encodes mem into dst, appending its address bytes to addrs
// (which has room for them). It reports false for an invalid address.
func fillMember(dst *outputv1.Member, addrs []byte, mem Member) ([]byte, bool) {
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
	return addrs, true
}

// encodeEvents encodes events from evs, at most max of them, skipping
// expiry events unless expiry is true and skipping malformed ones. It
// returns the message (nil when nothing was kept) and how many of evs it
// consumed.
func encodeEvents(evs []Event, max int, expiry bool) (*outputv1.Events, int) {
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
			addrs, _ = fillMember(&members[i], addrs, e.Member)
			pe.Member = &members[i]
		}
		msg.Events = append(msg.Events, pe)
		i++
	}
	return msg, consumed
}
