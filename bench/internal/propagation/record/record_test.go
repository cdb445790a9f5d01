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
		got, err := Parse[Join](Append(nil, js...))
		if err != nil {
			t.Fatalf("Parse(Append(%v)): %v", js, err)
		}
		if !slices.Equal(got, js) {
			t.Errorf("round trip of %v = %v", js, got)
		}
	}
}

func TestSnapshotsRoundTrip(t *testing.T) {
	recs := []Snapshot{
		{Kind: FirstSnapshot, PID: 42, Forked: 1000, At: 4000, Members: 0, ViaSnapshot: true},
		{Kind: Complete, PID: 42, Forked: 1000, At: 9000, Members: 100_000, Heap: 12_345_678},
	}
	got, err := Parse[Snapshot](Append(nil, recs...))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, recs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, recs)
	}
}

// TestParsePartialLine: a line still being written is not a record yet.
func TestParsePartialLine(t *testing.T) {
	line := Append(nil, Snapshot{Kind: Complete, PID: 7, Members: 3})
	for cut := range len(line) {
		b := append(slices.Clone(line), line[:cut]...)
		got, err := Parse[Snapshot](b)
		if err != nil || len(got) != 1 || got[0].PID != 7 {
			t.Fatalf("a complete line plus %d bytes of the next: %+v, %v; want just the first record", cut, got, err)
		}
	}
	if got, err := Parse[Snapshot](line[:len(line)-1]); err != nil || len(got) != 0 {
		t.Errorf("an unterminated line alone: %+v, %v; want nothing", got, err)
	}
}

func TestParseRejects(t *testing.T) {
	good := string(Append(nil, Snapshot{Kind: Complete, PID: 7, Members: 3}))
	tests := []struct {
		name, in, want string
	}{
		{"unknown kind", strings.Replace(good, `"kind":"complete"`, `"kind":"done"`, 1), "line 1: kind"},
		{"renamed field", strings.Replace(good, `"members":`, `"member":`, 1), "unknown field"},
		{"not a number", strings.Replace(good, `"at":0`, `"at":"x"`, 1), "line 1"},
		{"zero pid", strings.Replace(good, `"pid":7`, `"pid":0`, 1), "pid 0"},
		{"second line bad", good + "garbage\n", "line 2"},
	}
	for _, tt := range tests {
		_, err := Parse[Snapshot]([]byte(tt.in))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse(%q) = %v; want ErrFormat mentioning %q", tt.name, tt.in, err, tt.want)
		}
	}
	if _, err := Parse[Join]([]byte(`{"addr":"not an address","at":1}` + "\n")); !errors.Is(err, ErrFormat) {
		t.Errorf("a join with a bad address: %v, want ErrFormat", err)
	}
}

func FuzzParseSnapshots(f *testing.F) {
	f.Add(Append(nil, Snapshot{Kind: Complete, PID: 7, Members: 3, ViaSnapshot: true}))
	f.Add([]byte(`{"kind":"first","pid":1}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Parse[Snapshot](b)
		if err != nil {
			return
		}
		again, err := Parse[Snapshot](Append(nil, recs...))
		if err != nil || !slices.Equal(again, recs) {
			t.Fatalf("re-encoding %+v: %+v, %v", recs, again, err)
		}
	})
}
