package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	miekg "github.com/miekg/dns"
)

// shutdownGrace bounds how long Run waits for in-flight TCP connections
// when it stops.
const shutdownGrace = 5 * time.Second

// serve runs a UDP and a TCP server for r on bind until ctx ends. listening,
// if not nil, is called with the bound addresses once both accept queries.
func serve(ctx context.Context, bind string, r *responder, log hclog.Logger, listening func(udp, tcp net.Addr), every time.Duration) error {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	pc, ln, err := listen(bind)
	if err != nil {
		return err
	}
	servers := []*miekg.Server{
		{PacketConn: pc, Handler: handler{r: r}, UDPSize: maxUDPSize},
		{Listener: ln, Handler: handler{r: r, stream: true}},
	}
	started := make(chan struct{}, len(servers))
	done := make(chan error, len(servers))
	for _, srv := range servers {
		srv.MsgAcceptFunc = r.accept
		srv.MsgInvalidFunc = r.invalid
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() { done <- srv.ActivateAndServe() }()
	}

	// Wait until both servers run: shutting down a server that has not
	// started yet is a no-op in miekg/dns, and it would then serve forever.
	running := 0
	var failure error
	for running < len(servers) && failure == nil {
		select {
		case <-started:
			running++
		case err := <-done:
			failure = serverError(pc, ln, err)
		}
	}
	if failure == nil {
		log.Info("dns server listening", "udp", pc.LocalAddr().String(), "tcp", ln.Addr().String())
		if listening != nil {
			listening(pc.LocalAddr(), ln.Addr())
		}
		failure = wait(ctx, r, log, done, pc, ln, every)
	}

	// Stop whatever still runs. A server that failed has closed its socket;
	// the other one has started (or failed too), so Shutdown reaches it.
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range servers {
		_ = srv.ShutdownContext(stopCtx) // "not started" for a server that already returned
	}
	// Shutdown has closed both already unless that server never started;
	// closing again only reports "use of closed", so errors are ignored.
	_ = pc.Close()
	_ = ln.Close()
	log.Info("dns server stopped", r.stats.snapshot().keyvals()...)
	return failure
}

// wait blocks until ctx ends (a clean stop: nil) or a server fails, logging
// the query counters every interval when they changed.
func wait(ctx context.Context, r *responder, log hclog.Logger, done <-chan error, pc net.PacketConn, ln net.Listener, every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last statsSnapshot
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			return serverError(pc, ln, err)
		case <-tick.C:
			if now := r.stats.snapshot(); now != last && log.IsDebug() {
				log.Debug("dns query counters", now.keyvals()...)
				last = now
			}
		}
	}
}

// serverError explains why a server stopped on its own.
func serverError(pc net.PacketConn, ln net.Listener, err error) error {
	if err == nil {
		err = errors.New("stopped without an error")
	}
	return fmt.Errorf("dns server on udp %s / tcp %s: %w", pc.LocalAddr(), ln.Addr(), err)
}

// listen binds UDP and TCP on the same address. With port 0 the TCP
// listener takes the port the kernel gave the UDP socket, so that clients
// can fall back to TCP on the same address; should that port be taken for
// TCP, it tries again with a new one.
func listen(bind string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(bind)
	if err != nil {
		return nil, nil, fmt.Errorf("bind_address %q: %w", bind, err)
	}
	const tries = 10
	for try := 1; ; try++ {
		pc, err := net.ListenPacket("udp", bind)
		if err != nil {
			return nil, nil, fmt.Errorf("bind_address %q: udp: %w", bind, err)
		}
		tcpAddr := bind
		if port == "0" {
			tcpAddr = net.JoinHostPort(host, strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
		}
		ln, err := net.Listen("tcp", tcpAddr)
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close() // unused: the next try binds another port, or the TCP error is returned
		if port != "0" || try == tries {
			return nil, nil, fmt.Errorf("bind_address %q: tcp: %w", bind, err)
		}
	}
}
