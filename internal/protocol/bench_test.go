package protocol

import (
	"net/netip"
	"testing"
)

func benchPacket(b *testing.B) (*Key, []byte) {
	psk, err := ParsePSK(testPSKHex)
	if err != nil {
		b.Fatal(err)
	}
	k := NewKey(psk)
	return k, k.Append(nil, Announcement{Group: 1000, Timestamp: 1795560795839029, Addr: netip.MustParseAddr("127.1.2.3")})
}

// parseVerify is the listener's per-datagram path.
func parseVerify(k *Key, pkt []byte) error {
	if _, err := Parse(pkt); err != nil {
		return err
	}
	return k.Verify(pkt)
}

// benchParseVerify times parseVerify of pkt, which must return want.
func benchParseVerify(b *testing.B, k *Key, pkt []byte, want error) {
	b.ReportAllocs()
	for b.Loop() {
		if err := parseVerify(k, pkt); err != want {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseVerify(b *testing.B) {
	k, pkt := benchPacket(b)
	benchParseVerify(b, k, pkt, nil)
}

func BenchmarkParseVerifyBadMAC(b *testing.B) {
	k, pkt := benchPacket(b)
	pkt[Size-1] ^= 1
	benchParseVerify(b, k, pkt, ErrMAC)
}

// BenchmarkParseReject covers junk: wrong length and wrong version must not
// allocate either.
func BenchmarkParseReject(b *testing.B) {
	_, pkt := benchPacket(b)
	short := pkt[:Size-1]
	v2 := append([]byte{2, 0}, pkt[2:]...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(short); err != ErrLength {
			b.Fatal(err)
		}
		if _, err := Parse(v2); err != ErrVersion {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseVerifyParallel shares one Key across goroutines, as the
// listener's reader goroutines do.
func BenchmarkParseVerifyParallel(b *testing.B) {
	k, pkt := benchPacket(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := parseVerify(k, pkt); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	k, _ := benchPacket(b)
	a := Announcement{Group: 1000, Timestamp: 1795560795839029, Addr: netip.MustParseAddr("127.1.2.3")}
	buf := make([]byte, 0, Size)
	b.ReportAllocs()
	for b.Loop() {
		buf = k.Append(buf[:0], a)
	}
}

// BenchmarkParseVerifyV2 is the v2 twin of BenchmarkParseVerify: the goal is
// at most 1.1× its time, with 0 allocations.
func BenchmarkParseVerifyV2(b *testing.B) {
	k, _ := benchPacket(b)
	pkt := k.Append(nil, Announcement{Version: VersionV2, Group: 1000, Timestamp: 1795560795839029,
		Addr: netip.MustParseAddr("127.1.2.3"), Port: 8080, Weight: 100})
	benchParseVerify(b, k, pkt, nil)
}
