package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// The traffic: benchAddresses distinct addresses of the bench group,
// signed with the bench PSK, stamped when the sender starts; the group's
// expire (and so its clock skew) is far longer than a run, so none is
// refused as stale.
const (
	benchGroup     = traffic.Group
	benchAddresses = 10_000
	benchExpire    = 5 * time.Minute
)

// sendOptions are the sender's flags.
type sendOptions struct {
	target string // loopback host:port
	n      uint64 // datagrams to send
	batch  int    // datagrams per sendmmsg
	rate   uint64 // datagrams per second; 0 means as fast as possible
	// protocol is the version signed, 1 or 2.
	protocol int
}

// runSend is -mode send: it signs n datagrams in the protocol asked for
// (datagram i announces address i mod benchAddresses, each newer than the
// one before, as agents' announcements are: a repeat would be dropped as a
// replay), connects to the target, prints "ready", waits for any line on
// in, then sends them and prints "sent N ELAPSED_NS ERRORS".
//
// Without a rate it sends as fast as sendmmsg takes them. With one, it
// spins (it has a core to itself) until each batch is due, so a receiver
// can be measured below its saturation point too.
func runSend(opts sendOptions, in io.Reader, out io.Writer) error {
	dst, err := netip.ParseAddrPort(opts.target)
	if err != nil {
		return fmt.Errorf("-target %q: %w", opts.target, err)
	}
	if opts.batch < 1 || opts.batch > 1024 {
		return fmt.Errorf("-batch %d: want 1..1024 (the kernel's UIO_MAXIOV)", opts.batch)
	}
	signer, err := traffic.NewSigner(traffic.PSK, opts.protocol)
	if err != nil {
		return err
	}
	set := signer.Sign(int(opts.n), time.Now(), func(i int) (uint64, netip.Addr) { return benchGroup, traffic.Addr(i % benchAddresses) })
	conn, err := traffic.Dial(dst)
	if err != nil {
		return fmt.Errorf("-target %s: %w", opts.target, err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return fmt.Errorf("ready line: %w", err)
	}
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the start line: %w", err)
	}
	res, err := traffic.Send(context.Background(), conn, set, traffic.Options{Count: opts.n, Batch: opts.batch, Rate: opts.rate, Spin: true}) // the orchestrator stops a sender by killing it
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "sent %d %d %d\n", res.Sent, res.Elapsed.Nanoseconds(), res.Errors); err != nil {
		return fmt.Errorf("sent line: %w", err)
	}
	return nil
}
