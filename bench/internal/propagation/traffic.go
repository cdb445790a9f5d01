package propagation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/rgap-project/rgap/bench/internal/loopback"
	"github.com/rgap-project/rgap/internal/protocol"
)

// The traffic: distinct addresses of one group, signed with a fixed PSK.
// The PSK is public on purpose: it only has to match the configuration the
// orchestrator writes for the listener.
const (
	benchGroup  = 1000
	benchPSK    = "5e1f0c2d3b4a59687786950a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e"
	benchExpire = time.Hour // far longer than a run: nothing expires, nothing is stale
)

// warmupBase is added to the index of warm-up addresses, so that they
// never collide with measured ones (10.0.0.0/9 vs 10.128.0.0/9).
const warmupBase = 1 << 23

// maxAddresses bounds the addresses one run may announce: they must stay
// inside 10.0.0.0/9.
const maxAddresses = warmupBase

// benchAddr returns the i-th announced address, 10.0.0.0 upwards. These
// addresses are only payload: nothing is ever sent to them.
func benchAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// sign returns one signed announcement per address, all stamped at now.
func sign(addrs []netip.Addr, now time.Time) ([][]byte, error) {
	psk, err := protocol.ParsePSK(benchPSK)
	if err != nil {
		return nil, fmt.Errorf("bench PSK: %w", err)
	}
	key := protocol.NewKey(psk)
	ts := now.UnixMicro()
	buf := make([]byte, 0, len(addrs)*protocol.Size)
	out := make([][]byte, len(addrs))
	for i, a := range addrs {
		start := len(buf)
		buf = key.Append(buf, protocol.Announcement{Group: benchGroup, Timestamp: ts, Addr: a})
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out, nil
}

// dialLoopback connects a UDP socket to the listener's port on 127.0.0.1.
func dialLoopback(port uint16) (*net.UDPConn, error) {
	dst := netip.AddrPortFrom(loopback.Addr, port)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", dst, err)
	}
	return c, nil
}

// pacedResult is what sendPaced did.
type pacedResult struct {
	// SentAt holds each datagram's send time in Unix nanoseconds, read
	// just before its write.
	SentAt []int64
	// Elapsed runs from the first write to the last.
	Elapsed time.Duration
}

// Rate is the datagrams per second actually sent.
func (r pacedResult) Rate() float64 {
	if r.Elapsed <= 0 || len(r.SentAt) < 2 {
		return 0
	}
	return float64(len(r.SentAt)-1) / r.Elapsed.Seconds()
}

// sendPaced sends datagram i at start + i/rate. Every tick it sends, back
// to back, all datagrams due by then, so at 10,000/s and a 1 ms tick the
// listener sees bursts of about ten every millisecond, and a late tick is
// caught up rather than lowering the rate.
func sendPaced(ctx context.Context, conn *net.UDPConn, dgrams [][]byte, rate int, tick time.Duration) (pacedResult, error) {
	if rate < 1 {
		return pacedResult{}, fmt.Errorf("rate %d: want at least 1 datagram/s", rate)
	}
	res := pacedResult{SentAt: make([]int64, len(dgrams))}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	start := time.Now()
	next := 0
	for next < len(dgrams) {
		due := int(time.Since(start).Nanoseconds()*int64(rate)/int64(time.Second)) + 1
		for ; next < min(due, len(dgrams)); next++ {
			now := time.Now()
			if _, err := conn.Write(dgrams[next]); err != nil {
				return res, fmt.Errorf("send datagram %d of %d: %w", next+1, len(dgrams), err)
			}
			res.SentAt[next] = now.UnixNano()
		}
		if next == len(dgrams) {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-ticker.C:
		}
	}
	if len(dgrams) > 0 {
		res.Elapsed = time.Duration(res.SentAt[len(dgrams)-1] - res.SentAt[0])
	}
	return res, nil
}

// fillBatch is the datagrams per sendmmsg call of sendFast.
const fillBatch = 64

// errSend marks a fill whose sendmmsg calls kept failing.
var errSend = errors.New("sending failed")

// sendFast sends every datagram with sendmmsg, in batches of fillBatch,
// at most rate datagrams per second (spinning on the clock between
// batches), to fill the group without overflowing the listener's socket.
func sendFast(ctx context.Context, conn *net.UDPConn, dgrams [][]byte, rate int) error {
	p := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, len(dgrams))
	for i, d := range dgrams {
		msgs[i].Buffers = [][]byte{d}
	}
	start := time.Now()
	failures := 0
	for sent := 0; sent < len(msgs); {
		if err := ctx.Err(); err != nil {
			return err
		}
		if due := start.Add(time.Duration(int64(sent) * int64(time.Second) / int64(rate))); time.Now().Before(due) {
			time.Sleep(time.Until(due))
		}
		n, err := p.WriteBatch(msgs[sent:min(sent+fillBatch, len(msgs))], 0)
		sent += n
		if err != nil {
			if failures++; failures > 100 {
				return fmt.Errorf("%w: sendmmsg after %d of %d datagrams: %w", errSend, sent, len(msgs), err)
			}
		}
	}
	return nil
}
