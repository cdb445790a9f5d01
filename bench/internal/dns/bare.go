package dns

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"

	miekg "github.com/miekg/dns"
)

// bareAnswer is the one record the bare responder returns for any question.
var bareAnswer = netip.AddrFrom4([4]byte{192, 0, 2, 1})

// bareTTL is the TTL of bareAnswer, in seconds.
const bareTTL = 60

// bareHandler answers every query with one fixed A record: the least work
// a miekg/dns server can do per query and still send a real answer. It is
// what the dns output is compared against.
func bareHandler(w miekg.ResponseWriter, r *miekg.Msg) {
	m := new(miekg.Msg)
	m.SetReply(r)
	if len(r.Question) == 1 {
		m.Answer = []miekg.RR{&miekg.A{
			Hdr: miekg.RR_Header{Name: r.Question[0].Name, Rrtype: miekg.TypeA, Class: miekg.ClassINET, Ttl: bareTTL},
			A:   bareAnswer.AsSlice(),
		}}
	}
	_ = w.WriteMsg(m)
}

// runBare serves bareHandler over UDP on addr until ctx ends. Once the
// socket is bound, so that queries queue for it, it prints "ready ADDR" on
// out, ADDR being the bound address, so that addr may use port 0.
func runBare(ctx context.Context, addr string, out io.Writer) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("-addr %q: want a loopback host:port", addr)
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("bare responder: %w", err)
	}
	if _, err := fmt.Fprintf(out, "ready %s\n", pc.LocalAddr()); err != nil {
		_ = pc.Close()
		return fmt.Errorf("ready line: %w", err)
	}
	go func() { <-ctx.Done(); _ = pc.Close() }() // ends the server
	srv := &miekg.Server{PacketConn: pc, Handler: miekg.HandlerFunc(bareHandler)}
	if err := srv.ActivateAndServe(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("bare responder on %s: %w", pc.LocalAddr(), err)
	}
	return nil
}
