package propagation

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/rgap-project/rgap/bench/internal/loopback"
	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// benchGroup is the group of the propagation listener; benchAddr its i-th
// address.
const benchGroup = traffic.Group

var benchAddr = traffic.Addr

// benchExpire is far longer than a run: nothing expires, nothing is stale.
const benchExpire = time.Hour

// warmupBase is added to the index of warm-up addresses, so that they
// never collide with measured ones (10.0.0.0/9 vs 10.128.0.0/9).
const warmupBase = 1 << 23

// maxAddresses bounds the addresses one run may announce: they must stay
// inside 10.0.0.0/9.
const maxAddresses = warmupBase

// signAddrs returns one signed announcement per address of benchGroup, all
// stamped at now.
func signAddrs(addrs []netip.Addr, now time.Time) ([][]byte, error) {
	s, err := traffic.NewSigner(traffic.PSK, 1)
	if err != nil {
		return nil, err
	}
	return s.Sign(len(addrs), now, 0, func(i int) (uint64, netip.Addr) { return benchGroup, addrs[i] }), nil
}

// dialLoopback connects a UDP socket to the listener's port on 127.0.0.1.
func dialLoopback(port uint16) (*net.UDPConn, error) {
	return traffic.Dial(netip.AddrPortFrom(loopback.Addr, port))
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
