package statefile

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"
)

// resum recomputes b's trailing checksum, so tests and the fuzzer reach the
// checks behind it.
func resum(b []byte) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[len(b)-crcSize:], crc32.Checksum(b[:len(b)-crcSize], castagnoli))
	return b
}

// FuzzDecode: Decode never panics, and whatever it accepts encodes back to
// the same bytes.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	if err := Encode(&buf, sample()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("RGAPST\x00\x01"))
	f.Add([]byte("RGAPST\x00\x02"))
	f.Add([]byte("RGAPST\x00\x03"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, fixed(b)} {
			s, err := Decode(in)
			if err != nil {
				continue
			}
			var out bytes.Buffer
			if err := Encode(&out, s); err != nil {
				t.Fatal(err)
			}
			if in[len(magic)-1] != magic[len(magic)-1] {
				// An older version is written back as the
				// current one: the same state, not the same bytes.
				back, err := Decode(out.Bytes())
				if err != nil || !reflect.DeepEqual(back, s) {
					t.Fatalf("older version %x decodes to %+v, which reads back as %+v, %v", in, s, back, err)
				}
				continue
			}
			if !bytes.Equal(out.Bytes(), in) {
				t.Fatalf("accepted %x but encodes back as %x", in, out.Bytes())
			}
		}
	})
}

// fixed gives b the right magic and checksum, so the fuzzer explores the
// body rather than the checksum.
func fixed(b []byte) []byte {
	if len(b) < headerSize+crcSize {
		return b
	}
	b = bytes.Clone(b)
	copy(b, magic)
	return resum(b)
}
