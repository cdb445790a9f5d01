package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/rgap-project/rgap/bench/internal/listener"
	"github.com/rgap-project/rgap/bench/internal/listenerlog"
	"github.com/rgap-project/rgap/bench/internal/traffic"
	"github.com/rgap-project/rgap/internal/protocol"
)

// listenerExpire is how long an announced address stays: longer than any
// run, so nothing expires while it is measured.
const listenerExpire = 5 * time.Minute

// mapping ties one DNS name to one group.
type mapping struct {
	Name  string
	Group uint64
}

// listenerConfig is the configuration of a listener for mappings: one
// group per mapping, ready at once and expiring after listenerExpire, and
// one dns output on a port the kernel picks.
func listenerConfig(psk protocol.PSK, mappings []mapping) listener.Config {
	c := listener.Config{PSK: psk.Hex(), Expire: listenerExpire}
	out := listener.Output{Kind: "dns", Spec: []string{"bind_address: 127.0.0.1:0", "mappings:"}}
	for _, m := range mappings {
		c.Groups = append(c.Groups, m.Group)
		out.Spec = append(out.Spec, fmt.Sprintf("  %s:", m.Name), fmt.Sprintf("    group: %d", m.Group))
	}
	c.Outputs = []listener.Output{out}
	return c
}

// msgDNSListening is the dns output's log line once it serves queries; its
// "udp" key holds the bound address.
const msgDNSListening = "dns server listening"

// dnsAddr returns the UDP address of a "dns server listening" line.
func dnsAddr(l listenerlog.Line) (netip.AddrPort, error) {
	udp := l.Str("udp")
	addr, err := netip.ParseAddrPort(udp)
	if err != nil {
		return addr, fmt.Errorf("%q line: udp %q: %w", msgDNSListening, udp, err)
	}
	return addr, nil
}

// rgapServer is a running `rgap listener` with a dns output.
type rgapServer struct {
	*listener.Run
	dns netip.AddrPort // the dns output's UDP address
}

// startRGAP starts a listener for mappings, its configuration at cfgPath,
// pinned to cpu (negative: not pinned). It returns once the dns output
// answers queries.
func startRGAP(ctx context.Context, rgap string, cpu int, cfgPath string, psk protocol.PSK, mappings []mapping) (*rgapServer, error) {
	l, err := listener.Start(ctx, listenerConfig(psk, mappings), listener.Options{RGAP: rgap, Path: cfgPath, Bench: "dns", CPU: cpu,
		Ready: msgDNSListening})
	if err != nil {
		return nil, err
	}
	addr, err := dnsAddr(l.Ready)
	if err != nil {
		l.Kill()
		return nil, l.Failure(err)
	}
	return &rgapServer{Run: l, dns: addr}, nil
}

// announcer sends signed announcements to a listener, as an agent would.
type announcer struct {
	conn   *net.UDPConn
	signer traffic.Signer
	buf    []byte
}

func newAnnouncer(to *rgapServer, psk protocol.PSK) (*announcer, error) {
	signer, err := traffic.NewSigner(psk.Hex(), 1)
	if err != nil {
		return nil, err
	}
	conn, err := to.Dial()
	if err != nil {
		return nil, fmt.Errorf("announcer: %w", err)
	}
	return &announcer{conn: conn, signer: signer, buf: make([]byte, 0, protocol.Size)}, nil
}

// announce sends "addr is alive in group" stamped now and returns the
// time just before the datagram was handed to the kernel.
func (a *announcer) announce(group uint64, addr netip.Addr) (time.Time, error) {
	now := time.Now()
	a.buf = a.signer.Append(a.buf[:0], group, addr, now)
	if _, err := a.conn.Write(a.buf); err != nil {
		return now, fmt.Errorf("announce %s in group %d: %w", addr, group, err)
	}
	return now, nil
}

func (a *announcer) Close() error { return a.conn.Close() }

// errNoAnswer means a query got no response within its timeout.
var errNoAnswer = errors.New("no response")

// resolver asks one server for A records over UDP, one query at a time
// on one socket; a late answer to a query that timed out is skipped.
type resolver struct{ *miekg.Conn }

// ednsSize is the UDP payload size the resolver advertises, so that every
// member of a name's group fits in one answer.
const ednsSize = 4096

func newResolver(server netip.AddrPort) (*resolver, error) {
	conn, err := miekg.Dial("udp", server.String())
	if err != nil {
		return nil, fmt.Errorf("resolver for %s: %w", server, err)
	}
	return &resolver{conn}, nil
}

// lookupA asks for the A records of name and returns the response,
// waiting at most timeout.
func (r *resolver) lookupA(name string, timeout time.Duration) (*miekg.Msg, error) {
	q := new(miekg.Msg)
	q.SetQuestion(miekg.Fqdn(name), miekg.TypeA)
	q.SetEdns0(ednsSize, false)
	c := miekg.Client{Timeout: timeout}
	resp, _, err := c.ExchangeWithConn(q, r.Conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, fmt.Errorf("query %s A: %w within %v", name, errNoAnswer, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s A: %w", name, err)
	}
	return resp, nil
}

// answerHas reports whether m answers with addr in an A or AAAA record.
func answerHas(m *miekg.Msg, addr netip.Addr) bool {
	for _, rr := range m.Answer {
		var ip net.IP
		switch rr := rr.(type) {
		case *miekg.A:
			ip = rr.A
		case *miekg.AAAA:
			ip = rr.AAAA
		}
		if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == addr.Unmap() {
			return true
		}
	}
	return false
}
