package ingest

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/protocol"
)

var psk3 = mustPSK("3132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50")

// v2dgram is a signed v2 datagram of group 1000.
func v2dgram(key *protocol.Key, keyID uint8, addr string, port, weight uint16, leave bool, ts time.Time) []byte {
	return key.Append(nil, protocol.Announcement{Version: protocol.VersionV2, KeyID: keyID, Group: 1000,
		Timestamp: ts.UnixMicro(), Addr: netip.MustParseAddr(addr), Port: port, Weight: weight, Leave: leave})
}

// TestV2LeaveAndReplay: v2 members are (address, port) with their weight;
// a leave removes the member at once; a replayed announcement, before or
// after the leave, and a v1 duplicate are dropped as replay.
func TestV2LeaveAndReplay(t *testing.T) {
	f := newFixture(t)
	announceA := v2dgram(f.key, 0, "192.0.2.1", 8080, 7, false, t0)
	steps := []struct {
		name   string
		d      []byte
		accept bool
		reason Reason
		want   []group.Member // the group's members afterwards
	}{
		{"announce", announceA, true, 0, []group.Member{{Addr: netip.MustParseAddr("192.0.2.1"), Port: 8080, Weight: 7, Expires: t0.Add(15 * time.Second)}}},
		{"the same datagram again", announceA, false, ReasonReplay, []group.Member{{Addr: netip.MustParseAddr("192.0.2.1"), Port: 8080, Weight: 7, Expires: t0.Add(15 * time.Second)}}},
		{"leave", v2dgram(f.key, 0, "192.0.2.1", 8080, 7, true, t0.Add(time.Microsecond)), true, 0, []group.Member{}},
		{"the captured announcement after the leave", announceA, false, ReasonReplay, []group.Member{}},
		{"v1 announcement", announce(f.key, 1000, "192.0.2.1", t0), true, 0, []group.Member{{Addr: netip.MustParseAddr("192.0.2.1"), Expires: t0.Add(15 * time.Second)}}},
		{"v1 duplicate", announce(f.key, 1000, "192.0.2.1", t0), false, ReasonReplay, []group.Member{{Addr: netip.MustParseAddr("192.0.2.1"), Expires: t0.Add(15 * time.Second)}}},
	}
	for i, s := range steps {
		before := f.p.Stats()
		if got := f.w.Handle(s.d, t0); got != s.accept {
			t.Fatalf("step %d (%s): accepted=%v, want %v", i, s.name, got, s.accept)
		}
		after := f.p.Stats()
		if !s.accept && after.Dropped[s.reason] != before.Dropped[s.reason]+1 {
			t.Fatalf("step %d (%s): drops %v, want one more %v", i, s.name, after.Dropped, s.reason)
		}
		if got := f.reg.Snapshot(nil)[0].Members; !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s): members %v, want %v", i, s.name, got, s.want)
		}
	}
	if s := f.p.Stats(); s.Results[group.Left] != 1 {
		t.Errorf("results %v, want one leave", s.Results)
	}
}

// rotation is a pipeline whose group 1000 holds psk1 as key 0 (the psk)
// and psk2 as key 1.
func rotation(t testing.TB) (*Pipeline, *Worker, *group.Registry) {
	t.Helper()
	p, reg := newPipeline(t, group.NewFakeClock(t0), []group.Config{{ID: 1000, Expire: 15 * time.Second}},
		[]Group{{ID: 1000, Key: protocol.NewKey(psk1), Keys: []Key{{ID: 1, Key: protocol.NewKey(psk2)}}, ClockSkew: 10 * time.Second}}, Options{})
	return p, p.NewWorker(), reg
}

// TestKeyRotation: v2 datagrams are verified with the key they name, v1
// datagrams with any of the group's keys; accepted announcements are
// counted per key; a SetGroups that removes a key refuses its agents from
// then on and keeps the other key's count.
func TestKeyRotation(t *testing.T) {
	p, w, _ := rotation(t)
	k1, k2, k3 := protocol.NewKey(psk1), protocol.NewKey(psk2), protocol.NewKey(psk3)
	cases := []struct {
		name   string
		d      []byte
		accept bool
		reason Reason
	}{
		{"v2 key 0", v2dgram(k1, 0, "192.0.2.1", 1, 0, false, t0), true, 0},
		{"v2 key 1", v2dgram(k2, 1, "192.0.2.2", 1, 0, false, t0), true, 0},
		{"v2 key 1 named as 0", v2dgram(k2, 0, "192.0.2.3", 1, 0, false, t0), false, ReasonMAC},
		{"v2 key 2 (not held)", v2dgram(k3, 2, "192.0.2.3", 1, 0, false, t0), false, ReasonUnknownKey},
		{"v1 psk", announce(k1, 1000, "192.0.2.4", t0), true, 0},
		{"v1 second key", announce(k2, 1000, "192.0.2.5", t0), true, 0},
		{"v1 another key", announce(k3, 1000, "192.0.2.6", t0), false, ReasonMAC},
	}
	for _, c := range cases {
		before := p.Stats()
		if got := w.Handle(c.d, t0); got != c.accept {
			t.Fatalf("%s: accepted=%v, want %v", c.name, got, c.accept)
		}
		if after := p.Stats(); !c.accept && after.Dropped[c.reason] != before.Dropped[c.reason]+1 {
			t.Fatalf("%s: drops %v, want one more %v", c.name, after.Dropped, c.reason)
		}
	}
	if got, want := p.AcceptedByKey(), []KeyCount{{1000, 0, 2}, {1000, 1, 2}}; !slices.Equal(got, want) {
		t.Fatalf("AcceptedByKey() = %v, want %v", got, want)
	}

	// The old key (0, the psk) is removed: its agents are refused, the
	// new key's count carries over.
	if err := p.SetGroups([]Group{{ID: 1000, Keys: []Key{{ID: 1, Key: k2}}, ClockSkew: 10 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	if w.Handle(announce(k1, 1000, "192.0.2.4", t0.Add(time.Second)), t0) {
		t.Fatal("v1 with the removed key accepted")
	}
	if w.Handle(v2dgram(k1, 0, "192.0.2.1", 1, 0, false, t0.Add(time.Second)), t0) {
		t.Fatal("v2 with the removed key accepted")
	}
	if !w.Handle(v2dgram(k2, 1, "192.0.2.2", 1, 0, false, t0.Add(time.Second)), t0) {
		t.Fatal("v2 with the remaining key refused")
	}
	if got, want := p.AcceptedByKey(), []KeyCount{{1000, 1, 3}}; !slices.Equal(got, want) {
		t.Fatalf("AcceptedByKey() after the reload = %v, want %v", got, want)
	}
	if got, want := p.AcceptedByGroup(), []GroupCount{{1000, 5}}; !slices.Equal(got, want) {
		t.Fatalf("AcceptedByGroup() after the reload = %v, want %v", got, want)
	}
}

func TestNewRejectsBadKeys(t *testing.T) {
	k := protocol.NewKey(psk1)
	for name, g := range map[string]Group{
		"id 0 twice":     {ID: 5, Key: k, Keys: []Key{{ID: 0, Key: k}}},
		"id 3 twice":     {ID: 5, Keys: []Key{{ID: 3, Key: k}, {ID: 3, Key: k}}},
		"nil key":        {ID: 5, Keys: []Key{{ID: 3}}},
		"no key at all":  {ID: 5, Keys: []Key{}},
		"only a nil key": {ID: 5, Key: nil},
	} {
		if _, err := New([]Group{g}, nil, Options{}); err == nil {
			t.Errorf("%s: New accepted %+v", name, g)
		}
	}
}

// TestV2HandleDoesNotAllocate: the v2 paths (a refresh, a replay, an
// unknown key, a bad MAC) allocate nothing.
func TestV2HandleDoesNotAllocate(t *testing.T) {
	_, w, _ := rotation(t)
	k2 := protocol.NewKey(psk2)
	const runs = 100
	refresh := make([][]byte, runs+2) // AllocsPerRun calls once more to warm up
	for i := range refresh {
		refresh[i] = v2dgram(k2, 1, "192.0.2.1", 80, 1, false, t0.Add(time.Duration(i)*time.Microsecond))
	}
	w.Handle(refresh[0], t0)
	i := 1
	if n := testing.AllocsPerRun(runs, func() {
		if !w.Handle(refresh[i], t0) {
			t.Fatal("refresh dropped")
		}
		i++
	}); n != 0 {
		t.Errorf("refresh: %v allocations per datagram, want 0", n)
	}
	for _, c := range []struct {
		name string
		d    []byte
	}{
		{"replay", refresh[0]},
		{"unknown key", v2dgram(k2, 9, "192.0.2.1", 80, 1, false, t0)},
		{"bad mac", v2dgram(k2, 0, "192.0.2.1", 80, 1, false, t0)},
	} {
		w.Handle(c.d, t0)
		if n := testing.AllocsPerRun(runs, func() { w.Handle(c.d, t0) }); n != 0 {
			t.Errorf("%s: %v allocations per datagram, want 0", c.name, n)
		}
	}
}

// BenchmarkHandleV1Keys is the cost of a v1 datagram in a group of 1, 2
// and 3 keys in the worst case: a forged datagram, tried against every
// key. ("signed with the last key" would add the group state's refresh to
// the same number of HMACs.)
func BenchmarkHandleV1Keys(b *testing.B) {
	forged := announce(protocol.NewKey(mustPSK("ff"+psk1.Hex()[2:])), 1000, "192.0.2.1", t0)
	for n := 1; n <= 3; n++ {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			g := Group{ID: 1000, Key: protocol.NewKey(psk1), ClockSkew: 10 * time.Second}
			for i, psk := range []protocol.PSK{psk2, psk3}[:n-1] {
				g.Keys = append(g.Keys, Key{ID: uint8(i + 1), Key: protocol.NewKey(psk)})
			}
			p, _ := newPipeline(b, group.NewFakeClock(t0), []group.Config{{ID: 1000, Expire: 15 * time.Second}}, []Group{g}, Options{})
			w := p.NewWorker()
			b.ReportAllocs()
			for b.Loop() {
				if w.Handle(forged, t0) {
					b.Fatal("forged datagram accepted")
				}
			}
		})
	}
}
