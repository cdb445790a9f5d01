package pluginhost

import (
	"net/netip"
	"slices"
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

// addrMerger shows a plugin that speaks protocol 1 (built against an SDK
// that predates ports and weights) the groups as it knows them: one member
// per address. Members that share an address on different ports become one
// member with the latest of their expiries; a join of a further port of an
// address already present is at most an expiry update, and the address
// leaves only with its last port.
//
// It keeps, per address of the subscribed groups, the expiry of each of
// its ports: state a protocol-2 plugin does not cost the host. The map is
// pointer-free for the common address with one port (no allocation per
// address, little for the collector to scan).
type addrMerger struct {
	addrs map[groupAddr]ports
}

type groupAddr struct {
	group uint64
	addr  [16]byte
}

// ports are the ports of one address: one, and rarely more.
type ports struct {
	one  portExpiry
	more []portExpiry
}

type portExpiry struct {
	port    uint16
	expires int64 // Unix nanoseconds
}

func mergeKey(id uint64, a netip.Addr) groupAddr { return groupAddr{id, a.As16()} }

// list returns the ports as one slice (sharing more when there are several).
func (ps ports) list() []portExpiry {
	if len(ps.more) > 0 {
		return ps.more
	}
	return []portExpiry{ps.one}
}

func fromList(l []portExpiry) ports {
	if len(l) == 1 {
		return ports{one: l[0]}
	}
	return ports{more: l}
}

// latest returns the latest expiry of ps.
func latest(ps []portExpiry) int64 {
	var t int64
	for i, p := range ps {
		if i == 0 || p.expires > t {
			t = p.expires
		}
	}
	return t
}

func unixNano(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// snapshot returns groups with the members of each address merged, sorted
// by address, and restarts the merger's state from them. groups is not
// modified.
func (m *addrMerger) snapshot(groups []group.GroupSnapshot) []group.GroupSnapshot {
	total := 0
	for _, g := range groups {
		total += len(g.Members)
	}
	m.addrs = make(map[groupAddr]ports, total)
	out := make([]group.GroupSnapshot, len(groups))
	for i, g := range groups {
		ms := g.Members
		byAddr := func(a, b group.Member) int { return a.Addr.Compare(b.Addr) }
		if !slices.IsSortedFunc(ms, byAddr) {
			ms = slices.Clone(ms)
			slices.SortFunc(ms, byAddr)
		}
		merged := make([]group.Member, 0, len(ms))
		for _, mem := range ms {
			k := mergeKey(g.ID, mem.Addr)
			pe := portExpiry{mem.Port, mem.Expires.UnixNano()}
			if n := len(merged); n > 0 && merged[n-1].Addr == mem.Addr {
				m.addrs[k] = fromList(append(m.addrs[k].list(), pe))
				if mem.Expires.After(merged[n-1].Expires) {
					merged[n-1].Expires = mem.Expires
				}
				continue
			}
			m.addrs[k] = ports{one: pe}
			merged = append(merged, group.Member{Addr: mem.Addr, Expires: mem.Expires})
		}
		out[i] = group.GroupSnapshot{ID: g.ID, Ready: g.Ready, Members: merged}
	}
	return out
}

// events rewrites evs in place as a protocol-1 plugin must see them and
// returns the events to send (a prefix of evs).
func (m *addrMerger) events(evs []group.Event) []group.Event {
	out := evs[:0]
	for _, e := range evs {
		if e.Kind == group.Ready {
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
func (m *addrMerger) event(e group.Event) (group.Event, bool) {
	k := mergeKey(e.Group, e.Member.Addr)
	cur, present := m.addrs[k]
	var ps []portExpiry
	if present {
		ps = slices.Clone(cur.list())
	}
	before := latest(ps)
	i := slices.IndexFunc(ps, func(p portExpiry) bool { return p.port == e.Member.Port })
	v1 := group.Event{Seq: e.Seq, Kind: e.Kind, Group: e.Group, Member: group.Member{Addr: e.Member.Addr}}
	switch e.Kind {
	case group.Join, group.Expiry:
		exp := e.Member.Expires.UnixNano()
		if i < 0 {
			ps = append(ps, portExpiry{e.Member.Port, exp})
		} else {
			ps[i].expires = exp
		}
		m.addrs[k] = fromList(ps)
		after := latest(ps)
		switch {
		case !present:
			v1.Kind = group.Join // the address is new
		case e.Kind == group.Expiry || after > before:
			// A member of a present address moved: the address's expiry
			// is the latest of its ports'.
			v1.Kind = group.Expiry
		default:
			return group.Event{}, false // a further port that expires earlier
		}
		v1.Member.Expires = unixNano(after)
		return v1, true
	case group.Leave:
		if i < 0 {
			return group.Event{}, false
		}
		ps = slices.Delete(ps, i, i+1)
		if len(ps) > 0 {
			m.addrs[k] = fromList(ps)
			return group.Event{}, false // the address stays on another port
		}
		delete(m.addrs, k)
		v1.Member.Expires = e.Member.Expires
		return v1, true
	}
	return group.Event{}, false
}
