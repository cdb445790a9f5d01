package record

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestJoinsRoundTrip(t *testing.T) {
	tests := [][]Join{
		nil,
		{{Addr: netip.MustParseAddr("10.0.0.1"), At: 1_700_000_000_123_456_789}},
		{
			{Addr: netip.MustParseAddr("10.128.3.4"), At: 1},
			{Addr: netip.MustParseAddr("2001:db8::7"), At: 2},
			{Addr: netip.MustParseAddr("10.0.0.1"), At: -5}, // a clock before 1970 still decodes
		},
	}
	for _, js := range tests {
		got, err := ParseJoins(AppendJoins(nil, js))
		if err != nil {
			t.Fatalf("ParseJoins(AppendJoins(%v)): %v", js, err)
		}
		if !slices.Equal(got, js) && (len(got) != 0 || len(js) != 0) {
			t.Errorf("round trip of %v = %v", js, got)
		}
	}
}

// TestJoinsIPv4Plain checks that IPv4 members come back as 4-byte
// addresses, so they compare equal to what the orchestrator sent.
func TestJoinsIPv4Plain(t *testing.T) {
	js, err := ParseJoins(AppendJoins(nil, []Join{{Addr: netip.MustParseAddr("::ffff:10.1.2.3"), At: 7}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddr("10.1.2.3"); js[0].Addr != want {
		t.Errorf("address %v, want %v", js[0].Addr, want)
	}
}

func TestParseJoinsRejects(t *testing.T) {
	good := AppendJoins(nil, []Join{{Addr: netip.MustParseAddr("10.0.0.1"), At: 1}, {Addr: netip.MustParseAddr("10.0.0.2"), At: 2}})
	tests := map[string][]byte{
		"empty":           nil,
		"other header":    append([]byte("RGAPJOIN2\n"), good[len(joinMagic):]...),
		"truncated count": good[:len(joinMagic)+3],
		"short body":      good[:len(good)-1],
		"long body":       append(slices.Clone(good), 0),
		"huge count":      append([]byte(joinMagic), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	}
	for name, b := range tests {
		if js, err := ParseJoins(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: ParseJoins = %v, %v; want ErrFormat", name, js, err)
		}
	}
}

func TestSnapshotsRoundTrip(t *testing.T) {
	recs := []Snapshot{
		{Kind: FirstSnapshot, PID: 42, Forked: 1000, Init: 2000, Configured: 3000, At: 4000, Members: 0, ViaSnapshot: true, CPU: 5, GCs: 1},
		{Kind: Complete, PID: 42, Forked: 1000, Init: 2000, Configured: 3000, At: 9000, Members: 100_000, CPU: 400_000_000, GCs: 8, Heap: 12_345_678},
	}
	var b []byte
	for _, r := range recs {
		b = AppendSnapshot(b, r)
	}
	got, err := ParseSnapshots(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, recs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, recs)
	}
}

// TestParseSnapshotsPartialLine: a line still being written is not a
// record yet.
func TestParseSnapshotsPartialLine(t *testing.T) {
	line := AppendSnapshot(nil, Snapshot{Kind: Complete, PID: 7, Members: 3})
	for cut := range len(line) {
		b := append(slices.Clone(line), line[:cut]...)
		got, err := ParseSnapshots(b)
		if err != nil || len(got) != 1 || got[0].PID != 7 {
			t.Fatalf("a complete line plus %d bytes of the next: %+v, %v; want just the first record", cut, got, err)
		}
	}
	if got, err := ParseSnapshots(line[:len(line)-1]); err != nil || len(got) != 0 {
		t.Errorf("an unterminated line alone: %+v, %v; want nothing", got, err)
	}
}

func TestParseSnapshotsRejects(t *testing.T) {
	good := string(AppendSnapshot(nil, Snapshot{Kind: Complete, PID: 7, Members: 3}))
	tests := []struct {
		name, in, want string
	}{
		{"unknown kind", strings.Replace(good, "kind=complete", "kind=done", 1), "line 1: kind"},
		{"missing field", strings.Replace(good, " gcs=0", "", 1), "fields"},
		{"renamed field", strings.Replace(good, "members=", "member=", 1), "field 7"},
		{"not a number", strings.Replace(good, "at=0", "at=x", 1), "at:"},
		{"negative", strings.Replace(good, "cpu=0", "cpu=-1", 1), "negative"},
		{"zero pid", strings.Replace(good, "pid=7", "pid=0", 1), "out of range"},
		{"bad bool", strings.Replace(good, "via_snapshot=false", "via_snapshot=maybe", 1), "via_snapshot"},
		{"second line bad", good + "garbage\n", "line 2"},
	}
	for _, tt := range tests {
		_, err := ParseSnapshots([]byte(tt.in))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ParseSnapshots(%q) = %v; want ErrFormat mentioning %q", tt.name, tt.in, err, tt.want)
		}
	}
}

func FuzzParseJoins(f *testing.F) {
	f.Add(AppendJoins(nil, []Join{{Addr: netip.MustParseAddr("10.0.0.1"), At: 1}}))
	f.Add([]byte(joinMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		js, err := ParseJoins(b)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to an equivalent file.
		again, err := ParseJoins(AppendJoins(nil, js))
		if err != nil || len(again) != len(js) {
			t.Fatalf("re-encoding %d records: %d records, %v", len(js), len(again), err)
		}
		for i := range js {
			if again[i] != js[i] {
				t.Fatalf("record %d: %+v re-encodes as %+v", i, js[i], again[i])
			}
		}
	})
}

func FuzzParseSnapshots(f *testing.F) {
	f.Add(AppendSnapshot(nil, Snapshot{Kind: Complete, PID: 7, Members: 3, ViaSnapshot: true}))
	f.Add([]byte("kind=first pid=1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := ParseSnapshots(b)
		if err != nil {
			return
		}
		var out []byte
		for _, r := range recs {
			out = AppendSnapshot(out, r)
		}
		again, err := ParseSnapshots(out)
		if err != nil || !slices.Equal(again, recs) {
			t.Fatalf("re-encoding %+v: %+v, %v", recs, again, err)
		}
	})
}
