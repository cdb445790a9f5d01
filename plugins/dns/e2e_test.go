package dns

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// startPlugin runs the plugin through the SDK harness and returns the
// harness and the address the server bound (from its "listening" log line).
func startPlugin(t *testing.T, spec string, groups ...sdk.GroupInfo) (*sdktest.Harness, string) {
	t.Helper()
	h := sdktest.Start(t, Plugin, spec, groups...)
	e := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "dns server listening" })
	addr := e.Arg("udp")
	if addr == "" || addr != e.Arg("tcp") {
		t.Fatalf("listening line %s: want the same udp and tcp address", e)
	}
	return h, addr
}

// askServer sends one query over network and fails the test without a
// response.
func askServer(t *testing.T, network, addr, name string, qtype uint16) *miekg.Msg {
	t.Helper()
	_, resp := exchange(t, network, addr, query(name, qtype, 1232), 5*time.Second)
	if resp == nil {
		t.Fatalf("%s %s: no response", name, miekg.TypeToString[qtype])
	}
	return resp
}

// appSpec maps app.example.com to group 7 on a free loopback port; a test
// may add keys of the mapping.
const appSpec = "bind_address: 127.0.0.1:0\nmappings:\n  app.example.com:\n    group: 7\n"

// TestPluginLifecycle follows a group from start-up to members leaving,
// through the real SDK: config decoding, subscription, mirror and events.
func TestPluginLifecycle(t *testing.T) {
	const spec = appSpec + "    fallback_addresses: [192.0.2.200]\n"
	h, addr := startPlugin(t, spec, sdk.GroupInfo{ID: 7, Expire: 15 * time.Second}, sdk.GroupInfo{ID: 8})
	if all, groups := h.Subscription(); all || !slices.Equal(groups, []uint64{7}) {
		t.Fatalf("subscription all=%v %v, want only group 7", all, groups)
	}

	for _, network := range []string{"udp", "tcp"} {
		if resp := askServer(t, network, addr, "app.example.com.", miekg.TypeA); resp.Rcode != miekg.RcodeServerFailure {
			t.Fatalf("%s before ready: %s, want SERVFAIL", network, miekg.RcodeToString[resp.Rcode])
		}
	}

	h.Ready(7)
	h.Sync()
	resp := askServer(t, "udp", addr, "App.Example.Com.", miekg.TypeA)
	if got := addrs(resp); resp.Rcode != miekg.RcodeSuccess || !slices.Equal(got, []string{"192.0.2.200"}) || resp.Answer[0].Header().Ttl != 0 {
		t.Fatalf("ready and empty: %s %v, want the fallback with TTL 0", miekg.RcodeToString[resp.Rcode], resp.Answer)
	}

	a1, a2 := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.2")
	h.Join(7, a1, time.Now().Add(20*time.Second))
	h.Join(7, a2, time.Now().Add(5*time.Second))
	h.Sync()
	resp = askServer(t, "tcp", addr, "app.example.com.", miekg.TypeA)
	got := addrs(resp)
	slices.Sort(got)
	if !slices.Equal(got, []string{"10.1.0.1", "10.1.0.2"}) {
		t.Fatalf("after joins: %v, want both members", got)
	}
	for _, rr := range resp.Answer {
		// The TTL counts down from the expiry; allow the test some slowness.
		want := uint32(19)
		if rr.(*miekg.A).A.String() == "10.1.0.2" {
			want = 4
		}
		if ttl := rr.Header().Ttl; ttl > want || ttl+3 < want {
			t.Errorf("%v: TTL %d, want about %d", rr, ttl, want)
		}
	}

	// An expiry update (the plugin asked for them) raises the TTL.
	h.Expiry(7, a2, time.Now().Add(60*time.Second))
	h.Sync()
	resp = askServer(t, "udp", addr, "app.example.com.", miekg.TypeA)
	for _, rr := range resp.Answer {
		if rr.(*miekg.A).A.String() == "10.1.0.2" && rr.Header().Ttl < 50 {
			t.Errorf("after the expiry update: TTL %d, want about 59", rr.Header().Ttl)
		}
	}

	h.Leave(7, a1)
	h.Leave(7, a2)
	h.Sync()
	resp = askServer(t, "udp", addr, "app.example.com.", miekg.TypeA)
	if got := addrs(resp); !slices.Equal(got, []string{"192.0.2.200"}) {
		t.Fatalf("after leaves: %v, want the fallback again", got)
	}
	if resp := askServer(t, "udp", addr, "other.example.com.", miekg.TypeA); resp.Rcode != miekg.RcodeRefused {
		t.Fatalf("unmapped name: %s, want REFUSED", miekg.RcodeToString[resp.Rcode])
	}

	// Stopping closes both sockets.
	h.Stop()
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = conn.Close() // the test fails on it being open at all
		t.Fatal("TCP still accepts connections after Stop")
	}
	e := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "dns server stopped" })
	if e.Arg("answered") != "4" || e.Arg("servfail") != "2" || e.Arg("refused") != "1" {
		t.Errorf("final counters %s: want 4 answered, 2 servfail, 1 refused", e)
	}
}

func TestPluginLogQueries(t *testing.T) {
	h, addr := startPlugin(t, "log_queries: true\n"+appSpec, sdk.GroupInfo{ID: 7})
	askServer(t, "udp", addr, "app.example.com.", miekg.TypeTXT)
	e := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "dns query" })
	if e.Arg("name") != "app.example.com." || e.Arg("type") != "TXT" || e.Arg("rcode") != "NOERROR" || e.Arg("transport") != "udp" {
		t.Fatalf("query log line %s: want name, type, rcode and transport", e)
	}
}

func TestPluginQueriesNotLoggedByDefault(t *testing.T) {
	h, addr := startPlugin(t, appSpec, sdk.GroupInfo{ID: 7})
	askServer(t, "udp", addr, "app.example.com.", miekg.TypeA)
	h.Stop() // flushes the log
	for _, e := range h.Logs() {
		if e.Message == "dns query" {
			t.Fatalf("query logged without log_queries: %s", e)
		}
	}
}

// bindAnyPort makes an example spec bind a free loopback port, so that the
// test neither needs the documented port nor listens beyond loopback.
func bindAnyPort(t *testing.T, spec string) string {
	t.Helper()
	lines := strings.Split(spec, "\n")
	n := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "bind_address:") {
			lines[i] = "bind_address: 127.0.0.1:0"
			n++
		}
	}
	if n != 1 {
		t.Fatalf("example spec has %d bind_address lines, want 1:\n%s", n, spec)
	}
	return strings.Join(lines, "\n")
}

// exampleGroups are the groups of the documented examples.
var exampleGroups = []sdk.GroupInfo{{ID: 1000, Expire: 15 * time.Second, ReadinessDelay: 15 * time.Second}}

// TestReadmeExample runs the example of README.md: it validates as written,
// and once running answers every mapped name.
func TestReadmeExample(t *testing.T) {
	for i, spec := range sdktest.CheckExamples(t, Plugin, "README.md", exampleGroups...) {
		h, addr := startPlugin(t, bindAnyPort(t, spec), exampleGroups...)
		h.Ready(1000)
		h.Sync()
		// The group is empty: the fallbacks answer, in both families.
		for qtype, want := range map[uint16]string{miekg.TypeA: "192.0.2.10", miekg.TypeAAAA: "2001:db8::10"} {
			resp := askServer(t, "udp", addr, "worker.example.com.", qtype)
			if got := addrs(resp); !slices.Equal(got, []string{want}) || !resp.Authoritative {
				t.Errorf("README example %d, %s: %v (AA %v), want %s", i+1, miekg.TypeToString[qtype], got, resp.Authoritative, want)
			}
		}
		h.Join(1000, netip.MustParseAddr("198.51.100.7"), time.Now().Add(15*time.Second))
		h.Sync()
		for _, name := range []string{"worker.example.com.", "worker.example.org.", "WORKER.EXAMPLE.ORG."} {
			if got := addrs(askServer(t, "tcp", addr, name, miekg.TypeA)); !slices.Equal(got, []string{"198.51.100.7"}) {
				t.Errorf("README example %d, %s: %v, want the member", i+1, name, got)
			}
		}
		h.Stop()
	}
}

// TestReferenceExample runs the dns spec of the reference implementation's
// configuration example (testdata/reference-spec.yaml): configurations
// written for it must keep working.
func TestReferenceExample(t *testing.T) {
	b, err := os.ReadFile("testdata/reference-spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := string(b)
	if diags := sdktest.Validate(t, Plugin, spec, exampleGroups...); len(diags) > 0 {
		t.Fatalf("reference example: %v", diags)
	}
	h, addr := startPlugin(t, bindAnyPort(t, spec), exampleGroups...)
	h.Ready(1000)
	h.Sync()
	for _, name := range []string{"worker.example.com.", "worker.example.org."} {
		got := addrs(askServer(t, "udp", addr, name, miekg.TypeA))
		slices.Sort(got)
		if !slices.Equal(got, []string{"1.2.3.4", "5.6.7.8"}) {
			t.Errorf("%s with an empty group: %v, want the two fallbacks", name, got)
		}
	}
	h.Join(1000, netip.MustParseAddr("10.0.0.1"), time.Now().Add(15*time.Second))
	h.Sync()
	if got := addrs(askServer(t, "udp", addr, "worker.example.com.", miekg.TypeA)); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("with a member: %v, want it", got)
	}
}
