package ingest

import (
	"encoding/binary"
	"fmt"
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
	key := protocol.NewKey(psk1)
	p, reg := newPipeline(t, clock, []group.Config{{ID: 1000, Expire: 15 * time.Second}},
		[]Group{{ID: 1000, Key: key, ClockSkew: 10 * time.Second}}, Options{Now: clock.Now})
	return &fixture{reg: reg, p: p, w: p.NewWorker(), key: key}
}

// newPipeline makes a registry of gcfgs on clock and a pipeline of groups,
// with opts, feeding it.
func newPipeline(t testing.TB, clock group.Clock, gcfgs []group.Config, groups []Group, opts Options) (*Pipeline, *group.Registry) {
	t.Helper()
	reg, err := group.New(gcfgs, group.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(groups, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
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
		{"a validly signed v2 datagram", func() []byte {
			return key1.Append(nil, protocol.Announcement{Version: protocol.VersionV2, Group: 1000, Timestamp: t0.UnixMicro(),
				Addr: netip.MustParseAddr("192.0.2.9"), Port: 8080})
		}(), 0, true},
		{"v2 naming a key id the group does not hold", func() []byte {
			return key1.Append(nil, protocol.Announcement{Version: protocol.VersionV2, KeyID: 1, Group: 1000, Timestamp: t0.UnixMicro(),
				Addr: netip.MustParseAddr("192.0.2.9"), Port: 8080})
		}(), ReasonUnknownKey, false},
		{"v2 signed with another key under the group's key id", func() []byte {
			return key2.Append(nil, protocol.Announcement{Version: protocol.VersionV2, Group: 1000, Timestamp: t0.UnixMicro(),
				Addr: netip.MustParseAddr("192.0.2.9"), Port: 8080})
		}(), ReasonMAC, false},
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
		{"unspecified IPv4", announce(key1, 1000, "0.0.0.0", t0), ReasonBadAddress, false},
		{"unspecified IPv6", announce(key1, 1000, "::", t0), ReasonBadAddress, false},
		{"multicast IPv4", announce(key1, 1000, "224.0.0.1", t0), ReasonBadAddress, false},
		{"multicast IPv6", announce(key1, 1000, "ff02::1", t0), ReasonBadAddress, false},
		{"limited broadcast", announce(key1, 1000, "255.255.255.255", t0), ReasonBadAddress, false},
		{"link-local IPv6", announce(key1, 1000, "fe80::1", t0), ReasonBadAddress, false},
		{"link-local IPv4", announce(key1, 1000, "169.254.1.1", t0), ReasonBadAddress, false},
		{"IPv4-mapped multicast", announce(key1, 1000, "::ffff:224.0.0.1", t0), ReasonBadAddress, false},
		{"loopback IPv4", announce(key1, 1000, "127.0.0.1", t0), 0, true},
		{"loopback IPv6", announce(key1, 1000, "::1", t0), 0, true},
		// The MAC is checked first: a forged datagram is a MAC drop,
		// whatever address it carries.
		{"bad address signed with another key", announce(key2, 1000, "0.0.0.0", t0), ReasonMAC, false},
		// The address is checked before the clock.
		{"bad address and too old", announce(key1, 1000, "ff02::1", t0.Add(-time.Hour)), ReasonBadAddress, false},
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

// TestFarTimestampsAreClockSkew covers groups whose clock_skew is long
// enough to let through timestamps the group state cannot hold (before 1834
// or after 2106): they are clock-skew drops, never unknown-group ones.
func TestFarTimestampsAreClockSkew(t *testing.T) {
	const maxDuration = time.Duration(1<<63 - 1) // expire: 2562047h47m16.854775807s
	now := time.Now()
	tests := []struct {
		name   string
		ts     time.Time
		accept bool
	}{
		{"now", now, true},
		{"year 2100", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"year 2200", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"year 1900", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"year 1800", time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := group.NewFakeClock(now)
			key := protocol.NewKey(psk1)
			p, _ := newPipeline(t, clock, []group.Config{{ID: 7, Expire: maxDuration}},
				[]Group{{ID: 7, Key: key, ClockSkew: maxDuration}}, Options{Now: clock.Now})
			w := p.NewWorker()
			if got := w.Handle(announce(key, 7, "192.0.2.1", tc.ts), now); got != tc.accept {
				t.Fatalf("Handle accepted=%v, want %v", got, tc.accept)
			}
			s := p.Stats()
			if tc.accept {
				if s.Accepted != 1 {
					t.Fatalf("stats %+v, want one accepted", s)
				}
				return
			}
			if s.Dropped[ReasonClockSkew] != 1 || s.DroppedTotal() != 1 {
				t.Fatalf("drops %v, want exactly one clock_skew drop", s.Dropped)
			}
		})
	}
}

// TestHandleDoesNotAllocate keeps the per-datagram path allocation-free for
// accepted announcements and for every authenticated drop.
func TestHandleDoesNotAllocate(t *testing.T) {
	f := newFixture(t)
	for _, d := range []struct {
		name string
		b    []byte
	}{
		{"replay", announce(f.key, 1000, "192.0.2.1", t0)},
		{"bad address", announce(f.key, 1000, "ff02::1", t0)},
		{"clock skew", announce(f.key, 1000, "192.0.2.1", t0.Add(time.Hour))},
		{"bad mac", announce(protocol.NewKey(psk2), 1000, "192.0.2.1", t0)},
	} {
		f.w.Handle(d.b, t0)
		if n := testing.AllocsPerRun(100, func() { f.w.Handle(d.b, t0) }); n != 0 {
			t.Errorf("%s: %v allocations per datagram, want 0", d.name, n)
		}
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
	want := []string{"length", "version", "unknown_group", "unknown_key", "bad_mac", "bad_address", "clock_skew", "replay"}
	for i, r := range Reasons() {
		if r.String() != want[i] {
			t.Errorf("Reason(%d) = %q, want %q", i, r, want[i])
		}
	}
}

// BenchmarkHandleRefresh is the hot path: a valid announcement refreshing an
// existing member, v1 and v2. It must not allocate. Each datagram is newer
// than the last (a repeated one is a replay); they are signed in batches
// outside the timer.
func BenchmarkHandleRefresh(b *testing.B) {
	for _, v := range []uint16{protocol.Version, protocol.VersionV2} {
		b.Run(fmt.Sprintf("v%d", v>>8), func(b *testing.B) {
			f := newFixture(b)
			batch := make([][]byte, 4096)
			ts := t0
			sign := func() {
				for i := range batch {
					ts = ts.Add(time.Microsecond)
					batch[i] = f.key.Append(batch[i][:0], protocol.Announcement{Version: v, Group: 1000, Timestamp: ts.UnixMicro(),
						Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1})
				}
			}
			sign()
			f.w.Handle(batch[0], t0)
			b.ReportAllocs()
			i := 1
			for b.Loop() {
				if i == len(batch) {
					b.StopTimer()
					sign()
					i = 0
					b.StartTimer()
				}
				if !f.w.Handle(batch[i], t0) {
					b.Fatal("refresh dropped")
				}
				i++
			}
		})
	}
}

// BenchmarkHandleReplay is the cost of a replayed announcement.
func BenchmarkHandleReplay(b *testing.B) {
	f := newFixture(b)
	d := announce(f.key, 1000, "192.0.2.1", t0)
	f.w.Handle(d, t0)
	b.ReportAllocs()
	for b.Loop() {
		f.w.Handle(d, t0)
	}
}

// BenchmarkHandleBadAddress is the cost of an authentic announcement of an
// address no backend can have.
func BenchmarkHandleBadAddress(b *testing.B) {
	f := newFixture(b)
	d := announce(f.key, 1000, "ff02::1", t0)
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
