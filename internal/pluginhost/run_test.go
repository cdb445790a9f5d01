package pluginhost

import (
	"encoding/json"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/syncbuf"
)

var testGroups = []GroupInfo{
	{ID: 1, Expire: time.Minute, ReadinessDelay: time.Second},
	{ID: 2, Expire: 30 * time.Second},
}

// A plugin gets a complete snapshot first, then events; expiry updates reach
// only the plugin that declared the capability; a plugin that subscribed to
// one group hears nothing of the other.
func TestRunSnapshotThenEvents(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := newFakeFeed(1024)
	feed.addGroup(1, true, mem("192.0.2.1"), mem("192.0.2.2"))
	feed.addGroup(2, false, mem("2001:db8::1"))
	outputs := []Output{
		{Index: 0, Kind: "good", File: "/etc/rgap.yaml", Line: 10, SpecLine: 12},
		{Index: 1, Kind: "expiry"},
		{Index: 2, Kind: "good-b", Spec: []byte("groups: 2\n")},
	}
	startRun(t, h, feed, outputs, testGroups)

	waitFor(t, 10*time.Second, "initial snapshots", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.1", "192.0.2.2"}) &&
			stateMatches(t, dir, "expiry", 2, []string{"2001:db8::1"}) &&
			stateMatches(t, dir, "good-b", 2, []string{"2001:db8::1"})
	})
	if st, _ := readState(dir, "good-b"); st.Groups[1] != nil {
		t.Errorf("good-b subscribed to group 2 only but mirrors group 1: %+v", st.Groups[1])
	}
	if st, _ := readState(dir, "good"); len(st.Specs) != 1 || st.Specs[0] != "/etc/rgap.yaml:12:0" {
		t.Errorf("good received specs %v, want [/etc/rgap.yaml:12:0]", st.Specs)
	}
	if st, _ := readState(dir, "good"); st.Groups[2] == nil || st.Groups[2].Ready || !st.Groups[1].Ready {
		t.Errorf("ready flags not mirrored: %+v %+v", st.Groups[1], st.Groups[2])
	}

	feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem("192.0.2.3")})
	feed.Publish(group.Event{Kind: group.Leave, Group: 1, Member: mem("192.0.2.1")})
	feed.Publish(group.Event{Kind: group.Expiry, Group: 1, Member: mem("192.0.2.2")})
	feed.Publish(group.Event{Kind: group.Ready, Group: 2})
	feed.Publish(group.Event{Kind: group.Join, Group: 2, Member: mem("2001:db8::2")})

	waitFor(t, 10*time.Second, "events applied", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.2", "192.0.2.3"}) &&
			stateMatches(t, dir, "expiry", 1, []string{"192.0.2.2", "192.0.2.3"}) &&
			stateMatches(t, dir, "good-b", 2, []string{"2001:db8::1", "2001:db8::2"})
	})
	good, _ := readState(dir, "good")
	exp, _ := readState(dir, "expiry")
	if n := good.Events["EVENT_TYPE_EXPIRY"]; n != 0 {
		t.Errorf("plugin without CAPABILITY_EXPIRY_UPDATES got %d expiry events", n)
	}
	if n := exp.Events["EVENT_TYPE_EXPIRY"]; n != 1 {
		t.Errorf("plugin with CAPABILITY_EXPIRY_UPDATES got %d expiry events, want 1", n)
	}
	if !good.Groups[2].Ready {
		t.Errorf("ready event not applied: %+v", good.Groups[2])
	}
	for _, s := range h.Stats() {
		if !s.Running || s.Starts != 1 || s.Restarts != 0 || s.SnapshotsSent != 1 {
			t.Errorf("output %d stats = %+v, want running, 1 start, 1 snapshot", s.Index, s)
		}
	}
}

// When Run ends, every output's counters are logged once.
func TestRunLogsTotals(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir)
	var logs syncbuf.Buffer
	opts.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info, JSONFormat: true, Name: "host"})
	h := newHost(t, opts)
	feed := oneGroupFeed(64)
	stop := startRun(t, h, feed, []Output{{Index: 3, Kind: "good"}}, testGroups)
	waitFor(t, 10*time.Second, "initial snapshot", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.1"})
	})
	feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem("192.0.2.2")})
	feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem("192.0.2.3")})
	waitFor(t, 10*time.Second, "joins applied", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"})
	})
	if strings.Contains(logs.String(), "output totals") {
		t.Fatal("totals logged before Run ended")
	}
	stop()
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["@message"] != "output totals" {
			continue
		}
		found = true
		if l["output"] != float64(3) || l["kind"] != "good" || l["events"] != float64(2) || l["snapshots"] != float64(1) ||
			l["starts"] != float64(1) || l["restarts"] != float64(0) || l["messages"].(float64) < 2 {
			t.Errorf("totals line %v, want output 3 kind good, 2 events, 1 snapshot, 1 start, no restart, at least 2 messages", l)
		}
	}
	if !found {
		t.Errorf("no \"output totals\" line in:\n%s", logs.String())
	}
}

// An idle stream carries heartbeats, which the plugin must acknowledge.
func TestIdleHeartbeats(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir)
	opts.HeartbeatInterval = 100 * time.Millisecond
	h := newHost(t, opts)
	feed := newFakeFeed(64)
	startRun(t, h, feed, []Output{{Kind: "good"}}, testGroups)
	waitFor(t, 10*time.Second, "three heartbeats", func() bool {
		st, _ := readState(dir, "good")
		return st.Heartbeats >= 3
	})
	if s := statsOf(h, 0); s.Heartbeats < 3 || s.Hung != 0 {
		t.Errorf("stats = %+v, want >= 3 heartbeats and no hang", s)
	}
}

// A plugin that crashes at start is reported with what it wrote to stderr
// and restarted with exponential backoff.
func TestCrashAtStartBacksOff(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir)
	opts.RestartMin = 100 * time.Millisecond
	opts.RestartMax = time.Second
	h := newHost(t, opts)
	startRun(t, h, newFakeFeed(64), []Output{{Kind: "crash"}}, testGroups)
	waitFor(t, 20*time.Second, "four starts", func() bool { return len(readStarts(dir, "crash")) >= 4 })
	s := statsOf(h, 0)
	if s.Restarts < 3 || s.ConsecutiveFailures < 3 || s.Running {
		t.Errorf("stats = %+v, want >= 3 restarts and a crash loop", s)
	}
	for _, want := range []string{"plugin did not start", "boom: fake plugin crashed at start"} {
		if !strings.Contains(s.LastError, want) {
			t.Errorf("last error %q does not contain %q", s.LastError, want)
		}
	}
	// Backoff: the start times are separated by at least 100ms, 200ms, 400ms.
	// Only lower bounds are checked: they hold on any machine.
	times := startTimes(t, dir, "crash")
	for i := 1; i < len(times) && i <= 3; i++ {
		want := opts.RestartMin << (i - 1)
		if gap := times[i].Sub(times[i-1]); gap < want {
			t.Errorf("gap before start %d = %v, want >= %v", i, gap, want)
		}
	}
}

// A plugin killed with SIGKILL is restarted and gets a fresh snapshot that
// includes what changed while it was down; another output is unaffected.
func TestKilledPluginRestartsWithFreshSnapshot(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := oneGroupFeed(1024)
	startRun(t, h, feed, []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "good-b"}}, testGroups)
	waitFor(t, 10*time.Second, "both snapshots", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.1"}) && stateMatches(t, dir, "good-b", 1, []string{"192.0.2.1"})
	})
	victim := readStarts(dir, "good")[0]
	other := readStarts(dir, "good-b")[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem("192.0.2.9")})
	waitFor(t, 15*time.Second, "restart with a fresh snapshot", func() bool {
		st, ok := readState(dir, "good")
		return ok && st.PID != victim && st.Snapshots == 1 &&
			stateMatches(t, dir, "good", 1, []string{"192.0.2.1", "192.0.2.9"})
	})
	waitFor(t, 10*time.Second, "other output got the event", func() bool {
		return stateMatches(t, dir, "good-b", 1, []string{"192.0.2.1", "192.0.2.9"})
	})
	if got := readStarts(dir, "good-b"); len(got) != 1 || got[0] != other {
		t.Errorf("other output was restarted: starts %v", got)
	}
	if s := statsOf(h, 0); s.Restarts != 1 || s.SnapshotsSent < 2 || !strings.Contains(s.LastError, ErrDisconnected.Error()) {
		t.Errorf("killed output stats = %+v, want 1 restart, 2 snapshots, a lost connection", s)
	}
	if s := statsOf(h, 1); s.Restarts != 0 {
		t.Errorf("other output stats = %+v, want no restart", s)
	}
	if alive(victim) {
		t.Errorf("killed plugin %d still alive", victim)
	}
}

// A plugin that stops acknowledging is declared hung, killed and restarted.
func TestHungPluginRestarted(t *testing.T) {
	dir, h, _ := runOneGroupHost(t, time.Second, 64, Output{Kind: "noack"})
	waitFor(t, 20*time.Second, "hang detected and restart", func() bool {
		return statsOf(h, 0).Hung >= 1 && len(readStarts(dir, "noack")) >= 2
	})
	first := readStarts(dir, "noack")[0]
	waitFor(t, 10*time.Second, "hung plugin gone", func() bool { return !alive(first) })
	if s := statsOf(h, 0); !strings.Contains(s.LastError, "plugin hung") {
		t.Errorf("last error %q does not say the plugin hung", s.LastError)
	}
}

// A plugin that acknowledges messages it was never sent is restarted.
func TestProtocolViolationRestarts(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	startRun(t, h, newFakeFeed(64), []Output{{Kind: "overack"}}, testGroups)
	waitFor(t, 20*time.Second, "restart after a bogus ack", func() bool { return len(readStarts(dir, "overack")) >= 2 })
	if s := statsOf(h, 0); !strings.Contains(s.LastError, "acknowledged message 101, only 1 sent") {
		t.Errorf("last error %q does not describe the bogus ack", s.LastError)
	}
}

// A slow plugin falls behind while events keep coming: publishing never
// waits for it, the feed laps it, and it catches up through a fresh
// snapshot; a fast plugin next to it gets everything.
func TestSlowPluginCoalescesIntoSnapshot(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := newFakeFeed(64)
	feed.addGroup(1, true)
	startRun(t, h, feed, []Output{{Index: 0, Kind: "slow"}, {Index: 1, Kind: "good-b"}}, testGroups)
	waitFor(t, 10*time.Second, "initial snapshots", func() bool {
		_, a := readState(dir, "slow")
		_, b := readState(dir, "good-b")
		return a && b
	})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 0; i < 3000; i++ {
			feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem(addrN(i))})
			if i%200 == 0 {
				time.Sleep(5 * time.Millisecond) // let both pumps run
			}
		}
	}()
	select {
	case <-published:
	case <-time.After(20 * time.Second):
		t.Fatal("publishing 3000 events blocked")
	}
	want := feed.members(1)
	waitFor(t, 30*time.Second, "both plugins converged", func() bool {
		a, _ := readState(dir, "slow")
		b, _ := readState(dir, "good-b")
		return a.Groups[1] != nil && a.Groups[1].N == len(want) && b.Groups[1] != nil && b.Groups[1].N == len(want)
	})
	if s := statsOf(h, 0); s.Resyncs == 0 || s.SnapshotsSent < 2 || s.Restarts != 0 {
		t.Errorf("slow plugin stats = %+v, want at least one resync snapshot and no restart", s)
	}
	for _, k := range []string{"slow", "good-b"} {
		if st, _ := readState(dir, k); len(st.Violations) > 0 {
			t.Errorf("%s saw violations: %v", k, st.Violations)
		}
	}
}

func addrN(i int) string {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
}
