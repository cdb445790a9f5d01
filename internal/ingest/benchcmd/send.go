package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// maxConsecutiveSendErrors bounds how long the sender retries failing
// sendmmsg calls (a receiver that went away makes every call fail with
// ECONNREFUSED) before it gives up.
const maxConsecutiveSendErrors = 1000

// runSend is -mode send: it signs the bench datagrams, connects to target,
// prints "ready", waits for any line on in, then sends n datagrams as fast
// as sendmmsg takes them, cycling through the set, and prints
// "sent N ELAPSED_NS ERRORS".
func runSend(target string, n uint64, batch int, in io.Reader, out io.Writer) error {
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
	defer conn.Close()
	p := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, len(set))
	for i, d := range set {
		msgs[i].Buffers = [][]byte{d}
	}

	fmt.Fprintln(out, "ready")
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the start line: %w", err)
	}

	var sent, errs uint64
	consecutive := 0
	next := 0
	start := time.Now()
	for sent < n {
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
	fmt.Fprintf(out, "sent %d %d %d\n", sent, elapsed.Nanoseconds(), errs)
	return nil
}
