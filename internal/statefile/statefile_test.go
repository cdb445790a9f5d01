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
	s := sampleV2()
	s.Groups[0].Marks = []group.Mark{
		{Addr: netip.MustParseAddr("192.0.2.10"), Timestamp: t0},
		{Addr: netip.MustParseAddr("192.0.2.10"), Port: 8080, Timestamp: t0.Add(-time.Millisecond)},
		{Addr: netip.MustParseAddr("192.0.2.11"), Port: 8080, Timestamp: t0.Add(-time.Second), Until: t0.Add(59 * time.Second)},
		{Addr: netip.MustParseAddr("2001:db8::1"), Port: 443, Timestamp: t0.Add(-12 * time.Second)},
	}
	s.Groups[1].Marks = []group.Mark{
		{Addr: netip.MustParseAddr("2001:db8::2"), Timestamp: t0.Add(-2 * time.Second), Until: t0.Add(30 * time.Second)},
	}
	return s
}

// sampleV2 is the state testdata/v2.hex holds: written by the code before
// anti-replay marks were saved (format version 2).
func sampleV2() State {
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

// TestDecodeOlderVersions: files written by earlier code still load:
// version 1 (before ports and weights) with port and weight 0, version 2
// (before anti-replay marks) without marks.
func TestDecodeOlderVersions(t *testing.T) {
	for _, tt := range []struct {
		file string
		want State
	}{
		{"v1.hex", sampleV1()},
		{"v2.hex", sampleV2()},
	} {
		t.Run(tt.file, func(t *testing.T) {
			h, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			b, err := hex.DecodeString(strings.TrimSpace(string(h)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode of %s: %v", tt.file, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s:\n got %+v\nwant %+v", tt.file, got, tt.want)
			}
		})
	}
}

// TestGolden pins the version-3 layout: a change that would make old files
// unreadable shows here.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "v3.hex")
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
		{"future version", append([]byte("RGAPST\x00\x09"), good[8:]...), "format version 9, want 1 to 3"},
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
// members or marks (with a valid checksum) is refused before anything is
// allocated.
func TestDecodeHugeCountsDoNotAllocate(t *testing.T) {
	for _, tt := range []struct {
		name string
		at   int // offset of the count patched to 2^32-1
		want string
	}{
		{"members", headerSize + 8, "4294967295 members do not fit"},
		{"marks", headerSize + groupSize, "group 1: 4294967295 marks do not fit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := State{Written: t0, Groups: []group.GroupSnapshot{{ID: 1}}}
			b := encode(t, s)
			copy(b[tt.at:], []byte{0xff, 0xff, 0xff, 0xff})
			b = resum(b)
			_, err := Decode(b)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode = %v, want %q", err, tt.want)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _ = Decode(b)
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 4096 {
				t.Errorf("Decode of a file that lies about its size allocated %d bytes", n)
			}
		})
	}
}
