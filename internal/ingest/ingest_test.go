package ingest

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/protocol"
)

var (
	t0   = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	psk1 = mustPSK("8f1302643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431")
	psk2 = mustPSK("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
)

func mustPSK(s string) protocol.PSK {
	p, err := protocol.ParsePSK(s)
	if err != nil {
		panic(err)
	}
	return p
}

type fixture struct {
	reg *group.Registry
	p   *Pipeline
	w   *Worker
	key *protocol.Key
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clock := group.NewFakeClock(t0)
	reg, err := group.New([]group.Config{{ID: 1000, Expire: 15 * time.Second}}, group.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	key := protocol.NewKey(psk1)
	p, err := New([]Group{{ID: 1000, Key: key, ClockSkew: 10 * time.Second}}, reg, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{reg: reg, p: p, w: p.NewWorker(), key: key}
}

func announce(key *protocol.Key, g uint64, addr string, ts time.Time) []byte {
	return key.Append(nil, protocol.Announcement{Group: g, Timestamp: ts.UnixMicro(), Addr: netip.MustParseAddr(addr)})
}

func TestHandleCountsEveryReason(t *testing.T) {
	key1 := protocol.NewKey(psk1)
	key2 := protocol.NewKey(psk2)
	good := func() []byte { return announce(key1, 1000, "192.0.2.1", t0) }
	tests := []struct {
		name   string
		dgram  []byte
		reason Reason // ignored when accept
		accept bool
	}{
		{"valid", good(), 0, true},
		{"valid at the skew limit in the past", announce(key1, 1000, "192.0.2.2", t0.Add(-10*time.Second)), 0, true},
		{"valid at the skew limit in the future", announce(key1, 1000, "192.0.2.3", t0.Add(10*time.Second)), 0, true},
		{"empty", nil, ReasonLength, false},
		{"65 bytes", good()[:65], ReasonLength, false},
		{"67 bytes", append(good(), 0), ReasonLength, false},
		{"1500 bytes", make([]byte, 1500), ReasonLength, false},
		{"version 2", func() []byte { d := good(); binary.BigEndian.PutUint16(d, 0x0200); return d }(), ReasonVersion, false},
		{"version 0", func() []byte { d := good(); binary.BigEndian.PutUint16(d, 0); return d }(), ReasonVersion, false},
		{"unknown group", announce(key1, 1001, "192.0.2.1", t0), ReasonUnknownGroup, false},
		{"signed with another key", announce(key2, 1000, "192.0.2.1", t0), ReasonMAC, false},
		{"tampered address", func() []byte { d := good(); d[33] ^= 1; return d }(), ReasonMAC, false},
		{"tampered signature", func() []byte { d := good(); d[65] ^= 0x80; return d }(), ReasonMAC, false},
		{"too old", announce(key1, 1000, "192.0.2.1", t0.Add(-10*time.Second-time.Microsecond)), ReasonClockSkew, false},
		{"too far in the future", announce(key1, 1000, "192.0.2.1", t0.Add(10*time.Second+time.Microsecond)), ReasonClockSkew, false},
		{"timestamp at the end of time", func() []byte {
			return key1.Append(nil, protocol.Announcement{Group: 1000, Timestamp: 1<<63 - 1, Addr: netip.MustParseAddr("192.0.2.1")})
		}(), ReasonClockSkew, false},
		{"timestamp at the start of time", func() []byte {
			return key1.Append(nil, protocol.Announcement{Group: 1000, Timestamp: -1 << 63, Addr: netip.MustParseAddr("192.0.2.1")})
		}(), ReasonClockSkew, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			got := f.w.Handle(tc.dgram, t0)
			if got != tc.accept {
				t.Fatalf("Handle accepted=%v, want %v", got, tc.accept)
			}
			s := f.p.Stats()
			if tc.accept {
				if s.Accepted != 1 || s.DroppedTotal() != 0 || s.Results[group.Joined] != 1 {
					t.Fatalf("stats %+v, want one accepted join", s)
				}
				a, _ := protocol.Parse(tc.dgram)
				snap := f.reg.Snapshot(nil)
				if len(snap) != 1 || len(snap[0].Members) != 1 || snap[0].Members[0].Addr != a.Addr {
					t.Fatalf("group state %+v, want member %v", snap, a.Addr)
				}
				return
			}
			if s.Accepted != 0 || s.DroppedTotal() != 1 || s.Dropped[tc.reason] != 1 {
				t.Fatalf("stats %+v, want exactly one drop for %v", s, tc.reason)
			}
			if snap := f.reg.Snapshot(nil); len(snap[0].Members) != 0 {
				t.Fatalf("dropped datagram changed the group state: %+v", snap)
			}
		})
	}
}

func TestStatsSumWorkers(t *testing.T) {
	f := newFixture(t)
	w2 := f.p.NewWorker()
	f.w.HandleBatch([][]byte{announce(f.key, 1000, "192.0.2.1", t0), nil})
	w2.HandleBatch([][]byte{announce(f.key, 1000, "192.0.2.1", t0.Add(time.Second)), announce(f.key, 7, "192.0.2.1", t0)})
	s := f.p.Stats()
	if s.Accepted != 2 || s.Results[group.Joined] != 1 || s.Results[group.Refreshed] != 1 {
		t.Fatalf("accepted/results: %+v", s)
	}
	if s.Dropped[ReasonLength] != 1 || s.Dropped[ReasonUnknownGroup] != 1 || s.DroppedTotal() != 2 {
		t.Fatalf("drops: %+v", s.Dropped)
	}
}

func TestNewRejectsBadGroups(t *testing.T) {
	k := protocol.NewKey(psk1)
	for name, gs := range map[string][]Group{
		"duplicate": {{ID: 5, Key: k}, {ID: 5, Key: k}},
		"no key":    {{ID: 5}},
		"neg skew":  {{ID: 5, Key: k, ClockSkew: -1}},
	} {
		if _, err := New(gs, nil, Options{}); err == nil {
			t.Errorf("%s: New accepted %+v", name, gs)
		}
	}
}

func TestReasonNames(t *testing.T) {
	want := []string{"length", "version", "unknown_group", "bad_mac", "clock_skew"}
	for i, r := range Reasons() {
		if r.String() != want[i] {
			t.Errorf("Reason(%d) = %q, want %q", i, r, want[i])
		}
	}
}

// BenchmarkHandleRefresh is the hot path: a valid announcement refreshing an
// existing member. It must not allocate.
func BenchmarkHandleRefresh(b *testing.B) {
	f := newFixture(b)
	d := announce(f.key, 1000, "192.0.2.1", t0)
	f.w.Handle(d, t0)
	b.ReportAllocs()
	for b.Loop() {
		f.w.Handle(d, t0)
	}
}

// BenchmarkHandleBadMAC is the cost of a forged datagram for a known group.
func BenchmarkHandleBadMAC(b *testing.B) {
	f := newFixture(b)
	d := announce(protocol.NewKey(psk2), 1000, "192.0.2.1", t0)
	b.ReportAllocs()
	for b.Loop() {
		f.w.Handle(d, t0)
	}
}
