package ingest

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

// The traffic: benchAddresses distinct addresses of one group, signed with a
// fixed PSK. The PSK is public on purpose: it only has to match the
// configuration the orchestrator writes for the listener.
const (
	benchGroup     = 1000
	benchAddresses = 10_000
	benchPSK       = "b3c1f0e2d4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"
	benchExpire    = 5 * time.Minute
)

// benchAddr returns the i-th announced address, 10.0.0.0 upwards. These
// addresses are only payload: nothing is ever sent to them.
func benchAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// datagrams signs count announcements of distinct addresses with the bench
// PSK, all stamped at now. The listener's expire (and so its clock skew) of
// benchExpire is far longer than a run, so none is refused as stale.
func datagrams(count int, now time.Time) ([][]byte, error) {
	psk, err := protocol.ParsePSK(benchPSK)
	if err != nil {
		return nil, fmt.Errorf("bench PSK: %w", err)
	}
	key := protocol.NewKey(psk)
	ts := now.UnixMicro()
	buf := make([]byte, 0, count*protocol.Size)
	out := make([][]byte, count)
	for i := range out {
		start := len(buf)
		buf = key.Append(buf, protocol.Announcement{Group: benchGroup, Timestamp: ts, Addr: benchAddr(i)})
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out, nil
}
