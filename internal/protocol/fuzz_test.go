package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

var mappedPrefix = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}

func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
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
			case len(b) != Size:
				if err != ErrLength || verr != ErrLength {
					t.Fatalf("len %d: Parse = %v, Verify = %v, want ErrLength", len(b), err, verr)
				}
			case binary.BigEndian.Uint16(b) != Version:
				if err != ErrVersion || verr != ErrVersion {
					t.Fatalf("version %#04x: Parse = %v, Verify = %v, want ErrVersion", b[:2], err, verr)
				}
			default:
				t.Fatalf("Parse rejected a well-formed header: %v", err)
			}
			return
		}
		if len(b) != Size {
			t.Fatalf("Parse accepted %d bytes", len(b))
		}

		// The address is unmapped exactly when the wire form is IPv4-mapped.
		if mapped := bytes.HasPrefix(b[offAddress:], mappedPrefix); a.Addr.Is4() != mapped || a.Addr.Is4In6() {
			t.Fatalf("address bytes %x parsed as %v", b[offAddress:offMAC], a.Addr)
		}

		// Re-encoding the fields reproduces the header exactly.
		re := k.Append(nil, a)
		if !bytes.Equal(re[:offMAC], b[:offMAC]) {
			t.Fatalf("re-encoded header\n%x\nwant\n%x", re[:offMAC], b[:offMAC])
		}
		// Verify accepts exactly the MAC that Append computes.
		if wantOK := bytes.Equal(re[offMAC:], b[offMAC:]); (verr == nil) != wantOK {
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
