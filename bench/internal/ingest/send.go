package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// errNotLoopback is returned when a target outside loopback is given: the
// benchmark floods its target and must never leave the machine.
var errNotLoopback = errors.New("not a loopback address")

// maxConsecutiveSendErrors bounds how long the sender retries failing
// sendmmsg calls (a receiver that went away makes every call fail with
// ECONNREFUSED) before it gives up.
const maxConsecutiveSendErrors = 1000

// sendOptions are the sender's flags.
type sendOptions struct {
	target string // loopback host:port
	n      uint64 // datagrams to send
	batch  int    // datagrams per sendmmsg
	rate   uint64 // datagrams per second; 0 means as fast as possible
}

// runSend is -mode send: it signs the bench datagrams, connects to the
// target, prints "ready", waits for any line on in, then sends n datagrams,
// cycling through the set, and prints "sent N ELAPSED_NS ERRORS".
//
// Without a rate it sends as fast as sendmmsg takes them. With one, it
// spins (it has a core to itself) until each batch is due, so a receiver
// can be measured below its saturation point too.
func runSend(opts sendOptions, in io.Reader, out io.Writer) error {
	target, n, batch := opts.target, opts.n, opts.batch
	dst, err := netip.ParseAddrPort(target)
	if err != nil {
		return fmt.Errorf("-target %q: %w", target, err)
	}
	if !dst.Addr().IsLoopback() {
		return fmt.Errorf("-target %s: %w", target, errNotLoopback)
	}
	if batch < 1 || batch > 1024 {
		return fmt.Errorf("-batch %d: want 1..1024 (the kernel's UIO_MAXIOV)", batch)
	}
	set, err := datagrams(benchAddresses, time.Now())
	if err != nil {
		return err
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return fmt.Errorf("connect %s: %w", dst, err)
	}
	defer func() { _ = conn.Close() }()
	p := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, len(set))
	for i, d := range set {
		msgs[i].Buffers = [][]byte{d}
	}

	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return fmt.Errorf("ready line: %w", err)
	}
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the start line: %w", err)
	}

	var sent, errs uint64
	consecutive := 0
	next := 0
	start := time.Now()
	for sent < n {
		if opts.rate > 0 {
			due := start.Add(time.Duration(sent * uint64(time.Second) / opts.rate))
			for time.Now().Before(due) {
			}
		}
		k := min(batch, len(msgs)-next)
		if left := n - sent; uint64(k) > left {
			k = int(left)
		}
		w, err := p.WriteBatch(msgs[next:next+k], 0)
		sent += uint64(w)
		next = (next + w) % len(msgs)
		if err != nil {
			errs++
			if consecutive++; consecutive > maxConsecutiveSendErrors {
				return fmt.Errorf("send to %s: %d errors in a row after %d datagrams: %w", dst, consecutive, sent, err)
			}
			continue
		}
		consecutive = 0
	}
	elapsed := time.Since(start)
	if _, err := fmt.Fprintf(out, "sent %d %d %d\n", sent, elapsed.Nanoseconds(), errs); err != nil {
		return fmt.Errorf("sent line: %w", err)
	}
	return nil
}
