package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/bench/internal/propagation/record"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var plugin = sdk.Plugin{Name: Kind, Version: "test", New: New}

const group = 1000

var groupInfo = sdk.GroupInfo{ID: group, Expire: time.Hour}

func TestJoinModeRecordsEveryJoin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "joins.bin")
	h := sdktest.Start(t, plugin, fmt.Sprintf("out: %s\ncapacity: 2\n", out), groupInfo)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::2")
	exp := time.Now().Add(time.Hour)
	before := time.Now().UnixNano()
	h.Ready(group)
	h.Join(group, a, exp)
	h.Join(group, b, exp)
	h.Expiry(group, b, exp.Add(time.Minute)) // not a join
	h.Leave(group, a)
	h.Join(group, a, exp) // joins again: recorded again, past the capacity
	h.Sync()
	after := time.Now().UnixNano()
	if _, err := os.Stat(out); err == nil {
		t.Fatal("records written before the plugin was stopped")
	}
	h.Stop()

	js := readRecords[record.Join](t, out)
	var addrs []netip.Addr
	for i, j := range js {
		addrs = append(addrs, j.Addr)
		if j.At < before || j.At > after || (i > 0 && j.At < js[i-1].At) {
			t.Errorf("join %d at %d: want non-decreasing times within [%d, %d]", i, j.At, before, after)
		}
	}
	if want := []netip.Addr{a, b, a}; !slices.Equal(addrs, want) {
		t.Errorf("recorded joins of %v, want %v", addrs, want)
	}
}

func TestSnapshotModeMarksMilestones(t *testing.T) {
	members := func(n int) []sdk.Member {
		ms := make([]sdk.Member, n)
		for i := range ms {
			ms[i] = sdk.Member{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Expires: time.Now().Add(time.Hour)}
		}
		return ms
	}
	tests := []struct {
		name        string
		feed        func(h *sdktest.Harness)
		viaSnapshot bool
	}{
		// Start sent the first snapshot (empty): a later one delivers
		// its joins as events first.
		{"by a later snapshot", func(h *sdktest.Harness) {
			h.Snapshot(sdktest.GroupState{ID: group, Ready: true, Members: members(3)})
		}, false},
		{"by events", func(h *sdktest.Harness) {
			for _, m := range members(3) {
				h.Join(group, m.Addr, m.Expires)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.Start(t, plugin, "mode: snapshot\nexpect: 3\n", groupInfo)
			tt.feed(h)
			h.Sync()
			recs := loggedRecords(t, h.Logs())
			if len(recs) != 2 {
				t.Fatalf("records %+v, want the first snapshot and completion", recs)
			}
			first, done := recs[0], recs[1]
			if first.Kind != record.FirstSnapshot || first.Members != 0 || !first.ViaSnapshot {
				t.Errorf("first record %+v, want the empty first snapshot", first)
			}
			if done.Kind != record.Complete || done.Members != 3 || done.ViaSnapshot != tt.viaSnapshot {
				t.Errorf("second record %+v, want complete with 3 members, via snapshot %v", done, tt.viaSnapshot)
			}
			for _, r := range recs {
				if r.PID != os.Getpid() || r.Forked == 0 || r.Forked > r.At {
					t.Errorf("record %+v: want this PID, 0 < forked <= at", r)
				}
			}
		})
	}
}

func TestDiagnostics(t *testing.T) {
	tests := []struct {
		spec string
		want sdktest.Diagnostic
	}{
		{"mode: join\n", sdktest.Diagnostic{Key: "out", Line: 1, Message: "required: the file the records are written to"}},
		{"out: rel/joins.bin\n", sdktest.Diagnostic{Key: "out", Line: 1, Message: `"rel/joins.bin" is not an absolute path`}},
		{"out: /tmp/x\nmode: fast\n", sdktest.Diagnostic{Key: "mode", Line: 2, Message: `"fast": want join or snapshot`}},
		{"out: /tmp/x\nmode: snapshot\n", sdktest.Diagnostic{Key: "expect", Line: 1, Message: "required in snapshot mode: the member count of a complete snapshot (at least 1)"}},
		{"mode: snapshot\nexpect: 1\nout: /tmp/x\n", sdktest.Diagnostic{Key: "out", Line: 3, Message: "join mode only: snapshot mode logs its records"}},
		{"out: /tmp/x\ncapacity: -1\n", sdktest.Diagnostic{Key: "capacity", Line: 2, Message: "-1 is out of range 0..1048576"}},
		{"out: /tmp/x\nspeed: 3\n", sdktest.Diagnostic{Key: "speed", Line: 2, Message: "unknown key (valid keys here: out, mode, capacity, expect, heap)"}},
	}
	for _, tt := range tests {
		got := sdktest.Validate(t, plugin, tt.spec, groupInfo)
		if !slices.Equal(got, []sdktest.Diagnostic{tt.want}) {
			t.Errorf("Validate(%q) = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

// TestSnapshotModeFirstSnapshotComplete covers what a restart measures: the
// first snapshot already holds every expected member, so completion is the
// end of that snapshot, marked once. sdktest always starts with an empty
// snapshot, so the events are handed to the output directly, in the order
// the SDK documents for a resync: the joins, then EventResync.
func TestSnapshotModeFirstSnapshotComplete(t *testing.T) {
	logs := sdktest.NewLogSink(t, hclog.Info)
	o := &snapshotOutput{log: logs.Logger(), expect: 2, pid: os.Getpid()}
	for _, e := range []sdk.Event{
		{Kind: sdk.EventJoin, Group: group, Member: sdk.Member{Addr: netip.MustParseAddr("10.0.0.1")}},
		{Kind: sdk.EventJoin, Group: group, Member: sdk.Member{Addr: netip.MustParseAddr("10.0.0.2")}},
		{Kind: sdk.EventReady, Group: group},
		{Kind: sdk.EventResync},
		{Kind: sdk.EventJoin, Group: group, Member: sdk.Member{Addr: netip.MustParseAddr("10.0.0.3")}},
		{Kind: sdk.EventResync},
	} {
		o.HandleEvent(e)
	}
	recs := loggedRecords(t, logs.Entries())
	want := []struct {
		kind    record.SnapshotKind
		members int
	}{{record.FirstSnapshot, 2}, {record.Complete, 2}}
	if len(recs) != len(want) {
		t.Fatalf("records %+v, want %d", recs, len(want))
	}
	for i, w := range want {
		if recs[i].Kind != w.kind || recs[i].Members != w.members || !recs[i].ViaSnapshot {
			t.Errorf("record %d = %+v, want %s with %d members via the snapshot", i, recs[i], w.kind, w.members)
		}
	}
}

// readRecords reads the record file the plugin wrote at path.
func readRecords[R record.Join | record.Snapshot](t *testing.T, path string) []R {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := record.Parse[R](data)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// loggedRecords reads the snapshot records among the plugin's log lines.
func loggedRecords(t *testing.T, logs []sdktest.LogEntry) []record.Snapshot {
	t.Helper()
	var recs []record.Snapshot
	for _, e := range logs {
		if e.Message != record.MsgSnapshot {
			continue
		}
		r, err := record.Parse[record.Snapshot]([]byte(e.Arg("record") + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r...)
	}
	return recs
}
