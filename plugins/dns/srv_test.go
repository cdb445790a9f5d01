package dns

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/rgap-project/rgap/internal/golden"
)

// goldenCase is a query whose whole response is compared with
// testdata/answers/NAME.golden.
type goldenCase struct {
	name     string
	q        *miekg.Msg
	stream   bool
	compress bool
}

func TestGoldenAnswers(t *testing.T) {
	cases := []goldenCase{
		{name: "srv-ports-weights", q: query("_http._tcp.svc.example.com.", miekg.TypeSRV, 1232)},
		{name: "srv-mapping-port", q: query("_http._tcp.svcport.example.com.", miekg.TypeSRV, 1232)},
		{name: "srv-any-service-labels", q: query("_Imap._UDP.SVC.example.com.", miekg.TypeSRV, 1232)},
		{name: "srv-any-type", q: query("_http._tcp.svc.example.com.", miekg.TypeANY, 1232)},
		{name: "srv-compressed", q: query("_http._tcp.svc.example.com.", miekg.TypeSRV, 0), compress: true},
		{name: "srv-weights-scaled", q: query("_http._tcp.heavy.example.com.", miekg.TypeSRV, 0)},
		{name: "srv-no-port-nodata", q: query("_http._tcp.worker.example.com.", miekg.TypeSRV, 0)},
		{name: "srv-empty-group-fallbacks", q: query("_http._tcp.emptysrv.example.com.", miekg.TypeSRV, 0)},
		{name: "srv-empty-group-no-port", q: query("_http._tcp.empty.example.com.", miekg.TypeSRV, 0)},
		{name: "srv-not-ready", q: query("_http._tcp.notready.example.com.", miekg.TypeSRV, 0)},
		{name: "srv-name-a-is-nodata", q: query("_http._tcp.svc.example.com.", miekg.TypeA, 0)},
		{name: "srv-on-mapped-name-is-nodata", q: query("svc.example.com.", miekg.TypeSRV, 0)},
		{name: "srv-one-label-is-refused", q: query("_tcp.svc.example.com.", miekg.TypeSRV, 0)},
		{name: "srv-unmapped-is-refused", q: query("_http._tcp.nope.example.com.", miekg.TypeSRV, 0)},
		{name: "srv-zone-transfer", q: query("_http._tcp.svc.example.com.", miekg.TypeAXFR, 0)},
		{name: "a-dedupes-ports", q: query("svc.example.com.", miekg.TypeA, 0)},
		{name: "any-dedupes-ports", q: query("svc.example.com.", miekg.TypeANY, 0)},
		{name: "target-a", q: query("192-0-2-10.svc.example.com.", miekg.TypeA, 0)},
		{name: "target-aaaa", q: query("20010db8000000000000000000000010.svc.example.com.", miekg.TypeAAAA, 0)},
		{name: "target-wrong-family", q: query("192-0-2-10.svc.example.com.", miekg.TypeAAAA, 0)},
		{name: "target-not-a-member", q: query("192-0-2-99.svc.example.com.", miekg.TypeA, 0)},
		{name: "target-other-spelling-refused", q: query("192-0-2-010.svc.example.com.", miekg.TypeA, 0)},
		{name: "target-mx-nodata", q: query("192-0-2-10.svc.example.com.", miekg.TypeMX, 0)},
		{name: "target-not-ready", q: query("192-0-2-9.notready.example.com.", miekg.TypeA, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := testResponder(t, func(s *settings) { s.compress = tc.compress })
			raw, resp := ask(t, r, tc.q, tc.stream)
			if len(raw) > udpLimit(tc.q.IsEdns0()) {
				t.Errorf("response of %d bytes, client takes %d", len(raw), udpLimit(tc.q.IsEdns0()))
			}
			golden.Check(t, filepath.Join("testdata", "answers", tc.name+".golden"), "response", []byte(render(resp)))
		})
	}
}

// render writes a response in a stable form: the header flags that matter,
// then each section's records sorted (the answer order is random).
func render(m *miekg.Msg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rcode %s aa %v tc %v\n", miekg.RcodeToString[m.Rcode], m.Authoritative, m.Truncated)
	section := func(name string, rrs []miekg.RR) {
		var lines []string
		for _, rr := range rrs {
			if rr.Header().Rrtype != miekg.TypeOPT {
				lines = append(lines, rr.String())
			}
		}
		slices.Sort(lines)
		fmt.Fprintf(&b, ";; %s %d\n", name, len(lines))
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	section("answer", m.Answer)
	section("additional", m.Extra)
	return b.String()
}

// TestSRVWeightsKeepRatios checks the documented weight mapping against what
// HAProxy does with an SRV weight w: server weight (w+255)/256.
func TestSRVWeightsKeepRatios(t *testing.T) {
	haproxy := func(w uint16) int { return (int(w) + 255) / 256 }
	for _, tc := range []struct {
		weight, top uint16
		want        int // HAProxy's server weight
	}{
		{0, 1, 1}, {1, 1, 1}, {1, 255, 1}, {10, 20, 10}, {20, 20, 20}, {255, 255, 255},
		{1000, 1000, 255}, {500, 1000, 128}, {1, 1000, 1}, {65535, 65535, 255}, {256, 65535, 1},
	} {
		got := srvWeight(tc.weight, tc.top)
		if got == 0 || haproxy(got) != tc.want {
			t.Errorf("srvWeight(%d, top %d) = %d, HAProxy weight %d, want %d", tc.weight, tc.top, got, haproxy(got), tc.want)
		}
	}
}

func TestTargetLabelRoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.0.100", "::", "2001:db8::1", "fe80::1:2:3:4"} {
		a := netip.MustParseAddr(s)
		l := appendTargetLabel(nil, a)
		got, ok := parseTargetLabel(l)
		if !ok || got != a {
			t.Errorf("%s: label %q reads back as %v, %v", s, l, got, ok)
		}
	}
	for _, l := range []string{"", "1-2-3", "1-2-3-4-5", "01-2-3-4", "256-0-0-1", "1--2-3", "a-b-c-d", "-1-2-3",
		"00000000000000000000ffffc0000201", // IPv4-mapped: the member is 192-0-2-1
		"20010DB8000000000000000000000001", "2001:db8::1"} {
		if a, ok := parseTargetLabel([]byte(l)); ok {
			t.Errorf("label %q read as %v, want refused", l, a)
		}
	}
}

// TestSRVFitsUDP checks that an SRV answer that does not fit holds whole
// members (every SRV target has its address in the additional section),
// fits the client's size, and leaves TC unset like the address answers.
func TestSRVFitsUDP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		edns     uint16
		stream   bool
		compress bool
		limit    int
	}{
		{"no EDNS0", 0, false, false, 512},
		{"EDNS0 1232", 1232, false, false, 1232},
		{"EDNS0 1232 compressed", 1232, false, true, 1232},
		{"EDNS0 4096", 4096, false, false, 4096},
		{"TCP", 0, true, false, maxTCPSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := testResponder(t, func(s *settings) { s.compress = tc.compress })
			raw, resp := ask(t, r, query("_http._tcp.bigsrv.example.com.", miekg.TypeSRV, tc.edns), tc.stream)
			if resp.Rcode != miekg.RcodeSuccess || resp.Truncated {
				t.Fatalf("rcode %s TC %v, want NOERROR without TC", miekg.RcodeToString[resp.Rcode], resp.Truncated)
			}
			if len(raw) > tc.limit {
				t.Fatalf("%d bytes, limit %d", len(raw), tc.limit)
			}
			glue := map[string]bool{}
			for _, rr := range resp.Extra {
				if a, ok := rr.(*miekg.A); ok {
					glue[a.Hdr.Name] = true
				}
			}
			if len(resp.Answer) == 0 || len(resp.Answer) != len(glue) {
				t.Fatalf("%d SRV records, %d distinct targets with an address", len(resp.Answer), len(glue))
			}
			for _, rr := range resp.Answer {
				srv := rr.(*miekg.SRV)
				if !glue[srv.Target] || srv.Port != 8080 || srv.Weight == 0 {
					t.Fatalf("%v: want port 8080, a weight and the target's address in the additional section", srv)
				}
			}
			if tc.stream && len(resp.Answer) != 300 {
				t.Fatalf("TCP carries %d of 300 members", len(resp.Answer))
			}
			if !tc.stream && len(resp.Answer) >= 300 {
				t.Fatalf("UDP carries all 300 members in %d bytes?", len(raw))
			}
			if tc.stream {
				return
			}
			// One more member (SRV and address record; their target
			// labels differ by at most a byte) would not have fitted.
			empty := resp.Copy()
			empty.Answer, empty.Extra = nil, nil
			if opt := resp.IsEdns0(); opt != nil {
				empty.Extra = []miekg.RR{opt}
			}
			base, err := empty.Pack()
			if err != nil {
				t.Fatal(err)
			}
			n := len(resp.Answer)
			perMember := (len(raw) - len(base) + n - 1) / n
			if len(raw)+perMember+2 <= tc.limit {
				t.Fatalf("%d bytes with %d members of about %d bytes: another fits in %d", len(raw), n, perMember, tc.limit)
			}
		})
	}
}

// TestSRVLongName checks that a mapped name too long to hold an IPv6
// target label still answers, with the members whose target fits.
func TestSRVLongName(t *testing.T) {
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 40) + "."
	r, g := testResponder(t, func(s *settings) {
		s.names[long] = &mapping{name: long, written: long, group: 9, port: 80}
	})
	g.Set(9, true, member("192.0.2.1", 5*time.Second), member("2001:db8::1", 5*time.Second))
	_, resp := ask(t, r, query("_http._tcp."+long, miekg.TypeSRV, 0), true)
	if resp.Rcode != miekg.RcodeSuccess || len(resp.Answer) != 1 || resp.Answer[0].(*miekg.SRV).Target != "192-0-2-1."+long {
		t.Fatalf("rcode %s answers %v, want the IPv4 member only", miekg.RcodeToString[resp.Rcode], resp.Answer)
	}
}
