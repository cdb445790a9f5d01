package dns

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/rgap-project/rgap/bench/internal/listenerlog"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/golden"
	"github.com/rgap-project/rgap/internal/protocol"
)

func TestListenerConfig(t *testing.T) {
	psk, err := protocol.ParsePSK("5b0f4c7d2e9a8b1c6d3e0f2a4b5c6d7e8f9011223344556677889900aabbccdd")
	if err != nil {
		t.Fatal(err)
	}
	c := listenerConfig(psk, []mapping{{latencyName(0), 2000}, {latencyName(1), 2001}})
	c.Listen = netip.MustParseAddrPort("127.0.0.1:18271") // listener.Start sets it
	got := c.YAML("dns")
	golden.Check(t, filepath.Join("testdata", "listener.yaml"), "listener.yaml", got)

	// The listener must accept it as it is: groups ready at once, members
	// kept for the whole run, one dns output.
	cfg, err := config.Parse("listener.yaml", got)
	if err != nil {
		t.Fatalf("the listener would refuse the configuration: %v", err)
	}
	if len(cfg.Groups) != 2 || len(cfg.Outputs) != 1 || cfg.Outputs[0].Kind != "dns" {
		t.Fatalf("groups %d outputs %+v, want 2 groups and one dns output", len(cfg.Groups), cfg.Outputs)
	}
	for _, g := range cfg.Groups {
		if g.ReadinessDelay != 0 || g.Expire != listenerExpire || g.PSK != psk {
			t.Errorf("group %d: readiness %v expire %v; want 0 and %v with the given PSK", g.ID, g.ReadinessDelay, g.Expire, listenerExpire)
		}
	}
}

func TestDNSListeningAddr(t *testing.T) {
	tests := []struct {
		line    string
		ok      bool
		want    string
		wantErr bool
	}{
		{`{"@level":"info","@message":"dns server listening","kind":"dns","output":0,"tcp":"127.0.0.1:43909","udp":"127.0.0.1:43909"}`, true, "127.0.0.1:43909", false},
		{`{"@message":"listening","address":"127.0.0.1:18377"}`, false, "", false},
		{`rgap listener: config.yaml:2:5: listen: bad port`, false, "", false},
		{`{"@message":"dns server listening"`, false, "", false}, // cut short: not JSON
		{`{"@message":"dns server listening","udp":"[::1]:53"}`, true, "[::1]:53", false},
		{`{"@message":"dns server listening","udp":"somewhere"}`, true, "", true},
	}
	for _, tc := range tests {
		l, parsed := listenerlog.Parse(tc.line)
		ok := parsed && l.Message == msgDNSListening
		var addr netip.AddrPort
		var err error
		if ok {
			addr, err = dnsAddr(l)
		}
		if ok != tc.ok || (err != nil) != tc.wantErr || (tc.want != "" && addr.String() != tc.want) {
			t.Errorf("dnsAddr(%s) = %v, %v, %v; want %s, %v, error %v", tc.line, addr, ok, err, tc.want, tc.ok, tc.wantErr)
		}
	}
}

func TestAnswerHas(t *testing.T) {
	m := new(miekg.Msg)
	for _, rr := range []string{"x. 5 IN A 10.100.0.7", "x. 5 IN AAAA 2001:db8::1", "x. 5 IN TXT \"10.100.0.8\""} {
		r, err := miekg.NewRR(rr)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, r)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.100.0.7", true},
		{"::ffff:10.100.0.7", true}, // the announced form of an IPv4 address
		{"2001:db8::1", true},
		{"10.100.0.8", false}, // only in a TXT record
		{"10.100.0.9", false},
	} {
		if got := answerHas(m, netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("answerHas(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// TestBareResponder runs the bare responder on loopback and asks it.
func TestBareResponder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runBare(ctx, "127.0.0.1:0", pw) }()
	buf := make([]byte, 100)
	n, err := pr.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(buf[:n]))
	addr, err := netip.ParseAddrPort(strings.TrimPrefix(line, "ready "))
	if err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	r, err := newResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	for _, name := range []string{throughputName, "anything.else"} {
		m, err := r.lookupA(name, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rcode != miekg.RcodeSuccess || len(m.Answer) != 1 || !answerHas(m, bareAnswer) || m.Answer[0].Header().Name != miekg.Fqdn(name) {
			t.Errorf("%s: got %v, want one A %s for the name", name, m, bareAnswer)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("runBare after cancel: %v", err)
	}
	if err := runBare(ctx, "192.0.2.1:53", pw); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("runBare on a non-loopback address: %v, want refused", err)
	}
}
