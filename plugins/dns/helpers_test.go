package dns

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	miekg "github.com/miekg/dns"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// testNow is the fixed clock of responder tests.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func member(addr string, expiresIn time.Duration) sdk.Member {
	return sdk.Member{Addr: netip.MustParseAddr(addr), Expires: testNow.Add(expiresIn)}
}

// manyMembers returns n members 2001:db8::1... or 10.0.x.y, expiring in 10s.
func manyMembers(n int, v6 bool) []sdk.Member {
	ms := make([]sdk.Member, n)
	for i := range ms {
		var a netip.Addr
		if v6 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		} else {
			a = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		}
		ms[i] = sdk.Member{Addr: a, Expires: testNow.Add(10 * time.Second)}
	}
	return ms
}

// testSpecYAML maps names onto groups 1..8 with every situation the tests
// need. Group 1: three IPv4 and one IPv6 member; 2: empty; 3: not ready;
// 4: 200 IPv6 members; 5: 300 IPv4 members; 6: members with ports and
// weights (see portMembers); 7: weights above 255; 8: 300 IPv4 members
// with ports.
const testSpecYAML = `
bind_address: 127.0.0.1:0
mappings:
  worker.example.com:
    group: 1
  Mixed.Example.ORG.:
    group: 1
  empty.example.com:
    group: 2
    fallback_addresses: [1.2.3.4, "5.6.7.8", "2001:db8::53"]
  empty4.example.com:
    group: 2
    fallback_addresses: [1.2.3.4]
  bare.example.com:
    group: 2
  notready.example.com:
    group: 3
    fallback_addresses: [1.2.3.4]
  big.example.com:
    group: 4
  big4.example.com:
    group: 5
  svc.example.com:
    group: 6
  svcport.example.com:
    group: 6
    port: 9000
  heavy.example.com:
    group: 7
  bigsrv.example.com:
    group: 8
  emptysrv.example.com:
    group: 2
    port: 7000
    fallback_addresses: [1.2.3.4, "2001:db8::53"]
`

var testGroupInfos = []sdk.GroupInfo{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}, {ID: 5}, {ID: 6}, {ID: 7}, {ID: 8}}

// portMember is a member with a port and a weight (0: not given).
func portMember(addr string, port, weight uint16, expiresIn time.Duration) sdk.Member {
	m := member(addr, expiresIn)
	m.Port, m.Weight = port, weight
	return m
}

// portMembers is group 6: one address on two ports, a member without a
// weight, one without a port, an IPv6 member and one that announced the
// same address and port twice (the mirror may hold both while one is
// about to expire).
var portMembers = []sdk.Member{
	portMember("192.0.2.10", 8001, 10, 9*time.Second),
	portMember("192.0.2.10", 8002, 20, 5*time.Second),
	portMember("192.0.2.11", 8003, 0, 4*time.Second),
	portMember("192.0.2.11", 8003, 0, 2*time.Second),
	portMember("192.0.2.12", 0, 7, 6*time.Second),
	portMember("2001:db8::10", 8004, 3, 8*time.Second),
}

// decodeSpec decodes src the way the SDK does and validates it against
// testGroupInfos.
func decodeSpec(t testing.TB, src string) (*settings, error) {
	t.Helper()
	var sp spec
	sdktest.DecodeSpec(t, src, &sp)
	return sp.validate(testGroupInfos, sdktest.Errorf)
}

// testResponder builds a responder over the test spec with a fixed clock and
// a seeded (but concurrency-safe) shuffle. edit, if not nil, changes the
// settings first.
func testResponder(t testing.TB, edit func(*settings)) (*responder, *sdktest.FakeGroups) {
	t.Helper()
	set, err := decodeSpec(t, testSpecYAML)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(set)
	}
	g := &sdktest.FakeGroups{}
	g.Set(1, true,
		member("192.0.2.1", 10500*time.Millisecond),
		member("192.0.2.2", 3*time.Second),
		member("192.0.2.3", 400*time.Millisecond),
		member("2001:db8::1", 7*time.Second),
	)
	g.Set(2, true)
	g.Set(3, false, member("192.0.2.9", 10*time.Second))
	g.Set(4, true, manyMembers(200, true)...)
	g.Set(5, true, manyMembers(300, false)...)
	g.Set(6, true, portMembers...)
	g.Set(7, true,
		portMember("192.0.2.20", 80, 1000, 10*time.Second),
		portMember("192.0.2.21", 80, 500, 10*time.Second),
		portMember("192.0.2.22", 80, 1, 10*time.Second),
	)
	big := manyMembers(300, false)
	for i := range big {
		big[i].Port, big[i].Weight = 8080, uint16(i%5)
	}
	g.Set(8, true, big...)
	r := newResponder(set, g, hclog.NewNullLogger())
	r.now = func() time.Time { return testNow }
	r.intn = lockedIntn(1)
	return r, g
}

// lockedIntn is a seeded IntN that is safe for concurrent use.
func lockedIntn(seed uint64) func(int) int {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed))
	return func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		return rng.IntN(n)
	}
}

// recordWriter is a miekg.ResponseWriter that keeps what is written.
type recordWriter struct {
	remote net.Addr
	out    [][]byte
}

func (w *recordWriter) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w *recordWriter) RemoteAddr() net.Addr {
	if w.remote == nil {
		return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	}
	return w.remote
}
func (w *recordWriter) WriteMsg(m *miekg.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *recordWriter) Write(b []byte) (int, error) {
	w.out = append(w.out, bytes.Clone(b))
	return len(b), nil
}
func (w *recordWriter) Close() error        { return nil }
func (w *recordWriter) TsigStatus() error   { return nil }
func (w *recordWriter) TsigTimersOnly(bool) {}
func (w *recordWriter) Hijack()             {}

// query builds a query for name and qtype; ednsSize 0 means no EDNS0.
func query(name string, qtype uint16, ednsSize uint16) *miekg.Msg {
	m := new(miekg.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x4242
	if ednsSize > 0 {
		m.SetEdns0(ednsSize, false)
	}
	return m
}

// ask runs one query through the responder and returns the raw response
// (nil when it sent none) and its parsed form.
func ask(t testing.TB, r *responder, q *miekg.Msg, stream bool) ([]byte, *miekg.Msg) {
	t.Helper()
	// Round-trip the query through the wire format, as the server would.
	b, err := q.Pack()
	if err != nil {
		t.Fatalf("packing query: %v", err)
	}
	in := new(miekg.Msg)
	if err := in.Unpack(b); err != nil {
		t.Fatalf("unpacking query: %v", err)
	}
	w := &recordWriter{}
	r.serve(w, in, stream)
	switch len(w.out) {
	case 0:
		return nil, nil
	case 1:
	default:
		t.Fatalf("%d responses to one query", len(w.out))
	}
	resp := new(miekg.Msg)
	if err := resp.Unpack(w.out[0]); err != nil {
		t.Fatalf("response does not parse: %v", err)
	}
	return w.out[0], resp
}

// addrs lists the addresses of A/AAAA answers, in answer order.
func addrs(m *miekg.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *miekg.A:
			out = append(out, rr.A.String())
		case *miekg.AAAA:
			out = append(out, rr.AAAA.String())
		default:
			out = append(out, "unexpected "+miekg.TypeToString[rr.Header().Rrtype])
		}
	}
	return out
}
