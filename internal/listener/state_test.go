package listener

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/statefile"
	"github.com/rgap-project/rgap/internal/syncbuf"
)

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// logSink collects JSON log lines.
type logSink struct{ syncbuf.Buffer }

func (s *logSink) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// levels returns "level: message" for each line.
func (s *logSink) levels(t *testing.T) []string {
	var out []string
	for _, l := range s.lines(t) {
		out = append(out, l["@level"].(string)+": "+l["@message"].(string))
	}
	return out
}

func newLog() (hclog.Logger, *logSink) {
	s := &logSink{}
	return hclog.New(&hclog.LoggerOptions{Output: s, JSONFormat: true, Level: hclog.Debug}), s
}

var testGroups = []config.Group{
	{ID: 1, Expire: 10 * time.Second, ReadinessDelay: 30 * time.Second},
	{ID: 2, Expire: time.Minute, ReadinessDelay: 30 * time.Second},
}

func newRegistry(t *testing.T, clk group.Clock) *group.Registry {
	t.Helper()
	var gc []group.Config
	for _, g := range testGroups {
		gc = append(gc, group.Config{ID: g.ID, Expire: g.Expire, ReadinessDelay: g.ReadinessDelay})
	}
	r, err := group.New(gc, group.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func encodeState(t *testing.T, s statefile.State) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := statefile.Encode(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func member(a string, exp time.Time) group.Member {
	return group.Member{Addr: netip.MustParseAddr(a), Expires: exp}
}

func TestRestoreState(t *testing.T) {
	now := t0
	saved := func(written time.Time) []byte {
		return encodeState(t, statefile.State{Written: written, Groups: []group.GroupSnapshot{
			{ID: 1, Members: []group.Member{member("192.0.2.1", now.Add(5*time.Second)), member("192.0.2.2", now.Add(-time.Second))}},
			{ID: 2, Members: []group.Member{member("2001:db8::2", now.Add(30*time.Second))}},
			{ID: 77, Members: []group.Member{member("192.0.2.7", now.Add(5*time.Second))}},
		}})
	}
	good := saved(now.Add(-3 * time.Second))
	empty := restoreWant{members: map[uint64][]string{1: nil, 2: nil}, ready: map[uint64]bool{1: false, 2: false}}
	tests := []struct {
		name  string
		setup func(t *testing.T, path string) // nil: no file
		want  restoreWant
	}{
		{"missing", nil, withLog(empty, "info: no state file yet; groups start empty")},
		{"corrupt", writeBytes(flipByte(good, 30)), withLog(empty, "warn: state file ignored; groups start empty")},
		{"truncated", writeBytes(good[:len(good)-7]), withLog(empty, "warn: state file ignored; groups start empty")},
		{"empty", writeBytes(nil), withLog(empty, "warn: state file ignored; groups start empty")},
		{"not a state file", writeBytes([]byte("listen: [127.0.0.1:8271]\n")), withLog(empty, "warn: state file ignored; groups start empty")},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, withLog(empty, "warn: state file ignored; groups start empty")},
		{"a fifo is not read (it would block)", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, withLog(empty, "warn: state file ignored; groups start empty")},
		{"unreadable", func(t *testing.T, path string) {
			writeBytes(good)(t, path)
			if err := os.Chmod(path, 0); err != nil {
				t.Fatal(err)
			}
			if f, err := os.Open(path); err == nil { // root reads anyway
				_ = f.Close()
				t.Skip("running as a user who reads a mode-0 file")
			}
		}, withLog(empty, "warn: state file ignored; groups start empty")},
		{"another group set", writeBytes(encodeState(t, statefile.State{Written: now, Groups: []group.GroupSnapshot{
			{ID: 500, Members: []group.Member{member("192.0.2.5", now.Add(time.Second))}},
		}})), withLog(empty, "warn: state file ignored: none of its groups is configured (it is from another group set)")},
		{"fresh: members live and groups ready at once, unknown group skipped", writeBytes(good), restoreWant{
			log:     "info: state restored",
			members: map[uint64][]string{1: {"192.0.2.1"}, 2: {"2001:db8::2"}},
			ready:   map[uint64]bool{1: true, 2: true},
		}},
		{"older than one group's expire: that group waits for its delay", writeBytes(saved(now.Add(-20 * time.Second))), restoreWant{
			log:     "info: state restored",
			members: map[uint64][]string{1: {"192.0.2.1"}, 2: {"2001:db8::2"}},
			ready:   map[uint64]bool{1: false, 2: true},
		}},
		{"written in the future: not trusted for readiness", writeBytes(saved(now.Add(time.Minute))), restoreWant{
			log:     "info: state restored",
			members: map[uint64][]string{1: {"192.0.2.1"}, 2: {"2001:db8::2"}},
			ready:   map[uint64]bool{1: false, 2: false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rgap.state")
			if tt.setup != nil {
				tt.setup(t, path)
			}
			log, sink := newLog()
			reg := newRegistry(t, group.NewFakeClock(now))
			restoreState(log, path, reg, testGroups, now)
			if lv := sink.levels(t); !contains(lv, tt.want.log) {
				t.Errorf("log %q, want a line %q", lv, tt.want.log)
			}
			for _, l := range sink.lines(t) {
				if r, ok := l["reason"].(string); ok && !strings.Contains(r, path) {
					t.Errorf("reason %q does not name the file %s", r, path)
				}
			}
			for _, g := range reg.Snapshot(nil) {
				var addrs []string
				for _, m := range g.Members {
					addrs = append(addrs, m.Addr.String())
				}
				if !reflect.DeepEqual(addrs, tt.want.members[g.ID]) {
					t.Errorf("group %d members %v, want %v", g.ID, addrs, tt.want.members[g.ID])
				}
				if g.Ready != tt.want.ready[g.ID] {
					t.Errorf("group %d ready %v, want %v", g.ID, g.Ready, tt.want.ready[g.ID])
				}
			}
		})
	}
}

// restoreWant is what restoreState must leave behind.
type restoreWant struct {
	log     string // "level: message" that must be logged
	members map[uint64][]string
	ready   map[uint64]bool
}

func withLog(w restoreWant, line string) restoreWant {
	w.log = line
	return w
}

func writeBytes(b []byte) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func readBack(t *testing.T, path string) statefile.State {
	t.Helper()
	st, err := readState(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStateWriterSaves(t *testing.T) {
	clk := group.NewFakeClock(t0)
	reg := newRegistry(t, clk)
	// Group 1 ready (restored), group 2 still in its readiness delay.
	if _, err := reg.Restore([]group.GroupSnapshot{{ID: 1, Ready: true, Members: []group.Member{member("192.0.2.1", t0.Add(5*time.Second))}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Observe(2, netip.MustParseAddr("192.0.2.2"), t0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rgap.state")
	log, sink := newLog()
	w := &stateWriter{path: path, reg: reg, now: clk.Now, log: log}

	w.save()
	want := statefile.State{Written: t0, Groups: []group.GroupSnapshot{
		{ID: 1, Members: []group.Member{member("192.0.2.1", t0.Add(5*time.Second))},
			// Its anti-replay mark: the timestamp that gave it its expiry.
			Marks: []group.Mark{{Addr: netip.MustParseAddr("192.0.2.1"), Timestamp: t0.Add(-5 * time.Second)}}},
	}}
	if got := readBack(t, path); !reflect.DeepEqual(got, want) {
		t.Errorf("saved (a group not ready yet must be left out):\n got %+v\nwant %+v", got, want)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != stateFileMode {
		t.Errorf("state file mode: %v, %v; want %v", info, err, stateFileMode)
	}

	// Nothing changed: no write.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	w.saveIfChanged()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("written although nothing changed (stat: %v)", err)
	}
	// A change: written.
	if _, err := reg.Observe(1, netip.MustParseAddr("192.0.2.3"), clk.Now()); err != nil {
		t.Fatal(err)
	}
	w.saveIfChanged()
	if got := readBack(t, path); !got.Written.Equal(clk.Now()) || len(got.Groups) != 1 || len(got.Groups[0].Members) != 2 {
		t.Errorf("after a change: %+v, want 2 members written at %s", got, clk.Now())
	}
	for _, l := range sink.levels(t) {
		if !strings.HasPrefix(l, "debug: ") && !strings.HasPrefix(l, "trace: ") {
			t.Errorf("successful writes logged %q above debug", l)
		}
	}
}

// TestStateWriterFailures: a write failure is logged once per streak, its
// end once, and the writer keeps trying.
func TestStateWriterFailures(t *testing.T) {
	clk := group.NewFakeClock(t0)
	reg := newRegistry(t, clk)
	dir := filepath.Join(t.TempDir(), "state-dir")
	log, sink := newLog()
	w := &stateWriter{path: filepath.Join(dir, "rgap.state"), reg: reg, now: clk.Now, log: log}
	for range 3 {
		w.save() // dir does not exist
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	w.save()
	if err := os.Remove(dir + "/rgap.state"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	w.save()
	var got []string
	for _, l := range sink.levels(t) {
		if !strings.HasPrefix(l, "debug: ") && !strings.HasPrefix(l, "trace: ") {
			got = append(got, l)
		}
	}
	want := []string{
		"warn: state file not written; the listener goes on and retries",
		"info: state file written again",
		"warn: state file not written; the listener goes on and retries",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	if l := sink.lines(t)[0]; !strings.Contains(l["error"].(string), dir) {
		t.Errorf("error %q does not name the directory", l["error"])
	}
}

// TestStateWriterRun: the periodic writer saves after a change, on its
// interval.
func TestStateWriterRun(t *testing.T) {
	clk := group.NewFakeClock(t0)
	reg := newRegistry(t, clk)
	if _, err := reg.Restore([]group.GroupSnapshot{{ID: 1, Ready: true}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rgap.state")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if w := startStateWriter(ctx, &wg, path, reg, clk, DefaultStateInterval, hclog.NewNullLogger()); w == nil {
		t.Fatal("no writer for a configured path")
	}
	defer func() { cancel(); wg.Wait() }()
	if _, err := reg.Observe(1, netip.MustParseAddr("192.0.2.1"), t0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		clk.Advance(DefaultStateInterval)
		if st, err := readState(path); err == nil {
			if len(st.Groups) != 1 || len(st.Groups[0].Members) != 1 {
				t.Errorf("saved %+v, want group 1 with its member", st)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the state file was not written within 5s of a change")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNilStateWriter(t *testing.T) {
	var wg sync.WaitGroup
	w := startStateWriter(context.Background(), &wg, "", nil, group.SystemClock(), 0, hclog.NewNullLogger())
	if w != nil {
		t.Fatal("a writer without a path")
	}
	w.save() // must not panic
	wg.Wait()
}
