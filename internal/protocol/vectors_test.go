package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
)

// vector is one entry of testdata/announcements.json, which holds datagrams
// captured from the reference rgap agent plus deliberately broken ones.
type vector struct {
	Name        string `json:"name"`
	PSKHex      string `json:"psk_hex"`
	Group       uint64 `json:"group"` // may exceed 2^53: decoded exactly as uint64
	Address     string `json:"address"`
	TimestampUS int64  `json:"timestamp_us"`
	PacketHex   string `json:"packet_hex"`
	Valid       bool   `json:"valid"`
	Reason      string `json:"reason"`
	AgentArgs   string `json:"agent_args"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/announcements.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&struct {
		Format  string    `json:"format"`
		Vectors *[]vector `json:"vectors"`
	}{Vectors: &file.Vectors}); err != nil {
		t.Fatalf("testdata/announcements.json: %v", err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("testdata/announcements.json: no vectors")
	}
	return file.Vectors
}

func (v vector) packet(t testing.TB) []byte {
	t.Helper()
	return vectorPacket(t, v.Name, v.PacketHex)
}

// vectorPacket decodes the packet_hex of the test vector name.
func vectorPacket(t testing.TB, name, packetHex string) []byte {
	t.Helper()
	b, err := hex.DecodeString(packetHex)
	if err != nil {
		t.Fatalf("%s: packet_hex: %v", name, err)
	}
	return b
}

func (v vector) key(t testing.TB) *Key {
	t.Helper()
	psk, err := ParsePSK(v.PSKHex)
	if err != nil {
		t.Fatalf("%s: psk_hex: %v", v.Name, err)
	}
	return NewKey(psk)
}

func (v vector) announcement(t testing.TB) Announcement {
	t.Helper()
	addr, err := netip.ParseAddr(v.Address)
	if err != nil {
		t.Fatalf("%s: address: %v", v.Name, err)
	}
	return Announcement{Version: Version, Group: v.Group, Timestamp: v.TimestampUS, Addr: addr}
}

// wantErr maps an invalid vector's recorded reason to the sentinel a
// receiver must drop it with. An unknown reason fails the test, so a new
// kind of vector cannot be skipped silently.
func (v vector) wantErr(t testing.TB) error {
	t.Helper()
	switch {
	case strings.HasPrefix(v.Reason, "wrong length"):
		return ErrLength
	case strings.HasPrefix(v.Reason, "unsupported version"):
		return ErrVersion
	case strings.HasPrefix(v.Reason, "HMAC mismatch"):
		return ErrMAC
	}
	t.Fatalf("%s: unrecognised reason %q", v.Name, v.Reason)
	return nil
}

// TestVectors runs every recorded vector the way the listener does: Parse,
// then Verify with the group's PSK (psk_hex), and checks the outcome.
func TestVectors(t *testing.T) {
	var valid, invalid int
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			b := v.packet(t)
			k := v.key(t)
			if v.Valid {
				valid++
				a, err := Parse(b)
				if err != nil {
					t.Fatalf("Parse: %v (%s)", err, Describe(b))
				}
				if want := v.announcement(t); a != want {
					t.Errorf("Parse = %v, want %v", a, want)
				}
				if a.Addr.Is4In6() {
					t.Errorf("Parse returned IPv4-mapped address %v, want it unmapped", a.Addr)
				}
				if err := k.Verify(b); err != nil {
					t.Errorf("Verify: %v", err)
				}
				return
			}

			invalid++
			want := v.wantErr(t)
			a, err := Parse(b)
			if err == nil {
				err = k.Verify(b)
			}
			if !errors.Is(err, want) {
				t.Fatalf("Parse+Verify error = %v, want %v (reason: %s)", err, want, v.Reason)
			}
			// Verify alone must reach the same verdict: length and
			// version win over the MAC.
			if err := k.Verify(b); !errors.Is(err, want) {
				t.Errorf("Verify alone = %v, want %v", err, want)
			}
			if want != ErrMAC && a != (Announcement{}) {
				t.Errorf("rejected datagram parsed to %v, want zero Announcement", a)
			}
		})
	}
	if valid == 0 || invalid == 0 {
		t.Errorf("ran %d valid and %d invalid vectors, want some of each", valid, invalid)
	}
}

// TestVectorWrongPSK makes sure the wrong-PSK vector fails for the reason it
// claims: it verifies under another PSK from the file, so it is a genuine
// packet and only the key differs.
func TestVectorWrongPSK(t *testing.T) {
	vs := loadVectors(t)
	found := false
	for _, v := range vs {
		if !strings.Contains(v.Reason, "verified with") {
			continue
		}
		found = true
		b := v.packet(t)
		signer := ""
		for _, other := range vs {
			if other.Valid && other.PSKHex != v.PSKHex && other.key(t).Verify(b) == nil {
				signer = other.PSKHex
			}
		}
		if signer == "" {
			t.Errorf("%s: no other PSK in the file verifies it, so it is not a wrong-PSK case", v.Name)
		} else if !strings.Contains(v.Reason, signer[:8]) {
			t.Errorf("%s: verifies with PSK %s..., reason says %q", v.Name, signer[:8], v.Reason)
		}
	}
	if !found {
		t.Fatal("no wrong-PSK vector in testdata")
	}
}

// TestAppendVectors re-signs every valid vector's fields with its PSK and
// expects the captured datagram byte for byte.
func TestAppendVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		if !v.Valid {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			want := v.packet(t)
			a := v.announcement(t)
			k := v.key(t)
			if got := k.Append(nil, a); !bytes.Equal(got, want) {
				t.Errorf("Append(%v) =\n%x\nwant\n%x", a, got, want)
			}
			// The same address in IPv4-mapped form encodes identically.
			if a.Addr.Is4() {
				a.Addr = netip.AddrFrom16(a.Addr.As16())
				if got := k.Append(nil, a); !bytes.Equal(got, want) {
					t.Errorf("Append with mapped %v =\n%x\nwant\n%x", a.Addr, got, want)
				}
			}
			// Append extends dst and leaves its existing bytes alone.
			prefix := []byte("prefix")
			got := k.Append(bytes.Clone(prefix), v.announcement(t))
			if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
				t.Errorf("Append after %q = %x", prefix, got)
			}
		})
	}
}

func TestParseAddressForms(t *testing.T) {
	k := NewKey(PSK{1})
	for _, tc := range []struct {
		in, want string
	}{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"::", "::"},
		{"::1", "::1"},
		{"::192.0.2.1", "::c000:201"}, // IPv4-compatible is not IPv4-mapped: stays IPv6
		{"fe80::1%eth0", "fe80::1"},   // zones are not on the wire
	} {
		b := k.Append(nil, Announcement{Group: 7, Timestamp: -1, Addr: netip.MustParseAddr(tc.in)})
		a, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: Parse: %v", tc.in, err)
		}
		if a.Addr.String() != tc.want || a.Group != 7 || a.Timestamp != -1 {
			t.Errorf("%s: round trip = %v, want address %s, group 7, timestamp -1", tc.in, a, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good := NewKey(PSK{1}).Append(nil, Announcement{Group: 1, Addr: netip.MustParseAddr("192.0.2.1")})
	v2 := bytes.Clone(good)
	v2[1] = 0x01 // version 0x0101
	for _, tc := range []struct {
		name     string
		b        []byte
		want     error
		describe string
	}{
		{"nil", nil, ErrLength, "length 0 bytes, want 66 (v1) or 72 (v2)"},
		{"one byte", []byte{1}, ErrLength, "length 1 bytes, want 66 (v1) or 72 (v2)"},
		{"65", good[:65], ErrLength, "length 65 bytes, want 66 (v1) or 72 (v2)"},
		{"67", append(bytes.Clone(good), 0), ErrLength, "length 67 bytes, want 66 (v1) or 72 (v2)"},
		{"version 0x0101", v2, ErrVersion, "version 0x0101 in a 66-byte datagram, want 0x0100"},
		{"version 0x0000", append([]byte{0, 0}, good[2:]...), ErrVersion, "version 0x0000 in a 66-byte datagram, want 0x0100"},
	} {
		a, err := Parse(tc.b)
		if err != tc.want {
			t.Errorf("%s: Parse error = %v, want the bare %v", tc.name, err, tc.want)
		}
		if a != (Announcement{}) {
			t.Errorf("%s: Parse returned %v with an error", tc.name, a)
		}
		if got := Describe(tc.b); got != tc.describe {
			t.Errorf("%s: Describe = %q, want %q", tc.name, got, tc.describe)
		}
	}
}

func TestDescribeAccepted(t *testing.T) {
	b := NewKey(PSK{1}).Append(nil, Announcement{
		Group: 18446744073709551615, Timestamp: 1795560795839029, Addr: netip.MustParseAddr("2001:db8::1"),
	})
	b[Size-1] ^= 1 // a bad MAC does not matter to Describe
	want := "group 18446744073709551615 address 2001:db8::1 time 2026-11-24T22:53:15.839029Z"
	if got := Describe(b); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestTime(t *testing.T) {
	a := Announcement{Timestamp: 1795560795839029}
	if got, want := a.Time().UTC().Format("2006-01-02T15:04:05.000000Z"), "2026-11-24T22:53:15.839029Z"; got != want {
		t.Errorf("Time = %s, want %s", got, want)
	}
	if got := a.Time().UnixMicro(); got != a.Timestamp {
		t.Errorf("Time().UnixMicro() = %d, want %d", got, a.Timestamp)
	}
}

// TestVerifyConcurrent shares one Key between goroutines; run with -race it
// proves Verify and Append need no per-goroutine copy.
func TestVerifyConcurrent(t *testing.T) {
	psk := PSK{9, 8, 7}
	k := NewKey(psk)
	other := NewKey(PSK{1})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				a := Announcement{Group: uint64(g), Timestamp: int64(i), Addr: netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i)})}
				b := k.Append(nil, a)
				if err := k.Verify(b); err != nil {
					t.Errorf("goroutine %d: Verify(%v) = %v", g, a, err)
					return
				}
				if err := other.Verify(b); err != ErrMAC {
					t.Errorf("goroutine %d: Verify with another PSK = %v, want ErrMAC", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestVerifyDetectsEveryBitFlip(t *testing.T) {
	k := NewKey(PSK{5})
	b := k.Append(nil, Announcement{Group: 1000, Timestamp: 42, Addr: netip.MustParseAddr("127.1.2.3")})
	for i := offGroup * 8; i < Size*8; i++ { // version bits are covered by TestParseRejects
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if err := k.Verify(c); err != ErrMAC {
			t.Errorf("bit %d flipped: Verify = %v, want ErrMAC", i, err)
		}
	}
}
