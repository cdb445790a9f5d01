package traffic

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

// TestSign checks the traffic a listener is fed, in both protocol
// versions: every datagram a valid announcement of the member asked for,
// signed with the bench PSK, and each stamped later than the one before, so
// that a member announced again is not dropped as a replay.
func TestSign(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 891_234_000, time.UTC)
	psk, err := protocol.ParsePSK(PSK)
	if err != nil {
		t.Fatal(err)
	}
	key := protocol.NewKey(psk)
	for _, tc := range []struct {
		protocol int
		size     int
		version  uint16
	}{{1, protocol.Size, protocol.Version}, {2, protocol.SizeV2, protocol.VersionV2}} {
		s, err := NewSigner(PSK, tc.protocol)
		if err != nil {
			t.Fatal(err)
		}
		const n, members = 1000, 300 // members announced up to four times
		set := s.Sign(n, now, time.Microsecond, func(i int) (uint64, netip.Addr) { return Group + uint64(i%7), Addr(i % members) })
		if len(set) != n {
			t.Fatalf("v%d: %d datagrams, want %d", tc.protocol, len(set), n)
		}
		last := map[netip.Addr]int64{}
		for i, d := range set {
			a, err := protocol.Parse(d)
			if err != nil {
				t.Fatalf("v%d datagram %d: %v", tc.protocol, i, err)
			}
			if err := key.Verify(d); err != nil {
				t.Fatalf("v%d datagram %d: %v", tc.protocol, i, err)
			}
			if a.Version != tc.version || a.Group != Group+uint64(i%7) || a.Addr != Addr(i%members) {
				t.Fatalf("v%d datagram %d: version %#x group %d address %s, want %#x, %d, %s", tc.protocol, i, a.Version, a.Group, a.Addr, tc.version, Group+uint64(i%7), Addr(i%members))
			}
			if want := now.UnixMicro() + int64(i); a.Timestamp != want || a.Timestamp <= last[a.Addr] {
				t.Fatalf("v%d datagram %d: timestamp %d, want %d, newer than the member's last %d", tc.protocol, i, a.Timestamp, want, last[a.Addr])
			}
			last[a.Addr] = a.Timestamp
		}
		// The slices share one backing array but must not overlap:
		// appending to one may not overwrite the next.
		if cap(set[0]) != tc.size {
			t.Errorf("v%d: cap of a datagram = %d, want %d", tc.protocol, cap(set[0]), tc.size)
		}
	}
	if _, err := NewSigner(PSK, 3); err == nil {
		t.Error("NewSigner(protocol 3) succeeded, want an error")
	}
	// A zero step stamps every datagram at the same time.
	s, err := NewSigner(PSK, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range s.Sign(3, now, 0, func(i int) (uint64, netip.Addr) { return Group, Addr(i) }) {
		if a, err := protocol.Parse(d); err != nil || a.Timestamp != now.UnixMicro() {
			t.Errorf("step 0, datagram %d: %+v, %v; want stamped %d", i, a, err, now.UnixMicro())
		}
	}
}

// TestSendLoopbackOnly: a destination off the machine is refused before
// anything is sent.
func TestSendLoopbackOnly(t *testing.T) {
	for _, dst := range []string{"192.0.2.1:8282", "[2001:db8::1]:8282", "0.0.0.0:8282"} {
		if c, err := Dial(netip.MustParseAddrPort(dst)); !errors.Is(err, ErrNotLoopback) {
			if c != nil {
				_ = c.Close()
			}
			t.Errorf("Dial(%s) = %v, want ErrNotLoopback", dst, err)
		}
	}
}

// TestSendCounts sends a set of datagrams twice to a loopback socket and
// checks every one arrives, in order.
func TestSendCounts(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rx.Close() }()
	conn, err := Dial(rx.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	set := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	res, err := Send(context.Background(), conn, set, Options{Batch: 2, Rate: 10_000})
	if err != nil || res.Sent != 3 {
		t.Fatalf("Send = %+v, %v; want 3 sent, no error", res, err)
	}
	// The set once, in bursts of two 200 µs apart, noting send times.
	sentAt := make([]int64, 3)
	before := time.Now().UnixNano()
	if _, err := Send(context.Background(), conn, set, Options{Batch: 2, Rate: 10_000, SentAt: sentAt}); err != nil {
		t.Fatal(err)
	}
	if sentAt[0] < before || sentAt[1] != sentAt[0] || sentAt[2]-sentAt[1] < int64(150*time.Microsecond) || sentAt[2] > time.Now().UnixNano() {
		t.Errorf("send times %v (from %d): want the first burst's two equal and the third at least 150 µs later", sentAt, before)
	}
	buf := make([]byte, 16)
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 6 {
		n, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if got, want := string(buf[:n]), string(set[i%3]); got != want {
			t.Fatalf("datagram %d = %q, want %q", i, got, want)
		}
	}
}
