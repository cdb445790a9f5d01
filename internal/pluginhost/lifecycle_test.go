package pluginhost

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

// A plugin that floods its stderr with lines that are not hclog JSON (and a
// line longer than go-plugin's buffer) does not disturb the host: it and its
// neighbour keep receiving state, and shutdown is prompt.
func TestStderrGarbageFlood(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir)
	h := newHost(t, opts)
	feed := oneGroupFeed(256)
	stop := startRun(t, h, feed, []Output{{Index: 0, Kind: "garbage"}, {Index: 1, Kind: "good-b"}}, testGroups)
	waitFor(t, 20*time.Second, "snapshots", func() bool {
		return stateMatches(t, dir, "garbage", 1, []string{"192.0.2.1"}) && stateMatches(t, dir, "good-b", 1, []string{"192.0.2.1"})
	})
	for i := 2; i < 50; i++ {
		feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem(fmt.Sprintf("192.0.2.%d", i))})
	}
	want := feed.members(1)
	waitFor(t, 20*time.Second, "events", func() bool {
		return stateMatches(t, dir, "garbage", 1, want) && stateMatches(t, dir, "good-b", 1, want)
	})
	if s := statsOf(h, 0); s.Restarts != 0 || !s.Running {
		t.Errorf("garbage plugin stats = %+v, want running without restarts", s)
	}
	if took := stop(); took > 15*time.Second {
		t.Errorf("shutdown took %v", took)
	}
}

// A 100,000-member group is chunked: it arrives whole, with no message-size
// error.
func TestSnapshot100kMembers(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := newFakeFeed(64)
	members := make([]group.Member, 100_000)
	for i := range members {
		members[i] = mem(addrN(i))
	}
	feed.addGroup(1, true, members...)
	feed.addGroup(2, true, mem("2001:db8::1"))
	startRun(t, h, feed, []Output{{Kind: "good"}}, testGroups)
	waitFor(t, 60*time.Second, "100k snapshot", func() bool {
		st, ok := readState(dir, "good")
		return ok && st.Groups[1] != nil && st.Groups[1].N == 100_000 && st.Groups[2] != nil && st.Groups[2].N == 1
	})
	s := statsOf(h, 0)
	if s.SnapshotsSent != 1 || s.Restarts != 0 || s.MessagesSent < 13 {
		t.Errorf("stats = %+v, want one snapshot in >= 13 messages, no restart", s)
	}
}

// Cancelling Run stops every plugin, including one that ignores Stop and
// one that is still starting, and leaves no process behind.
func TestRunCancelStopsAllPlugins(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir)
	opts.StopTimeout = 500 * time.Millisecond
	opts.StartTimeout = time.Minute
	h := newHost(t, opts)
	feed := oneGroupFeed(64)
	outputs := []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "ignorestop"}, {Index: 2, Kind: "good-b"}, {Index: 3, Kind: "hangstart"}}
	stop := startRun(t, h, feed, outputs, testGroups)
	waitFor(t, 20*time.Second, "all running", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.1"}) &&
			stateMatches(t, dir, "ignorestop", 1, []string{"192.0.2.1"}) &&
			stateMatches(t, dir, "good-b", 1, []string{"192.0.2.1"}) &&
			len(readStarts(dir, "hangstart")) == 1
	})
	var pids []int
	for _, k := range []string{"good", "ignorestop", "good-b", "hangstart"} {
		pids = append(pids, readStarts(dir, k)...)
	}
	took := stop()
	t.Logf("shutdown took %v", took)
	if took > 20*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("plugin %d still alive after Run returned", pid)
		}
	}
	if n := feed.subscribers(); n != 0 {
		t.Errorf("%d subscriptions left open", n)
	}
	for _, s := range h.Stats() {
		if s.Running {
			t.Errorf("output %d still marked running", s.Index)
		}
	}
}

// Plugins die with the listener even when it is killed with SIGKILL: the
// parent-death signal is tied to the spawner thread, which lives as long as
// the process.
func TestPluginsDieWithKilledHost(t *testing.T) {
	dir := t.TempDir()
	host := startFakeHost(t, dir)
	// Let the Go runtime of the host create and retire threads for a while:
	// a plugin forked from an ordinary thread could be killed by that.
	time.Sleep(500 * time.Millisecond)
	pid := readStarts(dir, "good")[0]
	if !alive(pid) {
		t.Fatalf("plugin %d died while its host was alive", pid)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	waitFor(t, 10*time.Second, "plugin to die with its host", func() bool { return !alive(pid) })
}

// Discover lists built-ins and out-of-tree plugins with their versions, and
// says why a file is refused or shadowed.
func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir)
	opts.Builtins = map[string]bool{"good": true, "badproto": true}
	if err := os.Mkdir(opts.PluginsDir, 0o755); err != nil { //nolint:gosec // a plugins directory as installed for real
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, mode os.FileMode, body string) {
		p := filepath.Join(opts.PluginsDir, name)
		if err := os.WriteFile(p, []byte(body), 0o700); err != nil { //nolint:gosec // an executable plugin; its mode is set just below
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("rgap-plugin-ext", 0o755, "#!/bin/sh\nexec "+self+" fakeplugin good-b "+dir+"\n")
	write("rgap-plugin-loose", 0o775, "#!/bin/sh\nexit 0\n")
	write("rgap-plugin-good", 0o755, "#!/bin/sh\nexit 0\n")
	write("notaplugin", 0o755, "#!/bin/sh\nexit 0\n")
	h := newHost(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := h.Discover(ctx)
	var lines []string
	for _, pi := range got {
		lines = append(lines, pi.String())
	}
	t.Logf("rgap plugins:\n%s", strings.Join(lines, "\n"))
	type want struct {
		kind              string
		builtin, shadowed bool
		version           string
		errPart           string
	}
	wants := []want{
		{"badproto", true, false, "", "protocol versions [7]"},
		{"good", true, false, "fake-1.0", ""},
		{"ext", false, false, "fake-1.0", ""},
		{"good", false, true, "", ""},
		{"loose", false, false, "", "writable by group or others"},
	}
	if len(got) != len(wants) {
		t.Fatalf("Discover returned %d entries, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		pi := got[i]
		if pi.Kind != w.kind || pi.Builtin != w.builtin || pi.Shadowed != w.shadowed || pi.Version != w.version {
			t.Errorf("entry %d = %+v, want %+v", i, pi, w)
		}
		if w.errPart == "" && pi.Err != nil {
			t.Errorf("entry %d (%s): unexpected error %v", i, pi.Kind, pi.Err)
		}
		if w.errPart != "" && (pi.Err == nil || !strings.Contains(pi.Err.Error(), w.errPart)) {
			t.Errorf("entry %d (%s): error %v, want one containing %q", i, pi.Kind, pi.Err, w.errPart)
		}
	}
}
