package pluginhost

import (
	"testing"
	"time"
)

// memAt is a member on a port with a weight, expiring at t0+sec seconds.
func memAt(a string, port, weight uint16, sec int64) Member {
	return Member{Addr: addr(a), Port: port, Weight: weight, Expires: time.Unix(1_900_000_000+sec, 0)}
}

// A plugin speaking protocol 2 hears every (address, port) member with its
// port and weight, in the snapshot and in events (a weight change arrives
// as an expiry update). A plugin built against an SDK that predates ports
// (protocol 1 only, like the "good" fake) sees one member per address: it
// never sees an address twice, a second port of an address is no join, and
// the address leaves with its last port.
func TestPortsAndWeightsByProtocolVersion(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := newFakeFeed(1024)
	feed.addGroup(1, true,
		memAt("192.0.2.1", 8080, 10, 0), memAt("192.0.2.1", 8081, 20, 5), memAt("2001:db8::1", 0, 0, 0))
	outputs := []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "v2"}}
	startRun(t, h, feed, outputs, testGroups)

	waitFor(t, 10*time.Second, "initial snapshots", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.1", "2001:db8::1"}) &&
			stateMatches(t, dir, "v2", 1, []string{"192.0.2.1:8080/10", "192.0.2.1:8081/20", "2001:db8::1"})
	})

	// A third port of 192.0.2.1, a weight change on 8080, a new address on
	// a port, then 8080 and 8081 leave: 192.0.2.1 stays on 9090 for the
	// protocol-1 plugin; then 9090 leaves too.
	feed.Publish(Event{Kind: EventJoin, Group: 1, Member: memAt("192.0.2.1", 9090, 0, 1)})
	feed.Publish(Event{Kind: EventExpiry, Group: 1, Member: memAt("192.0.2.1", 8080, 30, 0)})
	feed.Publish(Event{Kind: EventJoin, Group: 1, Member: memAt("192.0.2.7", 53, 1, 0)})
	feed.Publish(Event{Kind: EventLeave, Group: 1, Member: memAt("192.0.2.1", 8080, 30, 0)})
	feed.Publish(Event{Kind: EventLeave, Group: 1, Member: memAt("192.0.2.1", 8081, 20, 5)})
	waitFor(t, 10*time.Second, "events applied", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.1", "192.0.2.7", "2001:db8::1"}) &&
			stateMatches(t, dir, "v2", 1, []string{"192.0.2.1:9090/0", "192.0.2.7:53/1", "2001:db8::1"})
	})
	good, _ := readState(dir, "good")
	if n := good.Events["EVENT_TYPE_JOIN"]; n != 1 {
		t.Errorf("protocol-1 plugin heard %d joins, want 1 (192.0.2.7; 192.0.2.1 on another port is no join)", n)
	}
	if n := good.Events["EVENT_TYPE_LEAVE"]; n != 0 {
		t.Errorf("protocol-1 plugin heard %d leaves, want none (192.0.2.1 is still on port 9090)", n)
	}
	v2, _ := readState(dir, "v2")
	if n := v2.Events["EVENT_TYPE_EXPIRY"]; n != 1 {
		t.Errorf("protocol-2 plugin heard %d expiry updates, want 1 (the weight change)", n)
	}

	feed.Publish(Event{Kind: EventLeave, Group: 1, Member: memAt("192.0.2.1", 9090, 0, 1)})
	waitFor(t, 10*time.Second, "last port left", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.7", "2001:db8::1"}) &&
			stateMatches(t, dir, "v2", 1, []string{"192.0.2.7:53/1", "2001:db8::1"})
	})
}

// The merger alone: what a protocol-1 plugin hears of each member event.
func TestAddrMergerEvents(t *testing.T) {
	const g = 1
	tests := []struct {
		name string
		in   Event
		want []Event // nil: nothing
	}{
		{"new address joins", Event{Kind: EventJoin, Group: g, Member: memAt("192.0.2.9", 80, 5, 3)},
			[]Event{{Kind: EventJoin, Group: g, Member: Member{Addr: addr("192.0.2.9"), Expires: time.Unix(1_900_000_003, 0)}}}},
		{"second port expiring later is an expiry update", Event{Kind: EventJoin, Group: g, Member: memAt("192.0.2.1", 81, 0, 9)},
			[]Event{{Kind: EventExpiry, Group: g, Member: Member{Addr: addr("192.0.2.1"), Expires: time.Unix(1_900_000_009, 0)}}}},
		{"second port expiring earlier is nothing", Event{Kind: EventJoin, Group: g, Member: memAt("192.0.2.1", 81, 0, 1)}, nil},
		{"expiry of one port reports the latest", Event{Kind: EventExpiry, Group: g, Member: memAt("192.0.2.1", 80, 7, 3)},
			[]Event{{Kind: EventExpiry, Group: g, Member: Member{Addr: addr("192.0.2.1"), Expires: time.Unix(1_900_000_005, 0)}}}},
		{"leave of one of two ports is nothing", Event{Kind: EventLeave, Group: g, Member: memAt("192.0.2.1", 80, 0, 2)}, nil},
		{"leave of a lone port is a leave", Event{Kind: EventLeave, Group: g, Member: memAt("192.0.2.2", 0, 0, 2)},
			[]Event{{Kind: EventLeave, Group: g, Member: Member{Addr: addr("192.0.2.2"), Expires: time.Unix(1_900_000_002, 0)}}}},
		{"leave of a non-member is nothing", Event{Kind: EventLeave, Group: g, Member: memAt("192.0.2.3", 0, 0, 2)}, nil},
		{"ready passes", Event{Kind: EventReady, Group: g}, []Event{{Kind: EventReady, Group: g}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &addrMerger{}
			snap := m.snapshot([]GroupSnapshot{{ID: g, Members: []Member{
				memAt("192.0.2.1", 80, 1, 2), memAt("192.0.2.1", 443, 1, 5), memAt("192.0.2.2", 0, 0, 2),
			}}})
			if len(snap[0].Members) != 2 || snap[0].Members[0].Expires != time.Unix(1_900_000_005, 0) || snap[0].Members[0].Port != 0 {
				t.Fatalf("merged snapshot = %+v, want 192.0.2.1 (latest expiry, no port) and 192.0.2.2", snap[0].Members)
			}
			got := m.events([]Event{tt.in})
			if len(got) != len(tt.want) {
				t.Fatalf("events = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Kind != tt.want[i].Kind || got[i].Member.Addr != tt.want[i].Member.Addr ||
					!got[i].Member.Expires.Equal(tt.want[i].Member.Expires) || got[i].Member.Port != 0 || got[i].Member.Weight != 0 {
					t.Errorf("event %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
