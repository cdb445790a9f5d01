package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

var mappedPrefix = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}

func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.packet(f))
	}
	for _, v := range loadV2Vectors(f) {
		f.Add(v.packet(f))
	}
	psk, err := ParsePSK(testPSKHex)
	if err != nil {
		f.Fatal(err)
	}
	k := NewKey(psk)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Describe(b)
		a, err := Parse(b)
		verr := k.Verify(b)
		if err != nil {
			switch {
			case len(b) != Size && len(b) != SizeV2:
				if err != ErrLength || verr != ErrLength {
					t.Fatalf("len %d: Parse = %v, Verify = %v, want ErrLength", len(b), err, verr)
				}
			case len(b) == Size && binary.BigEndian.Uint16(b) != Version,
				len(b) == SizeV2 && (binary.BigEndian.Uint16(b) != VersionV2 || b[offV2Flags]&^FlagLeave != 0):
				if err != ErrVersion || verr != ErrVersion {
					t.Fatalf("version %#04x in %d bytes: Parse = %v, Verify = %v, want ErrVersion", b[:2], len(b), err, verr)
				}
			default:
				t.Fatalf("Parse rejected a well-formed header: %v", err)
			}
			return
		}
		header, addrAt := offMAC, offAddress
		if a.V2() {
			header, addrAt = offV2MAC, offV2Address
		}
		if len(b) != header+macSize {
			t.Fatalf("Parse accepted %d bytes as version %#04x", len(b), a.Version)
		}

		// The address is unmapped exactly when the wire form is IPv4-mapped.
		if mapped := bytes.HasPrefix(b[addrAt:], mappedPrefix); a.Addr.Is4() != mapped || a.Addr.Is4In6() {
			t.Fatalf("address bytes %x parsed as %v", b[addrAt:addrAt+16], a.Addr)
		}

		// Re-encoding the fields reproduces the header exactly.
		re := k.Append(nil, a)
		if !bytes.Equal(re[:header], b[:header]) {
			t.Fatalf("re-encoded header\n%x\nwant\n%x", re[:header], b[:header])
		}
		// Verify accepts exactly the MAC that Append computes.
		if wantOK := bytes.Equal(re[header:], b[header:]); (verr == nil) != wantOK {
			t.Fatalf("Verify = %v, but the MAC matches Append's: %v", verr, wantOK)
		}
		if verr != nil && verr != ErrMAC {
			t.Fatalf("Verify = %v, want nil or ErrMAC", verr)
		}
		if err := k.Verify(re); err != nil {
			t.Fatalf("Verify(Append(Parse(b))) = %v", err)
		}
	})
}

// FuzzCrossVersion: a datagram signed as one version never verifies as the
// other, however its bytes are moved into the other's layout: the two MACs
// have domain strings (and input lengths) of their own.
func FuzzCrossVersion(f *testing.F) {
	f.Add(uint64(1000), int64(1764000000000000), []byte{192, 0, 2, 1}, uint16(8080), uint16(100), uint8(0), true)
	f.Add(uint64(0), int64(0), make([]byte, 16), uint16(0), uint16(0), uint8(255), false)
	psk, err := ParsePSK(testPSKHex)
	if err != nil {
		f.Fatal(err)
	}
	k := NewKey(psk)
	f.Fuzz(func(t *testing.T, group uint64, ts int64, ip []byte, port, weight uint16, keyID uint8, leave bool) {
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			return
		}
		a := Announcement{Group: group, Timestamp: ts, Addr: addr, Port: port, Weight: weight, KeyID: keyID, Leave: leave}
		v1 := k.Append(nil, a)
		a.Version = VersionV2
		v2 := k.Append(nil, a)
		if len(v1) != Size || len(v2) != SizeV2 {
			t.Fatalf("lengths %d and %d", len(v1), len(v2))
		}
		if k.Verify(v1) != nil || k.Verify(v2) != nil {
			t.Fatal("a freshly signed datagram does not verify")
		}
		// v1's header and MAC in v2's shape: version, flags and key id
		// set, the v1 fields in place, port and weight from the fuzzer,
		// and the v1 MAC where v2's goes.
		as2 := make([]byte, SizeV2)
		binary.BigEndian.PutUint16(as2, VersionV2)
		copy(as2[offV2Group:], v1[offGroup:offMAC])
		binary.BigEndian.PutUint16(as2[offV2Port:], port)
		binary.BigEndian.PutUint16(as2[offV2Weight:], weight)
		copy(as2[offV2MAC:], v1[offMAC:])
		if k.Verify(as2) == nil {
			t.Fatalf("v1 MAC verifies as v2: %x", as2)
		}
		// And v2's fields and MAC squeezed into v1's shape.
		as1 := make([]byte, Size)
		binary.BigEndian.PutUint16(as1, Version)
		copy(as1[offGroup:], v2[offV2Group:offV2Port])
		copy(as1[offMAC:], v2[offV2MAC:])
		if k.Verify(as1) == nil {
			t.Fatalf("v2 MAC verifies as v1: %x", as1)
		}
	})
}

func FuzzParsePSK(f *testing.F) {
	for _, s := range []string{testPSKHex, strings.ToUpper(testPSKHex), "", testPSKHex[:63], testPSKHex + "\n", "ée", "00\xff"} {
		f.Add(s)
	}
	for _, v := range loadVectors(f) {
		f.Add(v.PSKHex)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePSK(s)
		want, herr := hex.DecodeString(s)
		if ok := herr == nil && len(want) == KeySize; ok != (err == nil) {
			t.Fatalf("ParsePSK(%q) error = %v, but encoding/hex says valid=%v", s, err, ok)
		}
		if err != nil {
			if !errors.Is(err, ErrPSK) {
				t.Fatalf("ParsePSK(%q) error %v does not wrap ErrPSK", s, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "PSK has non-hex character ") && !strings.HasPrefix(msg, "PSK must be 64 hex characters, got ") {
				t.Fatalf("ParsePSK(%q) error %q has an unexpected form", s, msg)
			}
			if p != (PSK{}) {
				t.Fatalf("ParsePSK(%q) returned a key with its error", s)
			}
			return
		}
		if !bytes.Equal(p[:], want) || p.Hex() != strings.ToLower(s) {
			t.Fatalf("ParsePSK(%q) = %s", s, p.Hex())
		}
	})
}
