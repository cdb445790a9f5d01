package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/background"
	"github.com/rgap-project/rgap/internal/group"
)

func TestMain(m *testing.M) {
	if len(os.Args) >= 4 && os.Args[1] == "fakeplugin" {
		runFakePlugin(os.Args[2], os.Args[3])
		os.Exit(0)
	}
	if len(os.Args) >= 3 && os.Args[1] == "fakehost" {
		runFakeHost(os.Args[2])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeFeed is a Feed for tests: group state plus, per subscription, a
// bounded ring of pending events that laps (drops everything and asks for a
// resync) when full. Publish never waits for a consumer.
type fakeFeed struct {
	ringCap int

	mu     sync.Mutex
	groups map[uint64]*group.GroupSnapshot
	subs   map[*fakeSub]bool
}

type fakeSub struct {
	f       *fakeFeed
	filter  func(uint64) bool
	notify  chan struct{}
	pending []group.Event
	lapped  bool
}

func newFakeFeed(ringCap int) *fakeFeed {
	return &fakeFeed{ringCap: ringCap, groups: map[uint64]*group.GroupSnapshot{}, subs: map[*fakeSub]bool{}}
}

func (f *fakeFeed) Subscribe(filter func(uint64) bool) Subscription {
	s := &fakeSub{f: f, filter: filter, notify: make(chan struct{}, 1)}
	f.mu.Lock()
	f.subs[s] = true
	f.mu.Unlock()
	return s
}

func (f *fakeFeed) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// addGroup sets a group's state without events (before plugins run).
func (f *fakeFeed) addGroup(id uint64, ready bool, members ...group.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[id] = &group.GroupSnapshot{ID: id, Ready: ready, Members: members}
}

// Publish applies e and queues it for every interested subscription.
func (f *fakeFeed) Publish(e group.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[e.Group]
	if g == nil {
		g = &group.GroupSnapshot{ID: e.Group}
		f.groups[e.Group] = g
	}
	switch e.Kind {
	case group.Join:
		g.Members = append(g.Members, e.Member)
	case group.Leave:
		g.Members = slices.DeleteFunc(g.Members, func(m group.Member) bool { return m.Addr == e.Member.Addr && m.Port == e.Member.Port })
	case group.Expiry:
		for i := range g.Members {
			if g.Members[i].Addr == e.Member.Addr && g.Members[i].Port == e.Member.Port {
				g.Members[i].Expires, g.Members[i].Weight = e.Member.Expires, e.Member.Weight
			}
		}
	case group.Ready:
		g.Ready = true
	}
	for s := range f.subs {
		if !s.filter(e.Group) {
			continue
		}
		if s.lapped {
			continue
		}
		if len(s.pending) >= f.ringCap {
			s.lapped, s.pending = true, nil
		} else {
			s.pending = append(s.pending, e)
		}
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
}

// members returns a group's addresses, sorted.
func (f *fakeFeed) members(id uint64) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	if g := f.groups[id]; g != nil {
		for _, m := range g.Members {
			out = append(out, m.Addr.String())
		}
	}
	sort.Strings(out)
	return out
}

func (s *fakeSub) Notify() <-chan struct{} { return s.notify }

func (s *fakeSub) Next(buf []group.Event) ([]group.Event, bool) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if s.lapped {
		return buf, true
	}
	buf = append(buf, s.pending...)
	s.pending = s.pending[:0]
	return buf, false
}

func (s *fakeSub) Resync() []group.GroupSnapshot {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.lapped, s.pending = false, nil
	var out []group.GroupSnapshot
	for _, g := range s.f.groups {
		if s.filter(g.ID) {
			out = append(out, group.GroupSnapshot{ID: g.ID, Ready: g.Ready, Members: slices.Clone(g.Members)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *fakeSub) Close() {
	s.f.mu.Lock()
	delete(s.f.subs, s)
	s.f.mu.Unlock()
}

// --- helpers ---

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func mem(s string) group.Member {
	return group.Member{Addr: addr(s), Expires: time.Unix(1_900_000_000, 0)}
}

func fakeBuiltins() map[string]bool {
	m := map[string]bool{}
	for _, k := range fakeKinds {
		m[k] = true
	}
	return m
}

// testOptions returns Options that run the fake plugins with reports in dir.
func testOptions(t testing.TB, dir string) Options {
	return Options{
		Logger:       hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Info, Name: "host"}),
		SelfArgs:     func(kind string) []string { return []string{"fakeplugin", kind, dir} },
		Builtins:     fakeBuiltins(),
		PluginsDir:   filepath.Join(dir, "plugins"),
		HangTimeout:  20 * time.Second,
		StartTimeout: 30 * time.Second,
		RestartMin:   50 * time.Millisecond,
		RestartMax:   400 * time.Millisecond,
		StopTimeout:  2 * time.Second,
	}
}

// testWriter sends host logs to the test log; it tolerates writes after the
// test ended (a leaked log line must not panic).
type testWriter struct{ t testing.TB }

var testLogMu sync.Mutex

func (w testWriter) Write(b []byte) (int, error) {
	testLogMu.Lock()
	defer testLogMu.Unlock()
	if len(b) > 300 {
		b = append(b[:300:300], "...\n"...)
	}
	func() {
		defer func() { _ = recover() }()
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}()
	return len(b), nil
}

func newHost(t testing.TB, opts Options) *Host {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// startRun runs h in the background; stop cancels it and waits (with a
// guard), returning how long the shutdown took.
func startRun(t *testing.T, h *Host, feed Feed, outputs []Output, groups []GroupInfo) (stop func() time.Duration) {
	t.Helper()
	return background.Start(t, "Run", 30*time.Second, func(ctx context.Context) error {
		return h.Run(ctx, feed, outputs, groups)
	}).Stop
}

// runOneGroupHost runs a host with the given HangTimeout and the one output
// out, fed group 1 (ready, member 192.0.2.1) through a ring of ringCap
// events. It returns the plugins' state directory, the host and the feed.
func runOneGroupHost(t *testing.T, hang time.Duration, ringCap int, out Output) (string, *Host, *fakeFeed) {
	t.Helper()
	dir := t.TempDir()
	opts := testOptions(t, dir)
	opts.HangTimeout = hang
	h := newHost(t, opts)
	feed := oneGroupFeed(ringCap)
	startRun(t, h, feed, []Output{out}, testGroups)
	return dir, h, feed
}

// oneGroupFeed is a feed with a ring of ringCap events, holding group 1,
// ready, with member 192.0.2.1.
func oneGroupFeed(ringCap int) *fakeFeed {
	feed := newFakeFeed(ringCap)
	feed.addGroup(1, true, mem("192.0.2.1"))
	return feed
}

// twoGroupFeed is oneGroupFeed(256) also holding group 2, not ready, with
// member 192.0.2.2.
func twoGroupFeed() *fakeFeed {
	feed := oneGroupFeed(256)
	feed.addGroup(2, false, mem("192.0.2.2"))
	return feed
}

// waitRestarted waits until the plugin of kind runs in a process other
// than old and has been sent exactly one snapshot.
func waitRestarted(t *testing.T, timeout time.Duration, what, dir, kind string, old int) {
	t.Helper()
	waitFor(t, timeout, what, func() bool {
		st, ok := readState(dir, kind)
		return ok && st.PID != old && st.Snapshots == 1
	})
}

// updateGroupList gives the running h the group list groups. When groups
// holds added, the feed first holds its state (member 192.0.2.3): the
// listener updates the registry before it tells the host.
func updateGroupList(t *testing.T, h *Host, feed *fakeFeed, outputs []Output, groups []GroupInfo, added GroupInfo) {
	t.Helper()
	if slices.Contains(groups, added) {
		feed.addGroup(added.ID, false, mem("192.0.2.3"))
	}
	if err := h.Update(context.Background(), outputs, groups); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readState(dir, kind string) (fakeState, bool) {
	var st fakeState
	b, err := os.ReadFile(filepath.Join(dir, kind+".state.json"))
	if err != nil {
		return st, false
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false
	}
	return st, true
}

func readStarts(dir, kind string) []int {
	b, _ := os.ReadFile(filepath.Join(dir, kind+".starts"))
	var pids []int
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if pid, err := strconv.Atoi(f[0]); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// startTimes returns when each start of kind happened.
func startTimes(t *testing.T, dir, kind string) []time.Time {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, kind+".starts"))
	var out []time.Time
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("bad starts line %q", line)
		}
		out = append(out, time.Unix(0, ns))
	}
	return out
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// stateMatches reports whether the plugin's mirror of group id equals want
// and it saw no protocol violation.
func stateMatches(t *testing.T, dir, kind string, id uint64, want []string) bool {
	st, ok := readState(dir, kind)
	if !ok {
		return false
	}
	if len(st.Violations) > 0 {
		t.Fatalf("%s saw protocol violations: %v", kind, st.Violations)
	}
	g := st.Groups[id]
	if g == nil {
		return len(want) == 0
	}
	return slices.Equal(g.Members, want) || (len(want) == 0 && g.N == 0)
}

func statsOf(h *Host, index int) OutputStats {
	for _, s := range h.Stats() {
		if s.Index == index {
			return s
		}
	}
	return OutputStats{}
}

// startFakeHost runs this test binary as the fake host of runFakeHost for
// dir, with env added to this process's environment, and waits until its
// plugin "good" has had its snapshot. The host is killed when the test ends.
func startFakeHost(t *testing.T, dir string, env ...string) *exec.Cmd {
	t.Helper()
	host := exec.Command("/proc/self/exe", "fakehost", dir) //nolint:gosec // this test binary, re-run as the fake host
	if len(env) > 0 {
		host.Env = append(os.Environ(), env...)
	}
	host.Stderr = os.Stderr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })
	waitFor(t, 20*time.Second, "plugin running under the fake host", func() bool {
		st, ok := readState(dir, "good")
		return ok && st.Snapshots == 1
	})
	return host
}

// runFakeHost is the "fakehost" mode for the parent-death test: a listener
// process that runs one fake plugin forever.
func runFakeHost(dir string) {
	h, err := New(Options{
		SelfArgs: func(kind string) []string { return []string{"fakeplugin", kind, dir} },
		Builtins: map[string]bool{"good": true},
	})
	if err != nil {
		panic(err)
	}
	feed := oneGroupFeed(64)
	// Retire OS threads continuously: a goroutine that exits while locked
	// to its thread takes the thread down. A plugin forked from a thread
	// other than the spawner's would receive its parent-death signal here.
	go func() {
		for {
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Go(func() { runtime.LockOSThread() })
			}
			wg.Wait()
			time.Sleep(time.Millisecond)
		}
	}()
	err = h.Run(context.Background(), feed, []Output{{Index: 0, Kind: "good"}}, []GroupInfo{{ID: 1, Expire: time.Minute}})
	panic(errors.Join(errors.New("Run returned"), err))
}

func itoaPid() string { return strconv.Itoa(os.Getpid()) }

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
