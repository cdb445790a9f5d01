package dns

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"unsafe"

	miekg "github.com/miekg/dns"
)

// nameKind says what a query name is to the responder.
type nameKind int

const (
	// nameMapped is a configured name: A and AAAA answers.
	nameMapped nameKind = iota
	// nameService is _SERVICE._PROTO.NAME of a configured NAME: SRV
	// answers, whatever the service and protocol labels say.
	nameService
	// nameTarget is LABEL.NAME, the target of an SRV record: the address
	// that LABEL spells, while it is a member of NAME's group.
	nameTarget
)

// srvRdataFixed is the priority, weight and port of an SRV record's data.
const srvRdataFixed = 6

// maxTargetLabel is the longest label targetLabel writes (an IPv6 address in
// hex; an IPv4 address takes at most 15).
const maxTargetLabel = 2 * net.IPv6len

// wanted says which records a query of qtype for a name of kind asks for;
// none of them means NODATA.
func wanted(kind nameKind, qtype uint16) (a, aaaa, srv bool) {
	if kind == nameService {
		srv = qtype == miekg.TypeSRV || qtype == miekg.TypeANY
		return false, false, srv
	}
	switch qtype {
	case miekg.TypeA:
		return true, false, false
	case miekg.TypeAAAA:
		return false, true, false
	case miekg.TypeANY:
		return true, true, false
	}
	return false, false, false
}

// resolve finds the mapping a query name belongs to and what the name is to
// it, ignoring ASCII case, without allocating. target is the address a
// nameTarget spells. m is nil for a name that is none of ours.
func (r *responder) resolve(name string) (m *mapping, kind nameKind, target netip.Addr) {
	if len(name) > maxNameLen {
		return nil, 0, netip.Addr{}
	}
	var buf [maxNameLen]byte
	n := copy(buf[:], name)
	for i := range n {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + ('a' - 'A')
		}
	}
	if m := r.names[string(buf[:n])]; m != nil {
		return m, nameMapped, netip.Addr{}
	}
	first := labelEnd(buf[:n], 0)
	if first <= 0 {
		return nil, 0, netip.Addr{}
	}
	if buf[0] == '_' {
		second := labelEnd(buf[:n], first+1)
		if second <= first+1 || buf[first+1] != '_' {
			return nil, 0, netip.Addr{}
		}
		if m := r.names[string(buf[second+1:n])]; m != nil {
			return m, nameService, netip.Addr{}
		}
		return nil, 0, netip.Addr{}
	}
	a, ok := parseTargetLabel(buf[:first])
	if !ok {
		return nil, 0, netip.Addr{}
	}
	if m := r.names[string(buf[first+1:n])]; m != nil {
		return m, nameTarget, a
	}
	return nil, 0, netip.Addr{}
}

// labelEnd is the index of the dot that ends the label starting at from, or
// -1 when there is none or the label holds an escape (which the names this
// server answers never do).
func labelEnd(name []byte, from int) int {
	for i := from; i < len(name); i++ {
		switch name[i] {
		case '.':
			return i
		case '\\':
			return -1
		}
	}
	return -1
}

// appendTargetLabel appends the label that names address a in SRV targets:
// an IPv4 address with dashes for dots (192-0-2-1), an IPv6 address as its
// 32 hex digits. Each address has exactly one label, and parseTargetLabel
// reads it back.
func appendTargetLabel(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		for i, o := range a.As4() {
			if i > 0 {
				b = append(b, '-')
			}
			b = strconv.AppendUint(b, uint64(o), 10)
		}
		return b
	}
	const digits = "0123456789abcdef"
	for _, o := range a.As16() {
		b = append(b, digits[o>>4], digits[o&0xf])
	}
	return b
}

// parseTargetLabel reads a label written by appendTargetLabel (in lower
// case); any other spelling of an address is refused, so that a member has
// one target name.
func parseTargetLabel(l []byte) (netip.Addr, bool) {
	if len(l) == maxTargetLabel {
		var v [16]byte
		for i, c := range l {
			var d byte
			switch {
			case '0' <= c && c <= '9':
				d = c - '0'
			case 'a' <= c && c <= 'f':
				d = c - 'a' + 10
			default:
				return netip.Addr{}, false
			}
			v[i/2] |= d << (4 * (1 - i%2))
		}
		a := netip.AddrFrom16(v)
		return a, !a.Is4In6()
	}
	var v [4]byte
	part, digits, val := 0, 0, 0
	for i := 0; i <= len(l); i++ {
		if i == len(l) || l[i] == '-' {
			if digits == 0 || part > 3 {
				return netip.Addr{}, false
			}
			v[part] = byte(val)
			part, digits, val = part+1, 0, 0
			continue
		}
		c := l[i]
		if c < '0' || c > '9' || digits > 0 && val == 0 { // no leading zeros
			return netip.Addr{}, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return netip.Addr{}, false
		}
	}
	if part != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(v), true
}

// srvWeight maps a member's weight (1 to 65535; a member without one counts
// as 1) to an SRV weight that keeps the ratios for HAProxy, which makes SRV
// weight w a server weight of (w+255)/256, and for clients that use SRV
// weights as they are (nginx): weights up to 255 are multiplied by 256
// (HAProxy then sees the member's own weight); when the group's largest
// weight top is above 255, every weight is first scaled to 1..255 as
// round(w*255/top).
func srvWeight(w, top uint16) uint16 {
	w = max(w, 1)
	if top > 255 {
		w = uint16(max((uint32(w)*255+uint32(top)/2)/uint32(top), 1))
	}
	return w * 256
}

// unit is a run of s.cand that shares one address: its SRV records all
// name one target, whose address record goes in the additional section.
type unit struct{ start, end int }

// answerSRV fills s.msg with SRV records for the members of m's group that
// have a port (their own, or m.port), and their targets' address records in
// the additional section, as many members as fit in budget bytes, chosen at
// random; it returns the uncompressed size of those records. A member's
// records go in whole or not at all.
func (r *responder) answerSRV(s *scratch, owner string, m *mapping, budget int) int {
	top := r.srvCandidates(s, m)
	if len(s.cand) == 0 {
		return 0
	}
	fullOwner := nameWireLen(owner)
	ownerLen := fullOwner
	if r.compress {
		ownerLen = pointerLen // every owner is the question's name
	}
	// With compression, an address record's owner points at the SRV
	// target before it (miekg/dns never compresses the target itself, as
	// RFC 2782 asks, but remembers it for later names).
	nu := len(s.units)
	s.sizeSRV(nu, len(m.name))
	// The smallest a member can be: one SRV record and an IPv4 target
	// label of 7 characters (0-0-0-0); below it, nothing more fits.
	smallest := ownerLen + rrFixedLen + srvRdataFixed + 2*(len("0-0-0-0.")+nameWireLen(m.name)) + rrFixedLen + net.IPv4len
	if r.compress {
		smallest -= len("0-0-0-0.") + nameWireLen(m.name) - pointerLen
	}
	uncompressed, placed := 0, 0
	for i := 0; i < nu && budget >= smallest; i++ {
		if left := nu - i; left > 1 {
			j := i + r.intn(left)
			s.units[i], s.units[j] = s.units[j], s.units[i]
		}
		u := s.units[i]
		a := s.cand[u.start].addr
		start := len(s.names)
		s.names = appendTargetLabel(s.names, a)
		s.names = append(s.names, '.')
		s.names = append(s.names, m.name...)
		target := unsafe.String(&s.names[start], len(s.names)-start)
		targetLen := nameWireLen(target)
		addrLen := net.IPv4len
		if a.Is6() {
			addrLen = net.IPv6len
		}
		if targetLen > maxNameLen+1 {
			s.names = s.names[:start]
			continue // NAME is too long to hold this address's label
		}
		records := u.end - u.start
		glue := targetLen + rrFixedLen + addrLen
		glueLen := glue
		if r.compress {
			glueLen = pointerLen + rrFixedLen + addrLen
		}
		if size := records*(ownerLen+rrFixedLen+srvRdataFixed+targetLen) + glueLen; size > budget {
			s.names = s.names[:start]
			continue // a member with fewer ports may still fit
		} else {
			budget -= size
		}
		uncompressed += records*(fullOwner+rrFixedLen+srvRdataFixed+targetLen) + glue
		ttl := s.appendSRVs(u, owner, target, top)
		s.addl = append(s.addl, addressRR(s, placed, target, a, ttl))
		placed++
	}
	s.msg.Answer = s.rrs
	s.msg.Extra = append(s.addl, s.msg.Extra...) // the OPT record, if any, last
	if placed < nu {
		r.stats.truncated.Add(1)
	}
	return uncompressed
}

// srvCandidates fills s.cand with the (address, port) pairs of m's group
// that have a port (their own, or m.port), or of m's fallback addresses
// when the group has no member, sorted and without repeats, and s.units
// with their runs by address. It returns the largest weight.
func (r *responder) srvCandidates(s *scratch, m *mapping) (top uint16) {
	s.cand = s.cand[:0]
	if members := r.groups.Members(m.group); len(members) > 0 {
		now := r.now()
		for i := range members {
			port := members[i].Port
			if port == 0 {
				port = m.port
			}
			if port != 0 && members[i].Addr.IsValid() {
				s.cand = append(s.cand, candidate{addr: members[i].Addr.Unmap(), port: port,
					weight: max(members[i].Weight, 1), ttl: ttlUntil(members[i].Expires, now)})
			}
		}
		s.cand = dedupe(s.cand, true)
	} else if m.port != 0 {
		for _, a := range m.fallback {
			s.cand = append(s.cand, candidate{addr: a, port: m.port, weight: 1}) // TTL 0: ask again soon
		}
		s.cand = dedupe(s.cand, true)
	}
	s.units = s.units[:0]
	for i, c := range s.cand {
		top = max(top, c.weight)
		if i == 0 || c.addr != s.cand[i-1].addr {
			s.units = append(s.units, unit{start: i})
		}
		s.units[len(s.units)-1].end = i + 1
	}
	return top
}

// sizeSRV sizes s's buffers for an SRV answer of nu targets below a name
// of nameLen characters. The target names are built in s.names and handed
// to the records without copying: the buffer is sized first so that it
// never moves while the records point into it.
func (s *scratch) sizeSRV(nu, nameLen int) {
	s.names = resize(s.names, nu*(maxTargetLabel+1+nameLen))[:0]
	s.srv = resize(s.srv, len(s.cand))
	s.a = resize(s.a, nu)
	s.aaaa = resize(s.aaaa, nu)
	s.ip = resize(s.ip, nu*net.IPv6len)
	s.rrs = resize(s.rrs, len(s.cand))[:0]
	s.addl = resize(s.addl, nu+len(s.msg.Extra))[:0]
}

// appendSRVs appends to s.rrs one SRV record for owner per candidate of
// unit u, all naming target, and returns the largest of their TTLs (the
// TTL of target's address record).
func (s *scratch) appendSRVs(u unit, owner, target string, top uint16) (ttl uint32) {
	for _, c := range s.cand[u.start:u.end] {
		k := len(s.rrs)
		s.srv[k] = miekg.SRV{
			Hdr:    miekg.RR_Header{Name: owner, Rrtype: miekg.TypeSRV, Class: miekg.ClassINET, Ttl: c.ttl},
			Weight: srvWeight(c.weight, top),
			Port:   c.port,
			Target: target,
		}
		s.rrs = append(s.rrs, &s.srv[k])
		ttl = max(ttl, c.ttl)
	}
	return ttl
}

// addressRR fills slot k of s's A or AAAA records with address a for owner
// and returns it.
func addressRR(s *scratch, k int, owner string, a netip.Addr, ttl uint32) miekg.RR {
	ip := s.ip[k*net.IPv6len : (k+1)*net.IPv6len]
	hdr := miekg.RR_Header{Name: owner, Class: miekg.ClassINET, Ttl: ttl}
	if a.Is4() {
		b := a.As4()
		hdr.Rrtype = miekg.TypeA
		s.a[k] = miekg.A{Hdr: hdr, A: net.IP(ip[:copy(ip, b[:])])}
		return &s.a[k]
	}
	b := a.As16()
	hdr.Rrtype = miekg.TypeAAAA
	s.aaaa[k] = miekg.AAAA{Hdr: hdr, AAAA: net.IP(ip[:copy(ip, b[:])])}
	return &s.aaaa[k]
}

// answerTarget answers an address query for the target name of address a:
// the address, while it is a member of m's group (with the longest TTL of
// its ports); NODATA otherwise.
func (r *responder) answerTarget(s *scratch, owner string, m *mapping, a netip.Addr, wantA, wantAAAA bool, budget int) int {
	s.cand = s.cand[:0]
	if (!a.Is4() || !wantA) && (!a.Is6() || !wantAAAA) {
		return 0
	}
	members := r.groups.Members(m.group)
	found := false
	var ttl uint32
	now := r.now()
	for i := range members {
		if members[i].Addr.Unmap() == a {
			found = true
			ttl = max(ttl, ttlUntil(members[i].Expires, now))
		}
	}
	if !found {
		return 0
	}
	s.cand = append(s.cand, candidate{addr: a, ttl: ttl})
	return r.fill(s, owner, budget)
}

// dedupe sorts c by address (and port, with ports) and keeps one candidate
// per address (per address and port, with ports): the one with the longest
// TTL, the freshest news of a member. It works in place.
func dedupe(c []candidate, ports bool) []candidate {
	if len(c) < 2 {
		return c
	}
	key := func(x, y candidate) int {
		if d := x.addr.Compare(y.addr); d != 0 || !ports {
			return d
		}
		return cmp.Compare(x.port, y.port)
	}
	ascending := true // the mirror hands members out sorted: check that first
	for i := 1; i < len(c) && ascending; i++ {
		ascending = key(c[i-1], c[i]) < 0
	}
	if ascending {
		return c // sorted and without duplicates already
	}
	slices.SortFunc(c, func(x, y candidate) int {
		if d := key(x, y); d != 0 {
			return d
		}
		return -cmp.Compare(x.ttl, y.ttl) // longest TTL first, kept by Compact
	})
	return slices.CompactFunc(c, func(x, y candidate) bool { return key(x, y) == 0 })
}
