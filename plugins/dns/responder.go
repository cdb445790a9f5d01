package dns

import (
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	miekg "github.com/miekg/dns"
	"github.com/rgap-project/rgap/sdk"
)

// groups is the part of the group mirror the responder reads; *sdk.Mirror
// satisfies it. Members must not allocate: it is called once per query.
type groups interface {
	Members(group uint64) []sdk.Member
	Ready(group uint64) bool
}

// Message size limits, in bytes.
const (
	// minUDPSize is what a client without EDNS0 can receive (RFC 1035).
	minUDPSize = 512
	// maxUDPSize caps an EDNS0 client's advertised size. Larger answers
	// fragment on real networks and make the server a better amplifier for
	// spoofed queries; 4096 still holds about 250 IPv4 or 145 IPv6 members.
	// It is also the size we advertise and read queries with.
	maxUDPSize = 4096
	// maxTCPSize is the largest DNS message (the TCP length prefix is 16 bits).
	maxTCPSize = miekg.MaxMsgSize
	// maxNameLen is the longest presentation-format name that can match a
	// configured one (255 octets on the wire, no escapes).
	maxNameLen = 254

	headerLen  = 12 // DNS message header
	optLen     = 11 // OPT record without options: root name, type, class, TTL, rdlength
	rrFixedLen = 10 // type, class, TTL and rdlength of a resource record
	pointerLen = 2  // a compressed owner name pointing at the question's name
)

// responder answers queries for the configured names. One responder serves
// both the UDP and the TCP server; it is safe for concurrent use.
type responder struct {
	names         map[string]*mapping
	groups        groups
	log           hclog.Logger
	compress      bool
	authoritative bool
	logQueries    bool

	// now and intn are the clock and the shuffle's randomness, replaceable
	// by tests. intn must be safe for concurrent use.
	now  func() time.Time
	intn func(n int) int

	stats stats
	pool  sync.Pool // of *scratch
}

// candidate is an address (with the port and weight of an SRV record) that
// may go into an answer.
type candidate struct {
	addr   netip.Addr
	port   uint16
	weight uint16
	ttl    uint32
}

// scratch holds everything one response needs, reused across queries so
// that answering allocates nothing in the steady state.
type scratch struct {
	msg   miekg.Msg
	opt   miekg.OPT
	extra [1]miekg.RR
	cand  []candidate
	a     []miekg.A
	aaaa  []miekg.AAAA
	ip    []byte // rdata of the records in a and aaaa, 16 bytes a slot
	rrs   []miekg.RR
	buf   []byte // wire form of the response

	// SRV answers: the records, the runs of s.cand that share an address
	// (one target each), the additional section and the target names.
	srv   []miekg.SRV
	units []unit
	addl  []miekg.RR
	names []byte
}

func newResponder(set *settings, g groups, log hclog.Logger) *responder {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &responder{
		names:         set.names,
		groups:        g,
		log:           log,
		compress:      set.compress,
		authoritative: set.authoritative,
		logQueries:    set.logQueries,
		now:           time.Now,
		intn:          rand.IntN,
		pool:          sync.Pool{New: func() any { return new(scratch) }},
	}
}

// handler adapts a responder to one transport's miekg/dns server.
type handler struct {
	r      *responder
	stream bool // TCP: no EDNS0 size limit, the full answer always fits
}

// ServeDNS implements miekg.Handler.
func (h handler) ServeDNS(w miekg.ResponseWriter, req *miekg.Msg) { h.r.serve(w, req, h.stream) }

// accept is the servers' MsgAcceptFunc: it runs on the bare header, before
// the rest of the message is parsed. Responses are ignored, opcodes other
// than QUERY get NOTIMP, and a question count other than one (or more
// records than a query carries) gets FORMERR from miekg/dns.
func (r *responder) accept(dh miekg.Header) miekg.MsgAcceptAction {
	const qr = 1 << 15
	switch {
	case dh.Bits&qr != 0:
		r.stats.ignored.Add(1)
		return miekg.MsgIgnore
	case int(dh.Bits>>11)&0xF != miekg.OpcodeQuery:
		r.stats.notimp.Add(1)
		return miekg.MsgRejectNotImplemented
	case dh.Qdcount != 1 || dh.Ancount > 1 || dh.Nscount > 1 || dh.Arcount > 2:
		r.stats.formerr.Add(1)
		return miekg.MsgReject
	}
	return miekg.MsgAccept
}

// invalid is the servers' MsgInvalidFunc: a datagram shorter than a header
// (dropped) or a message whose body does not parse (answered FORMERR by
// miekg/dns when its ID could be read).
func (r *responder) invalid(m []byte, err error) {
	r.stats.malformed.Add(1)
	if r.log.IsTrace() {
		r.log.Trace("malformed query", "bytes", len(m), "error", err)
	}
}

// serve answers one parsed query. It re-checks what accept checks, so that
// it is safe to call on any message (the fuzz target does).
func (r *responder) serve(w miekg.ResponseWriter, req *miekg.Msg, stream bool) {
	defer func() {
		if v := recover(); v != nil {
			r.stats.panics.Add(1)
			r.log.Error("bug: panic while answering a DNS query; query dropped", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	if req.Response {
		r.stats.ignored.Add(1)
		return
	}
	s := r.pool.Get().(*scratch)
	opt, nOPT := findOPT(req.Extra)
	limit := maxTCPSize
	if !stream {
		limit = udpLimit(opt)
	}

	s.msg = miekg.Msg{
		MsgHdr: miekg.MsgHdr{
			Id:               req.Id,
			Response:         true,
			Opcode:           req.Opcode,
			RecursionDesired: req.RecursionDesired,
			CheckingDisabled: req.CheckingDisabled,
		},
		Compress: r.compress,
	}
	fixed := headerLen
	if opt != nil {
		s.opt = miekg.OPT{Hdr: miekg.RR_Header{Name: ".", Rrtype: miekg.TypeOPT}}
		s.opt.SetUDPSize(maxUDPSize)
		s.extra[0] = &s.opt
		s.msg.Extra = s.extra[:]
		fixed += optLen
	}
	packLen := fixed
	switch {
	case req.Opcode != miekg.OpcodeQuery:
		s.msg.Rcode = miekg.RcodeNotImplemented
	case len(req.Question) != 1 || nOPT > 1:
		s.msg.Rcode = miekg.RcodeFormatError
	default:
		q := req.Question[0]
		s.msg.Question = req.Question
		fixed += nameWireLen(q.Name) + 4
		if opt != nil && opt.Version() != 0 {
			s.msg.Rcode = miekg.RcodeBadVers
		} else {
			packLen = fixed + r.answer(s, q, limit-fixed)
		}
		packLen = max(packLen, fixed)
	}

	if len(s.buf) <= packLen { // miekg/dns wants one spare byte
		s.buf = make([]byte, max(packLen+1, minUDPSize))
	}
	out, err := s.msg.PackBuffer(s.buf)
	if err == nil {
		_, err = w.Write(out)
	}
	r.stats.count(s.msg.Rcode, len(s.msg.Answer), err)
	if err != nil && r.log.IsDebug() {
		r.log.Debug("could not send a DNS response", "id", req.Id, "error", err)
	}
	if r.logQueries && r.log.IsDebug() {
		r.logQuery(w, req, &s.msg, stream, err)
	}
	s.msg = miekg.Msg{} // drop references to the request
	r.pool.Put(s)
}

// answer fills s.msg for question q, whose answer records may take budget
// bytes, and returns the uncompressed size of those records.
func (r *responder) answer(s *scratch, q miekg.Question, budget int) int {
	if q.Qclass != miekg.ClassINET && q.Qclass != miekg.ClassANY {
		s.msg.Rcode = miekg.RcodeRefused // we hold no data in other classes
		return 0
	}
	m, kind, target := r.resolve(q.Name)
	if m == nil {
		s.msg.Rcode = miekg.RcodeRefused // not a name we are authoritative for
		return 0
	}
	if q.Qtype == miekg.TypeAXFR || q.Qtype == miekg.TypeIXFR {
		s.msg.Rcode = miekg.RcodeNotImplemented // there is no zone to transfer
		return 0
	}
	wantA, wantAAAA, wantSRV := wanted(kind, q.Qtype)
	if !wantA && !wantAAAA && !wantSRV {
		s.msg.Authoritative = r.authoritative // NODATA: the name exists, the type does not
		return 0
	}
	if !r.groups.Ready(m.group) {
		s.msg.Rcode = miekg.RcodeServerFailure // resolvers keep their last good answer
		return 0
	}
	s.msg.Authoritative = r.authoritative
	switch kind {
	case nameService:
		return r.answerSRV(s, q.Name, m, budget)
	case nameTarget:
		return r.answerTarget(s, q.Name, m, target, wantA, wantAAAA, budget)
	}

	s.cand = s.cand[:0]
	if members := r.groups.Members(m.group); len(members) > 0 {
		now := r.now()
		for i := range members {
			a := members[i].Addr.Unmap()
			if a.Is4() && wantA || a.Is6() && wantAAAA {
				s.cand = append(s.cand, candidate{addr: a, ttl: ttlUntil(members[i].Expires, now)})
			}
		}
		s.cand = dedupe(s.cand, false) // one record per address, whatever its ports
	} else {
		for _, a := range m.fallback {
			if a.Is4() && wantA || a.Is6() && wantAAAA {
				s.cand = append(s.cand, candidate{addr: a}) // TTL 0: ask again soon
			}
		}
	}
	return r.fill(s, q.Name, budget)
}

// fill puts a random order of the candidates in s.msg.Answer, as many as fit
// in budget bytes, and returns their uncompressed size. It is a partial
// Fisher-Yates shuffle: each step draws one of the candidates not yet
// placed, so an answer cut short by the budget is a uniform random subset.
func (r *responder) fill(s *scratch, owner string, budget int) int {
	n := len(s.cand)
	if n == 0 {
		return 0
	}
	fullName := nameWireLen(owner)
	name := fullName
	if r.compress {
		name = pointerLen // every owner is the question's name
	}
	sizeA, sizeAAAA := name+rrFixedLen+net.IPv4len, name+rrFixedLen+net.IPv6len
	s.a = resize(s.a, n)
	s.aaaa = resize(s.aaaa, n)
	s.ip = resize(s.ip, n*net.IPv6len)
	s.rrs = resize(s.rrs, n)[:0]
	uncompressed := 0
	for i := 0; i < n && budget >= sizeA; i++ {
		if left := n - i; left > 1 {
			j := i + r.intn(left)
			s.cand[i], s.cand[j] = s.cand[j], s.cand[i]
		}
		c := s.cand[i]
		size, addrLen := sizeA, net.IPv4len
		if !c.addr.Is4() {
			if sizeAAAA > budget {
				continue // an A record may still fit
			}
			size, addrLen = sizeAAAA, net.IPv6len
		}
		budget -= size
		uncompressed += fullName + rrFixedLen + addrLen
		s.rrs = append(s.rrs, addressRR(s, len(s.rrs), owner, c.addr, c.ttl))
	}
	s.msg.Answer = s.rrs
	if len(s.rrs) < n {
		r.stats.truncated.Add(1)
	}
	return uncompressed
}

// lookup finds the mapping of a configured name, ignoring ASCII case,
// without allocating.
func (r *responder) lookup(name string) *mapping {
	if m, kind, _ := r.resolve(name); kind == nameMapped {
		return m
	}
	return nil
}

func (r *responder) logQuery(w miekg.ResponseWriter, req *miekg.Msg, resp *miekg.Msg, stream bool, err error) {
	transport := "udp"
	if stream {
		transport = "tcp"
	}
	kv := []any{"id", req.Id, "transport", transport, "rcode", miekg.RcodeToString[resp.Rcode], "answers", len(resp.Answer)}
	if len(req.Question) == 1 {
		q := req.Question[0]
		kv = append(kv, "name", q.Name, "type", miekg.TypeToString[q.Qtype])
	}
	if a := w.RemoteAddr(); a != nil {
		kv = append(kv, "remote", a.String())
	}
	if err != nil {
		kv = append(kv, "error", err)
	}
	r.log.Debug("dns query", kv...)
}

// findOPT returns the query's OPT record and how many it carries (more than
// one is a format error, RFC 6891 section 6.1.1).
func findOPT(extra []miekg.RR) (opt *miekg.OPT, n int) {
	for _, rr := range extra {
		if o, ok := rr.(*miekg.OPT); ok {
			opt = o
			n++
		}
	}
	return opt, n
}

// udpLimit is the largest UDP response the client can take.
func udpLimit(opt *miekg.OPT) int {
	if opt == nil {
		return minUDPSize
	}
	return min(max(int(opt.UDPSize()), minUDPSize), maxUDPSize)
}

// nameWireLen is the wire length of a presentation-format, fully qualified
// name. Escapes make the wire form shorter, so for such names it is an upper
// bound, which keeps the size arithmetic on the safe side.
func nameWireLen(name string) int {
	if name == "." {
		return 1
	}
	return len(name) + 1
}

// ttlUntil is the whole number of seconds from now until expires, rounded
// down: a member that expires in 0.4s gets TTL 0.
func ttlUntil(expires, now time.Time) uint32 {
	d := expires.Sub(now)
	if d <= 0 {
		return 0
	}
	return uint32(min(d/time.Second, math.MaxInt32)) // RFC 2181: at most 2^31-1
}

// resize returns s with length n, reusing its array when it is big enough.
// The contents are not preserved.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
