package ingest

import (
	"net/netip"
	"time"

	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// The traffic: benchAddresses distinct addresses of the bench group,
// signed with the bench PSK; the group's expire (and so its clock skew) is
// far longer than a run, so none is refused as stale.
const (
	benchGroup     = traffic.Group
	benchAddresses = 10_000
	benchExpire    = 5 * time.Minute
)

// signBurst signs the n datagrams of one burst in protocol version p:
// datagram i announces address i mod benchAddresses, each newer than the
// one before, as agents' announcements are (a repeat would be dropped as a
// replay).
func signBurst(n uint64, p int) ([][]byte, error) {
	signer, err := traffic.NewSigner(traffic.PSK, p)
	if err != nil {
		return nil, err
	}
	return signer.Sign(int(n), time.Now(), time.Microsecond, func(i int) (uint64, netip.Addr) { return benchGroup, traffic.Addr(i % benchAddresses) }), nil //nolint:gosec // -n is bounded by memory long before int overflows
}
