package pluginhost

import (
	"net/netip"
	"slices"
	"time"
)

// addrMerger shows a plugin that speaks protocol 1 (built against an SDK
// that predates ports and weights) the groups as it knows them: one member
// per address. Members that share an address on different ports become one
// member with the latest of their expiries; a join of a further port of an
// address already present is at most an expiry update, and the address
// leaves only with its last port.
//
// It keeps, per address of the subscribed groups, the expiry of each of
// its ports: state a protocol-2 plugin does not cost the host.
type addrMerger struct {
	addrs map[groupAddr][]portExpiry
}

type groupAddr struct {
	group uint64
	addr  netip.Addr
}

type portExpiry struct {
	port    uint16
	expires time.Time
}

// latest returns the latest expiry of ps.
func latest(ps []portExpiry) time.Time {
	var t time.Time
	for _, p := range ps {
		if p.expires.After(t) {
			t = p.expires
		}
	}
	return t
}

// snapshot returns groups with the members of each address merged, sorted
// by address, and restarts the merger's state from them. groups is not
// modified.
func (m *addrMerger) snapshot(groups []GroupSnapshot) []GroupSnapshot {
	m.addrs = make(map[groupAddr][]portExpiry)
	out := make([]GroupSnapshot, len(groups))
	for i, g := range groups {
		ms := slices.Clone(g.Members)
		slices.SortFunc(ms, func(a, b Member) int { return a.Addr.Compare(b.Addr) })
		merged := ms[:0]
		for _, mem := range ms {
			k := groupAddr{g.ID, mem.Addr}
			m.addrs[k] = append(m.addrs[k], portExpiry{mem.Port, mem.Expires})
			if n := len(merged); n > 0 && merged[n-1].Addr == mem.Addr {
				if mem.Expires.After(merged[n-1].Expires) {
					merged[n-1].Expires = mem.Expires
				}
				continue
			}
			merged = append(merged, Member{Addr: mem.Addr, Expires: mem.Expires})
		}
		out[i] = GroupSnapshot{ID: g.ID, Ready: g.Ready, Members: merged}
	}
	return out
}

// events rewrites evs in place as a protocol-1 plugin must see them and
// returns the events to send (a prefix of evs).
func (m *addrMerger) events(evs []Event) []Event {
	out := evs[:0]
	for _, e := range evs {
		if e.Kind == EventReady {
			out = append(out, e)
			continue
		}
		if e, ok := m.event(e); ok {
			out = append(out, e)
		}
	}
	return out
}

// event applies one member event and returns what a protocol-1 plugin
// hears of it, if anything.
func (m *addrMerger) event(e Event) (Event, bool) {
	k := groupAddr{e.Group, e.Member.Addr}
	ps := m.addrs[k]
	before := latest(ps)
	i := slices.IndexFunc(ps, func(p portExpiry) bool { return p.port == e.Member.Port })
	v1 := Event{Kind: e.Kind, Group: e.Group, Member: Member{Addr: e.Member.Addr}}
	switch e.Kind {
	case EventJoin, EventExpiry:
		if i < 0 {
			ps = append(ps, portExpiry{e.Member.Port, e.Member.Expires})
		} else {
			ps[i].expires = e.Member.Expires
		}
		m.addrs[k] = ps
		after := latest(ps)
		switch {
		case len(ps) == 1 && i < 0:
			v1.Kind = EventJoin // the address is new
		case e.Kind == EventExpiry || after.After(before):
			// A member of a present address moved: the address's expiry
			// is the latest of its ports'.
			v1.Kind = EventExpiry
		default:
			return Event{}, false // a further port that expires earlier
		}
		v1.Member.Expires = after
		return v1, true
	case EventLeave:
		if i < 0 {
			return Event{}, false
		}
		ps = slices.Delete(ps, i, i+1)
		if len(ps) > 0 {
			m.addrs[k] = ps
			return Event{}, false // the address stays on another port
		}
		delete(m.addrs, k)
		v1.Member.Expires = e.Member.Expires
		return v1, true
	}
	return Event{}, false
}
