package dns

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
)

// responseCase is a query and what a client must see in the response.
type responseCase struct {
	name      string
	q         func() *miekg.Msg
	noReply   bool
	rcode     int
	aa        bool
	addrs     []string          // sorted; nil means no answer
	ttls      map[string]uint32 // address -> TTL, when checked
	wantOPT   bool
	owner     string // expected owner name of the answers, if not the question's
	questions int    // expected question count in the response (default 1)
}

func withQ(name string, qtype uint16) func() *miekg.Msg {
	return func() *miekg.Msg { return query(name, qtype, 0) }
}

// editedQ is withQ with an EDNS0 buffer size (0: no OPT record) and the
// query then changed by edit.
func editedQ(name string, qtype, ednsSize uint16, edit func(*miekg.Msg)) func() *miekg.Msg {
	return func() *miekg.Msg {
		m := query(name, qtype, ednsSize)
		edit(m)
		return m
	}
}

// responseCases covers every rcode and answer rule. The answers and TTLs
// follow from testResponder's groups and clock.
var responseCases = []responseCase{
	{
		name:  "A answers the IPv4 members with their TTLs",
		q:     withQ("worker.example.com.", miekg.TypeA),
		aa:    true,
		addrs: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		ttls:  map[string]uint32{"192.0.2.1": 10, "192.0.2.2": 3, "192.0.2.3": 0},
	},
	{
		name:  "AAAA answers the IPv6 members",
		q:     withQ("worker.example.com.", miekg.TypeAAAA),
		aa:    true,
		addrs: []string{"2001:db8::1"},
		ttls:  map[string]uint32{"2001:db8::1": 7},
	},
	{
		name:  "ANY answers both families",
		q:     withQ("worker.example.com.", miekg.TypeANY),
		aa:    true,
		addrs: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"},
	},
	{
		name:  "names ignore case and the answer echoes the asked spelling",
		q:     withQ("WORKER.Example.COM.", miekg.TypeA),
		aa:    true,
		addrs: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		owner: "WORKER.Example.COM.",
	},
	{
		name:  "a name configured in capitals with a trailing dot",
		q:     withQ("mixed.example.org.", miekg.TypeA),
		aa:    true,
		addrs: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
	},
	{
		name: "other types of a mapped name are NODATA",
		q:    withQ("worker.example.com.", miekg.TypeMX),
		aa:   true,
	},
	{
		name: "TXT of a mapped name is NODATA",
		q:    withQ("worker.example.com.", miekg.TypeTXT),
		aa:   true,
	},
	{
		name:  "empty group answers the fallbacks of the asked family with TTL 0",
		q:     withQ("empty.example.com.", miekg.TypeA),
		aa:    true,
		addrs: []string{"1.2.3.4", "5.6.7.8"},
		ttls:  map[string]uint32{"1.2.3.4": 0, "5.6.7.8": 0},
	},
	{
		name:  "empty group, IPv6 fallback",
		q:     withQ("empty.example.com.", miekg.TypeAAAA),
		aa:    true,
		addrs: []string{"2001:db8::53"},
		ttls:  map[string]uint32{"2001:db8::53": 0},
	},
	{
		name: "empty group without a fallback of the asked family is NODATA",
		q:    withQ("empty4.example.com.", miekg.TypeAAAA),
		aa:   true,
	},
	{
		name: "empty group without fallbacks is NODATA",
		q:    withQ("bare.example.com.", miekg.TypeA),
		aa:   true,
	},
	{
		name:  "group not ready is SERVFAIL, without fallbacks",
		q:     withQ("notready.example.com.", miekg.TypeA),
		rcode: miekg.RcodeServerFailure,
	},
	{
		name: "group not ready, other type is still NODATA",
		q:    withQ("notready.example.com.", miekg.TypeMX),
		aa:   true,
	},
	{
		name:  "unmapped name is REFUSED",
		q:     withQ("other.example.com.", miekg.TypeA),
		rcode: miekg.RcodeRefused,
	},
	{
		name:  "a name below a mapped one is REFUSED",
		q:     withQ("x.worker.example.com.", miekg.TypeA),
		rcode: miekg.RcodeRefused,
	},
	{
		name:  "the parent of a mapped name is REFUSED",
		q:     withQ("example.com.", miekg.TypeA),
		rcode: miekg.RcodeRefused,
	},
	{
		name:  "class CHAOS is REFUSED",
		q:     editedQ("worker.example.com.", miekg.TypeA, 0, func(m *miekg.Msg) { m.Question[0].Qclass = miekg.ClassCHAOS }),
		rcode: miekg.RcodeRefused,
	},
	{
		name:  "class ANY is answered from IN",
		q:     editedQ("worker.example.com.", miekg.TypeAAAA, 0, func(m *miekg.Msg) { m.Question[0].Qclass = miekg.ClassANY }),
		aa:    true,
		addrs: []string{"2001:db8::1"},
	},
	{
		name:      "opcode NOTIFY is NOTIMP",
		q:         editedQ("worker.example.com.", miekg.TypeSOA, 0, func(m *miekg.Msg) { m.Opcode = miekg.OpcodeNotify }),
		rcode:     miekg.RcodeNotImplemented,
		questions: -1,
	},
	{
		name:      "opcode UPDATE is NOTIMP",
		q:         editedQ("worker.example.com.", miekg.TypeA, 0, func(m *miekg.Msg) { m.Opcode = miekg.OpcodeUpdate }),
		rcode:     miekg.RcodeNotImplemented,
		questions: -1,
	},
	{
		name:  "zone transfer is NOTIMP",
		q:     withQ("worker.example.com.", miekg.TypeAXFR),
		rcode: miekg.RcodeNotImplemented,
	},
	{
		name:      "no question is FORMERR",
		q:         editedQ("worker.example.com.", miekg.TypeA, 0, func(m *miekg.Msg) { m.Question = nil }),
		rcode:     miekg.RcodeFormatError,
		questions: -1,
	},
	{
		name:      "two questions is FORMERR",
		q:         editedQ("worker.example.com.", miekg.TypeA, 0, func(m *miekg.Msg) { m.Question = append(m.Question, m.Question[0]) }),
		rcode:     miekg.RcodeFormatError,
		questions: -1,
	},
	{
		name:      "two OPT records is FORMERR",
		q:         editedQ("worker.example.com.", miekg.TypeA, 1232, func(m *miekg.Msg) { m.Extra = append(m.Extra, m.Extra[0]) }),
		rcode:     miekg.RcodeFormatError,
		questions: -1,
		wantOPT:   true,
	},
	{
		name:    "EDNS version 1 is BADVERS",
		q:       editedQ("worker.example.com.", miekg.TypeA, 1232, func(m *miekg.Msg) { m.IsEdns0().SetVersion(1) }),
		rcode:   miekg.RcodeBadVers,
		wantOPT: true,
	},
	{
		name:    "EDNS0 query gets an OPT record back",
		q:       func() *miekg.Msg { return query("worker.example.com.", miekg.TypeAAAA, 1232) },
		aa:      true,
		addrs:   []string{"2001:db8::1"},
		wantOPT: true,
	},
	{
		name:    "a response is ignored",
		q:       editedQ("worker.example.com.", miekg.TypeA, 0, func(m *miekg.Msg) { m.Response = true }),
		noReply: true,
	},
}

// checkResponse compares a response with what tc promises the client.
func checkResponse(t *testing.T, tc responseCase, q, resp *miekg.Msg) {
	t.Helper()
	if tc.noReply {
		if resp != nil {
			t.Fatalf("got a response, want none: %v", resp)
		}
		return
	}
	if resp == nil {
		t.Fatal("no response")
	}
	if resp.Id != q.Id || !resp.Response {
		t.Errorf("id %#x response %v, want id %#x and QR set", resp.Id, resp.Response, q.Id)
	}
	if resp.Rcode != tc.rcode {
		t.Errorf("rcode %s, want %s", miekg.RcodeToString[resp.Rcode], miekg.RcodeToString[tc.rcode])
	}
	if resp.Authoritative != tc.aa {
		t.Errorf("AA %v, want %v", resp.Authoritative, tc.aa)
	}
	if resp.Truncated || resp.RecursionAvailable {
		t.Errorf("TC %v RA %v, want neither", resp.Truncated, resp.RecursionAvailable)
	}
	switch {
	case tc.questions == -1:
	case len(resp.Question) != 1 || resp.Question[0] != q.Question[0]:
		t.Errorf("question section %v, want %v", resp.Question, q.Question)
	}
	if opt := resp.IsEdns0(); (opt != nil) != tc.wantOPT {
		t.Errorf("OPT in response %v, want %v", opt != nil, tc.wantOPT)
	} else if opt != nil && (opt.Version() != 0 || opt.UDPSize() != maxUDPSize || opt.Do()) {
		t.Errorf("OPT version %d size %d DO %v, want version 0, size %d, no DO", opt.Version(), opt.UDPSize(), opt.Do(), maxUDPSize)
	}
	got := addrs(resp)
	slices.Sort(got)
	if !slices.Equal(got, tc.addrs) {
		t.Errorf("answers %v, want %v", got, tc.addrs)
	}
	owner := tc.owner
	if owner == "" && len(q.Question) > 0 {
		owner = q.Question[0].Name
	}
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Name != owner || h.Class != miekg.ClassINET {
			t.Errorf("answer %v: want owner %q class IN", rr, owner)
		}
		if want, ok := tc.ttls[addrs(&miekg.Msg{Answer: []miekg.RR{rr}})[0]]; ok && h.Ttl != want {
			t.Errorf("answer %v: TTL %d, want %d", rr, h.Ttl, want)
		}
	}
}

func TestResponses(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		for _, tc := range responseCases {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				r, _ := testResponder(t, nil)
				q := tc.q()
				_, resp := ask(t, r, q, transport == "tcp")
				checkResponse(t, tc, q, resp)
			})
		}
	}
}

func TestNoFallbackWhileGroupHasMembers(t *testing.T) {
	// Group 2 (fallbacks 1.2.3.4, 5.6.7.8, 2001:db8::53) gets one IPv6
	// member: an A query must now be NODATA, not the IPv4 fallbacks.
	r, g := testResponder(t, nil)
	g.Set(2, true, member("2001:db8::99", 5*time.Second))
	_, resp := ask(t, r, query("empty.example.com.", miekg.TypeA, 0), false)
	if resp.Rcode != miekg.RcodeSuccess || len(resp.Answer) != 0 {
		t.Fatalf("got %s with %v, want NOERROR without answers", miekg.RcodeToString[resp.Rcode], addrs(resp))
	}
	_, resp = ask(t, r, query("empty.example.com.", miekg.TypeAAAA, 0), false)
	if got := addrs(resp); !slices.Equal(got, []string{"2001:db8::99"}) {
		t.Fatalf("AAAA answers %v, want the member", got)
	}
}

func TestGroupBecomesReady(t *testing.T) {
	r, g := testResponder(t, nil)
	q := query("notready.example.com.", miekg.TypeA, 0)
	if _, resp := ask(t, r, q, false); resp.Rcode != miekg.RcodeServerFailure {
		t.Fatalf("before ready: %s, want SERVFAIL", miekg.RcodeToString[resp.Rcode])
	}
	g.Set(3, true, member("192.0.2.9", 10*time.Second))
	_, resp := ask(t, r, q, false)
	if got := addrs(resp); resp.Rcode != miekg.RcodeSuccess || !slices.Equal(got, []string{"192.0.2.9"}) {
		t.Fatalf("after ready: %s %v, want NOERROR with the member", miekg.RcodeToString[resp.Rcode], got)
	}
}

func TestTTL(t *testing.T) {
	tests := []struct {
		expiresIn time.Duration
		want      uint32
	}{
		{10*time.Second + 500*time.Millisecond, 10},
		{10 * time.Second, 10},
		{time.Second, 1},
		{999 * time.Millisecond, 0},
		{400 * time.Millisecond, 0},
		{0, 0},
		{-3 * time.Second, 0}, // expired but not yet removed from the mirror
		{100 * 365 * 24 * time.Hour, math.MaxInt32},
	}
	for _, tc := range tests {
		t.Run(tc.expiresIn.String(), func(t *testing.T) {
			r, g := testResponder(t, nil)
			g.Set(1, true, member("192.0.2.7", tc.expiresIn))
			_, resp := ask(t, r, query("worker.example.com.", miekg.TypeA, 0), false)
			if len(resp.Answer) != 1 {
				t.Fatalf("answers %v, want one", addrs(resp))
			}
			if got := resp.Answer[0].Header().Ttl; got != tc.want {
				t.Fatalf("TTL %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTTLFollowsClock(t *testing.T) {
	r, _ := testResponder(t, nil)
	now := testNow
	r.now = func() time.Time { return now }
	q := query("worker.example.com.", miekg.TypeAAAA, 0) // 2001:db8::1 expires at testNow+7s
	for _, step := range []struct {
		advance time.Duration
		want    uint32
	}{{0, 7}, {1500 * time.Millisecond, 5}, {5 * time.Second, 0}} {
		now = now.Add(step.advance)
		_, resp := ask(t, r, q, false)
		if got := resp.Answer[0].Header().Ttl; got != step.want {
			t.Fatalf("at now+%v: TTL %d, want %d", now.Sub(testNow), got, step.want)
		}
	}
}

func TestAuthoritativeOff(t *testing.T) {
	r, _ := testResponder(t, func(s *settings) { s.authoritative = false })
	for _, q := range []*miekg.Msg{
		query("worker.example.com.", miekg.TypeA, 0),
		query("worker.example.com.", miekg.TypeMX, 0),
		query("empty.example.com.", miekg.TypeA, 0),
	} {
		_, resp := ask(t, r, q, false)
		if resp.Rcode != miekg.RcodeSuccess || resp.Authoritative {
			t.Errorf("%v: rcode %s AA %v, want NOERROR without AA", q.Question[0], miekg.RcodeToString[resp.Rcode], resp.Authoritative)
		}
	}
}

func TestShuffle(t *testing.T) {
	r, _ := testResponder(t, nil)
	orders := map[string]int{}
	for range 60 {
		_, resp := ask(t, r, query("worker.example.com.", miekg.TypeA, 0), false)
		got := addrs(resp)
		sorted := slices.Sorted(slices.Values(got))
		if !slices.Equal(sorted, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}) {
			t.Fatalf("answer %v is not the member set", got)
		}
		orders[strings.Join(got, ",")]++
	}
	// 3 members have 6 orders; 60 draws that all land on a few of them
	// would mean the order is not shuffled.
	if len(orders) < 4 {
		t.Fatalf("only %d distinct orders in 60 answers: %v", len(orders), orders)
	}
}

// sizeCase is a query whose answer does not fit in one message.
type sizeCase struct {
	name     string
	q        *miekg.Msg
	stream   bool
	compress bool
	limit    int // the response must fit here
	total    int // members of the asked family
	full     bool
}

func TestAnswerSize(t *testing.T) {
	cases := []sizeCase{
		{name: "no EDNS0: 512 bytes", q: query("big.example.com.", miekg.TypeAAAA, 0), limit: 512, total: 200},
		{name: "no EDNS0, IPv4: 512 bytes", q: query("big4.example.com.", miekg.TypeA, 0), limit: 512, total: 300},
		{name: "EDNS0 1232", q: query("big.example.com.", miekg.TypeAAAA, 1232), limit: 1232, total: 200},
		{name: "EDNS0 below 512 counts as 512", q: query("big.example.com.", miekg.TypeAAAA, 100), limit: 512, total: 200},
		{name: "EDNS0 4096", q: query("big.example.com.", miekg.TypeAAAA, 4096), limit: 4096, total: 200},
		{name: "EDNS0 65000 is capped at 4096", q: query("big.example.com.", miekg.TypeAAAA, 65000), limit: 4096, total: 200},
		{name: "compressed EDNS0 1232", q: query("big.example.com.", miekg.TypeAAAA, 1232), compress: true, limit: 1232, total: 200},
		{name: "compressed IPv4 no EDNS0", q: query("big4.example.com.", miekg.TypeA, 0), compress: true, limit: 512, total: 300},
		{name: "ANY mixes both families", q: query("worker.example.com.", miekg.TypeANY, 0), limit: 512, total: 4, full: true},
		{name: "TCP carries all 200", q: query("big.example.com.", miekg.TypeAAAA, 0), stream: true, limit: maxTCPSize, total: 200, full: true},
		{name: "TCP carries all 300 IPv4", q: query("big4.example.com.", miekg.TypeA, 512), stream: true, limit: maxTCPSize, total: 300, full: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := testResponder(t, func(s *settings) { s.compress = tc.compress })
			raw, resp := ask(t, r, tc.q, tc.stream)
			checkFits(t, tc, raw, resp)
		})
	}
}

// checkFits asserts that a response fits tc.limit, is as full as the limit
// allows, holds distinct members only, and does not set TC.
func checkFits(t *testing.T, tc sizeCase, raw []byte, resp *miekg.Msg) {
	t.Helper()
	if resp.Rcode != miekg.RcodeSuccess || resp.Truncated {
		t.Fatalf("rcode %s TC %v, want NOERROR without TC", miekg.RcodeToString[resp.Rcode], resp.Truncated)
	}
	if len(raw) > tc.limit {
		t.Fatalf("response is %d bytes, limit %d", len(raw), tc.limit)
	}
	n := len(resp.Answer)
	got := addrs(resp)
	if len(slices.Compact(slices.Sorted(slices.Values(got)))) != n {
		t.Fatalf("duplicate answers: %v", got)
	}
	if tc.full {
		if n != tc.total {
			t.Fatalf("%d answers, want all %d", n, tc.total)
		}
		return
	}
	if n == 0 || n >= tc.total {
		t.Fatalf("%d answers, want a subset of the %d members", n, tc.total)
	}
	// One more record of the same size would not have fitted.
	empty := resp.Copy()
	empty.Answer = nil
	empty.Compress = tc.compress
	base, err := empty.Pack()
	if err != nil {
		t.Fatal(err)
	}
	perRecord := (len(raw) - len(base)) / n
	if len(raw)+perRecord <= tc.limit {
		t.Fatalf("response is %d bytes with %d answers of %d bytes: another fits in %d", len(raw), n, perRecord, tc.limit)
	}
}

func TestTruncatedSubsetsVary(t *testing.T) {
	r, _ := testResponder(t, nil)
	seen := map[string]bool{}
	subsets := map[string]bool{}
	for range 20 {
		_, resp := ask(t, r, query("big.example.com.", miekg.TypeAAAA, 1232), false)
		got := addrs(resp)
		for _, a := range got {
			seen[a] = true
		}
		slices.Sort(got)
		subsets[strings.Join(got, ",")] = true
	}
	if len(subsets) < 2 {
		t.Fatal("every truncated answer held the same members")
	}
	// 20 random subsets of ~40 of 200 members cover far more than one answer's worth.
	if len(seen) < 100 {
		t.Fatalf("20 answers covered only %d of 200 members", len(seen))
	}
}

func TestLookupIgnoresASCIICaseOnly(t *testing.T) {
	r, _ := testResponder(t, nil)
	for name, want := range map[string]bool{
		"worker.example.com.":          true,
		"WoRkEr.ExAmPlE.CoM.":          true,
		"worker.example.com":           false, // query names are always fully qualified
		"worker\\.example.com.":        false,
		strings.Repeat("a", 300) + ".": false,
	} {
		if got := r.lookup(name) != nil; got != want {
			t.Errorf("lookup(%q) found %v, want %v", name, got, want)
		}
	}
}

func TestServeCountsOutcomes(t *testing.T) {
	r, _ := testResponder(t, nil)
	ask(t, r, query("worker.example.com.", miekg.TypeA, 0), false)
	ask(t, r, query("worker.example.com.", miekg.TypeMX, 0), false)
	ask(t, r, query("nope.example.com.", miekg.TypeA, 0), false)
	ask(t, r, query("notready.example.com.", miekg.TypeA, 0), false)
	want := statsSnapshot{Answered: 1, NoData: 1, Refused: 1, ServFail: 1}
	if got := r.stats.snapshot(); got != want {
		t.Fatalf("counters %+v, want %+v", got, want)
	}
}
