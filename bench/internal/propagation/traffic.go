package propagation

import (
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
