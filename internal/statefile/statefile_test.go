package statefile

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

func sample() State {
	return State{
		Written: t0,
		Groups: []group.GroupSnapshot{
			{ID: 1000, Members: []group.Member{
				{Addr: netip.MustParseAddr("192.0.2.10"), Expires: t0.Add(15 * time.Second)},
				{Addr: netip.MustParseAddr("192.0.2.10"), Port: 8080, Weight: 300, Expires: t0.Add(15 * time.Second)},
				{Addr: netip.MustParseAddr("2001:db8::1"), Port: 443, Expires: t0.Add(3 * time.Second)},
			}},
			{ID: 7, Members: []group.Member{}},
		},
	}
}

func encode(t testing.TB, s State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	got, err := Decode(encode(t, want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

// sampleV1 is the state testdata/v1.hex holds: written by the code before
// ports and weights (format version 1).
func sampleV1() State {
	return State{
		Written: t0,
		Groups: []group.GroupSnapshot{
			{ID: 1000, Members: []group.Member{
				{Addr: netip.MustParseAddr("192.0.2.10"), Expires: t0.Add(15 * time.Second)},
				{Addr: netip.MustParseAddr("2001:db8::1"), Expires: t0.Add(3 * time.Second)},
			}},
			{ID: 7, Members: []group.Member{}},
		},
	}
}

// TestDecodeVersion1: a file written by the code before ports and weights
// still loads, its members with port and weight 0.
func TestDecodeVersion1(t *testing.T) {
	h, err := os.ReadFile(filepath.Join("testdata", "v1.hex"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode of a version-1 file: %v", err)
	}
	if want := sampleV1(); !reflect.DeepEqual(got, want) {
		t.Errorf("version-1 file:\n got %+v\nwant %+v", got, want)
	}
}

// TestGolden pins the version-2 layout: a change that would make old files
// unreadable shows here.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "v2.hex")
	got := hex.EncodeToString(encode(t, sample()))
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil { //nolint:gosec // a test fixture, meant to be readable
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != strings.TrimSpace(string(want)) {
		t.Errorf("encoding changed:\n got %s\nwant %s", got, want)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := encode(t, sample())
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "0 bytes, shorter than the smallest state file"},
		{"truncated", good[:len(good)-9], "checksum mismatch"},
		{"one bit flipped", flip(40), "checksum mismatch"},
		{"foreign file", []byte("listen:\n  - 127.0.0.1:8271\ngroups: []\n"), "wrong magic bytes"},
		{"future version", append([]byte("RGAPST\x00\x09"), good[8:]...), "format version 9, want 1 or 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode = %v, want ErrFormat with %q", err, tt.want)
			}
		})
	}
}

// TestDecodeHugeCountsDoNotAllocate: a file that claims billions of
// members (with a valid checksum) is refused before anything is allocated.
func TestDecodeHugeCountsDoNotAllocate(t *testing.T) {
	s := State{Written: t0, Groups: []group.GroupSnapshot{{ID: 1}}}
	b := encode(t, s)
	// Patch the member count to 2^32-1 and fix the checksum.
	b[headerSize+8], b[headerSize+9], b[headerSize+10], b[headerSize+11] = 0xff, 0xff, 0xff, 0xff
	b = resum(b)
	_, err := Decode(b)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "4294967295 members do not fit") {
		t.Fatalf("Decode = %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _ = Decode(b)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4096 {
		t.Errorf("Decode of a file that lies about its size allocated %d bytes", n)
	}
}
