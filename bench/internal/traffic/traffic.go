// Package traffic signs the announcements the benchmarks send to a
// listener and sends them, as fast as sendmmsg takes them or paced to a
// rate, always to 127.0.0.1: the benchmarks flood their target and must
// never leave the machine.
package traffic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/rgap-project/rgap/internal/protocol"
)

// PSK signs every benchmark announcement. It is public on purpose: it only
// has to match the configuration the benchmark writes for its listener.
const PSK = "5e1f0c2d3b4a59687786950a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e"

// Group is the first group id of the benchmarks' listeners.
const Group = 1000

// Loopback is 127.0.0.1, where every benchmark socket listens.
var Loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// MaxAddrs bounds Addr's index: the addresses stay inside 10.0.0.0/8.
const MaxAddrs = 1 << 24

// Addr returns the i-th announced address, 10.0.0.0 upwards. These
// addresses are only payload: nothing is ever sent to them.
func Addr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// ErrNotLoopback is returned for a destination outside loopback.
var ErrNotLoopback = errors.New("not a loopback address")

// Signer signs announcements with one PSK in one protocol version.
type Signer struct {
	key     *protocol.Key
	version uint16
}

// NewSigner returns a Signer for the hex PSK psk that signs protocol
// version v (1 or 2; v2 announcements carry key id 0, no port, weight 0).
func NewSigner(psk string, v int) (Signer, error) {
	p, err := protocol.ParsePSK(psk)
	if err != nil {
		return Signer{}, fmt.Errorf("bench PSK: %w", err)
	}
	switch v {
	case 1:
		return Signer{key: protocol.NewKey(p), version: protocol.Version}, nil
	case 2:
		return Signer{key: protocol.NewKey(p), version: protocol.VersionV2}, nil
	}
	return Signer{}, fmt.Errorf("protocol %d: want 1 or 2", v)
}

// Append appends the datagram announcing addr in group, stamped at, to dst.
func (s Signer) Append(dst []byte, group uint64, addr netip.Addr, at time.Time) []byte {
	return s.key.Append(dst, protocol.Announcement{Version: s.version, Group: group, Timestamp: at.UnixMicro(), Addr: addr})
}

// Sign returns n datagrams; datagram i announces the member that member(i)
// returns, stamped at + i*step. With a positive step and sent in order, a
// member announced several times is newer each time, as from an agent: the
// listener drops an announcement not newer than the member's last one as a
// replay. A zero step stamps them all at, for members announced once.
func (s Signer) Sign(n int, at time.Time, step time.Duration, member func(i int) (group uint64, addr netip.Addr)) [][]byte {
	buf := make([]byte, 0, n*protocol.SizeV2)
	out := make([][]byte, n)
	for i := range out {
		start := len(buf)
		g, a := member(i)
		buf = s.Append(buf, g, a, at.Add(time.Duration(i)*step))
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}

// Dial connects a UDP socket to dst, which must be a loopback address.
func Dial(dst netip.AddrPort) (*net.UDPConn, error) {
	if !dst.Addr().IsLoopback() {
		return nil, fmt.Errorf("send to %s: %w", dst, ErrNotLoopback)
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", dst, err)
	}
	return c, nil
}

// Options say how Send sends.
type Options struct {
	// Batch is the datagrams per sendmmsg call (1..1024; 0 means 64).
	Batch int
	// Rate paces the sending to this many datagrams per second; 0 sends
	// as fast as the kernel takes them.
	Rate uint64
	// SentAt, when not nil, receives each datagram's send time in Unix
	// nanoseconds, read just before the sendmmsg call that carries it, at
	// the datagram's index; it must be as long as dgrams.
	SentAt []int64
}

// maxErrors bounds the failed sendmmsg calls in a row (a receiver that
// went away makes every call fail) before Send gives up.
const maxErrors = 100

// Result is what Send did.
type Result struct {
	Sent    uint64
	Elapsed time.Duration
}

// Send sends dgrams, in order, on conn with sendmmsg as o says.
func Send(ctx context.Context, conn *net.UDPConn, dgrams [][]byte, o Options) (Result, error) {
	if o.Batch == 0 {
		o.Batch = 64
	}
	if o.Batch < 1 || o.Batch > 1024 {
		return Result{}, fmt.Errorf("batch %d: want 1..1024 (the kernel's UIO_MAXIOV)", o.Batch)
	}
	p := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, o.Batch)
	var r Result
	inARow, next := 0, 0
	start := time.Now()
	for next < len(dgrams) {
		if o.Rate > 0 {
			due := start.Add(time.Duration(r.Sent * uint64(time.Second) / o.Rate))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
		k := min(o.Batch, len(dgrams)-next)
		for i := range k {
			msgs[i].Buffers = dgrams[next+i : next+i+1]
		}
		now := time.Now().UnixNano()
		w, err := p.WriteBatch(msgs[:k], 0)
		if o.SentAt != nil {
			for i := range w {
				o.SentAt[next+i] = now
			}
		}
		r.Sent += uint64(w)
		next += w
		if err != nil {
			if inARow++; inARow > maxErrors {
				return r, fmt.Errorf("send to %s: %d errors in a row after %d datagrams: %w", conn.RemoteAddr(), inARow, r.Sent, err)
			}
			continue
		}
		inARow = 0
	}
	r.Elapsed = time.Since(start)
	return r, nil
}
