package dns

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	miekg "github.com/miekg/dns"
)

// discardWriter is a ResponseWriter that packs and drops, so that handler
// benchmarks measure the handler and the packing, not a socket.
type discardWriter struct{ recordWriter }

func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteMsg(m *miekg.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// bareResponder answers every query with one fixed A record, the simplest
// way miekg/dns allows: the baseline of the performance goal.
func bareResponder(w miekg.ResponseWriter, r *miekg.Msg) {
	m := new(miekg.Msg)
	m.SetReply(r)
	m.Answer = append(m.Answer, &miekg.A{
		Hdr: miekg.RR_Header{Name: r.Question[0].Name, Rrtype: miekg.TypeA, Class: miekg.ClassINET, Ttl: 10},
		A:   net.IPv4(192, 0, 2, 1),
	})
	_ = w.WriteMsg(m)
}

// parsedQuery returns q as the server would hand it to a handler.
func parsedQuery(b *testing.B, q *miekg.Msg) *miekg.Msg {
	raw, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	in := new(miekg.Msg)
	if err := in.Unpack(raw); err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkServeDNS is the handler alone: an A query for a group of three
// members, over UDP, into a writer that drops the packed bytes. Compare it
// with BenchmarkBareResponder.
func BenchmarkServeDNS(b *testing.B) {
	cases := []struct {
		name string
		q    *miekg.Msg
		tcp  bool
	}{
		{"A-3members", query("worker.example.com.", miekg.TypeA, 0), false},
		{"A-3members-edns", query("worker.example.com.", miekg.TypeA, 1232), false},
		{"AAAA-200members-udp1232", query("big.example.com.", miekg.TypeAAAA, 1232), false},
		{"AAAA-200members-tcp", query("big.example.com.", miekg.TypeAAAA, 0), true},
		{"refused", query("nope.example.com.", miekg.TypeA, 0), false},
		{"A-5members-2ports", query("svc.example.com.", miekg.TypeA, 0), false},
		{"SRV-5members-edns", query("_http._tcp.svc.example.com.", miekg.TypeSRV, 1232), false},
		{"SRV-300members-udp1232", query("_http._tcp.bigsrv.example.com.", miekg.TypeSRV, 1232), false},
		{"SRV-300members-tcp", query("_http._tcp.bigsrv.example.com.", miekg.TypeSRV, 0), true},
		{"target-A", query("192-0-2-10.svc.example.com.", miekg.TypeA, 0), false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			r, _ := testResponder(b, nil)
			r.intn = newResponder(&settings{}, nil, nil).intn // the production shuffle
			req := parsedQuery(b, tc.q)
			w := &discardWriter{}
			h := handler{r: r, stream: tc.tcp}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeDNS(w, req)
			}
		})
	}
}

// BenchmarkBareResponder is the baseline: a fixed one-record answer.
func BenchmarkBareResponder(b *testing.B) {
	req := parsedQuery(b, query("worker.example.com.", miekg.TypeA, 0))
	w := &discardWriter{}
	b.ReportAllocs()
	for b.Loop() {
		bareResponder(w, req)
	}
}

// BenchmarkUDPRoundTrip is one query at a time over loopback UDP, through
// the whole server (socket, miekg/dns parsing, handler), for this output and
// for the bare responder. It is latency-bound, not a throughput test: use
// dnsperf for that.
func BenchmarkUDPRoundTrip(b *testing.B) {
	q, err := query("worker.example.com.", miekg.TypeA, 0).Pack()
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, addr string) {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = conn.Close() }() // a UDP socket: nothing left to send
		buf := make([]byte, 512)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := conn.Write(q); err != nil {
				b.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("rgap", func(b *testing.B) {
		r, _ := testResponder(b, nil)
		r.intn = newResponder(&settings{}, nil, nil).intn
		ctx, cancel := context.WithCancel(context.Background())
		bound := make(chan net.Addr, 1)
		done := make(chan error, 1)
		go func() {
			done <- serve(ctx, "127.0.0.1:0", r, hclog.NewNullLogger(), func(udp, _ net.Addr) { bound <- udp }, time.Minute)
		}()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				b.Error(err)
			}
		}()
		select {
		case a := <-bound:
			run(b, a.String())
		case err := <-done:
			b.Fatal(err)
		}
	})
	b.Run("bare", func(b *testing.B) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		started := make(chan struct{})
		srv := &miekg.Server{PacketConn: pc, Handler: miekg.HandlerFunc(bareResponder), NotifyStartedFunc: func() { close(started) }}
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		defer func() { _ = srv.Shutdown() }()
		run(b, pc.LocalAddr().String())
	})
}
