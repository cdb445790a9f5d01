package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/syncbuf"
)

func outAt(index int, kind, spec string) Output {
	return Output{Index: index, Kind: kind, Spec: []byte(spec)}
}

// logOptions returns testOptions whose host logs are JSON lines in logs
// (and in the test log).
func logOptions(t *testing.T, dir string, logs *syncbuf.Buffer) Options {
	opts := testOptions(t, dir)
	opts.Logger = hclog.New(&hclog.LoggerOptions{
		Output: io.MultiWriter(logs, testWriter{t}), Level: hclog.Info, JSONFormat: true, Name: "host",
	})
	return opts
}

// totals returns the "output totals" lines logged so far, by kind.
func totals(logs *syncbuf.Buffer) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, line := range strings.Split(logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["@message"] != "output totals" {
			continue
		}
		k, _ := l["kind"].(string)
		out[k] = append(out[k], l)
	}
	return out
}

// readHost calls every reader of the host's state until stop is closed,
// so that the race detector sees them run against Update.
func readHost(h *Host, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 100_000 {
			select {
			case <-stop:
				return
			default:
			}
			_ = h.Stats()
			_ = h.AllStarted()
			_ = h.Stalled(time.Now())
			time.Sleep(time.Millisecond)
		}
	})
	return wg.Wait
}

// Outputs are matched by what defines them, not by position: an unchanged
// output keeps its process, a changed one is replaced, a removed one
// stops (logging its totals) before Update returns, an added one starts
// with a snapshot, and a moved one keeps its process under its new index.
func TestUpdateMatchesOutputs(t *testing.T) {
	good, goodB, goodC := outAt(0, "good", ""), outAt(1, "good-b", ""), outAt(2, "good-c", "")
	at := func(o Output, i int) Output { o.Index = i; return o }
	hang := at(goodB, 1)
	hang.HangTimeout = 10 * time.Second
	tests := []struct {
		name                              string
		before, after                     []Output
		kept, restarted, stopped, started []string
	}{
		{
			name:   "unchanged",
			before: []Output{good, goodB}, after: []Output{good, goodB},
			kept: []string{"good", "good-b"},
		},
		{
			name:   "spec changed restarts only that output",
			before: []Output{good, goodB}, after: []Output{good, outAt(1, "good-b", "x: 1\n")},
			kept: []string{"good"}, restarted: []string{"good-b"},
		},
		{
			name:   "hang timeout changed restarts only that output",
			before: []Output{good, goodB}, after: []Output{good, hang},
			kept: []string{"good"}, restarted: []string{"good-b"},
		},
		{
			name:   "removed output stops",
			before: []Output{good, goodB, goodC}, after: []Output{good, at(goodC, 1)},
			kept: []string{"good", "good-c"}, stopped: []string{"good-b"},
		},
		{
			name:   "added output starts",
			before: []Output{good}, after: []Output{good, goodB},
			kept: []string{"good"}, started: []string{"good-b"},
		},
		{
			name:   "reorder keeps processes and relabels",
			before: []Output{good, goodB, goodC}, after: []Output{at(goodC, 0), at(good, 1), at(goodB, 2)},
			kept: []string{"good", "good-b", "good-c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs syncbuf.Buffer
			h := newHost(t, logOptions(t, dir, &logs))
			feed := oneGroupFeed(256)
			stop := startRun(t, h, feed, tt.before, testGroups)
			waitFor(t, 20*time.Second, "initial snapshots", func() bool {
				for _, o := range tt.before {
					if !stateMatches(t, dir, o.Kind, 1, []string{"192.0.2.1"}) {
						return false
					}
				}
				return true
			})
			pids := map[string][]int{}
			oldIndex := map[string]int{}
			for _, o := range tt.before {
				pids[o.Kind] = readStarts(dir, o.Kind)
				oldIndex[o.Kind] = o.Index
			}

			readersDone := make(chan struct{})
			wait := readHost(h, readersDone)
			err := h.Update(context.Background(), tt.after, testGroups)
			close(readersDone)
			wait()
			if err != nil {
				t.Fatalf("Update: %v", err)
			}

			// Stats follow the new list at once.
			var kinds, wantKinds []string
			for i, s := range h.Stats() {
				kinds = append(kinds, s.Kind)
				if s.Index != i {
					t.Errorf("Stats()[%d].Index = %d", i, s.Index)
				}
			}
			for _, o := range tt.after {
				wantKinds = append(wantKinds, o.Kind)
			}
			if !slices.Equal(kinds, wantKinds) {
				t.Errorf("Stats kinds = %v, want %v", kinds, wantKinds)
			}
			// A stopped or replaced output's process is gone when Update
			// returns; a removed one has logged its totals.
			for _, k := range append(slices.Clone(tt.stopped), tt.restarted...) {
				if alive(pids[k][0]) {
					t.Errorf("%s: old plugin %d still alive after Update", k, pids[k][0])
				}
			}
			for _, k := range tt.stopped {
				tl := totals(&logs)[k]
				if len(tl) != 1 || tl[0]["output"] != float64(oldIndex[k]) || tl[0]["starts"] != float64(1) {
					t.Errorf("%s: totals lines %v, want one for output %d with 1 start", k, tl, oldIndex[k])
				}
			}
			for _, k := range tt.kept {
				if got := readStarts(dir, k); !slices.Equal(got, pids[k]) || !alive(got[0]) {
					t.Errorf("%s: starts %v (alive %v), want the untouched process %v", k, got, alive(got[0]), pids[k])
				}
			}
			for _, k := range tt.restarted {
				waitFor(t, 20*time.Second, k+" replaced with a snapshot", func() bool {
					st, ok := readState(dir, k)
					return ok && len(readStarts(dir, k)) == 2 && st.PID != pids[k][0] && st.Snapshots == 1 &&
						stateMatches(t, dir, k, 1, []string{"192.0.2.1"})
				})
			}
			for _, k := range tt.started {
				waitFor(t, 20*time.Second, k+" started with a snapshot", func() bool {
					return stateMatches(t, dir, k, 1, []string{"192.0.2.1"})
				})
			}

			// Every output of the new list, kept or new, streams on.
			feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem("192.0.2.7")})
			waitFor(t, 20*time.Second, "the join reaches every output", func() bool {
				for _, o := range tt.after {
					if !stateMatches(t, dir, o.Kind, 1, []string{"192.0.2.1", "192.0.2.7"}) {
						return false
					}
				}
				return true
			})
			for _, k := range tt.kept {
				if st, _ := readState(dir, k); st.Snapshots != 1 || len(st.Specs) != 1 {
					t.Errorf("%s: kept plugin got %d snapshots and %d specs, want 1 and 1 (no resync, no Configure)", k, st.Snapshots, len(st.Specs))
				}
			}
			for _, s := range h.Stats() {
				if slices.Contains(tt.kept, s.Kind) && (s.Starts != 1 || s.Restarts != 0 || !s.Running) {
					t.Errorf("kept output stats %+v, want running, 1 start, no restart", s)
				}
			}

			// At the end, each output's totals carry its new index.
			stop()
			all := totals(&logs)
			for i, o := range tt.after {
				tl := all[o.Kind]
				if len(tl) == 0 || tl[len(tl)-1]["output"] != float64(i) {
					t.Errorf("%s: totals %v, want the last for output %d", o.Kind, tl, i)
				}
			}
		})
	}
}

// Identical outputs (same kind and spec twice) match one to one: removing
// one of two stops exactly one process; adding more keeps the running ones.
func TestUpdateIdenticalOutputsMatchOneToOne(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := oneGroupFeed(64)
	aliveStarts := func() (live []int) {
		for _, pid := range readStarts(dir, "good") {
			if alive(pid) {
				live = append(live, pid)
			}
		}
		return live
	}
	startRun(t, h, feed, []Output{outAt(0, "good", ""), outAt(1, "good", "")}, testGroups)
	waitFor(t, 20*time.Second, "two plugins running", func() bool {
		return len(aliveStarts()) == 2 && statsOf(h, 0).Running && statsOf(h, 1).Running
	})
	two := aliveStarts()

	steps := []struct {
		name    string
		outputs []Output
		starts  int // processes started in all
		alive   int
	}{
		{"same two again", []Output{outAt(0, "good", ""), outAt(1, "good", "")}, 2, 2},
		{"one of two removed", []Output{outAt(0, "good", "")}, 2, 1},
		{"two added to one", []Output{outAt(0, "good", ""), outAt(1, "good", ""), outAt(2, "good", "")}, 4, 3},
	}
	for _, st := range steps {
		if err := h.Update(context.Background(), st.outputs, testGroups); err != nil {
			t.Fatalf("%s: Update: %v", st.name, err)
		}
		waitFor(t, 20*time.Second, st.name, func() bool {
			return len(readStarts(dir, "good")) == st.starts && len(aliveStarts()) == st.alive && h.AllStarted()
		})
		if n := len(h.Stats()); n != len(st.outputs) {
			t.Errorf("%s: %d stats, want %d", st.name, n, len(st.outputs))
		}
	}
	// The survivor of the removal is one of the first two, still running.
	if live := aliveStarts(); !slices.Contains(two, live[0]) {
		t.Errorf("alive plugins %v, want one of the first two %v among them", live, two)
	}
}

// The groups of the group-list update tests: 1 and 2 at the start, 3 added
// by an update, and 1 with a longer readiness delay.
var (
	updateG1    = GroupInfo{ID: 1, Expire: time.Minute, ReadinessDelay: time.Second}
	updateG2    = GroupInfo{ID: 2, Expire: 30 * time.Second}
	updateG3    = GroupInfo{ID: 3, Expire: 10 * time.Second}
	updateSlow1 = GroupInfo{ID: 1, Expire: time.Minute, ReadinessDelay: 5 * time.Second}
)

// A group list change reaches the plugins that know the changed groups:
// an output subscribed to every group is restarted and configured with
// the new list, and hears the added group; an output subscribed to a
// group that did not change keeps its process.
func TestUpdateGroups(t *testing.T) {
	g1, g2, g3, slow1 := updateG1, updateG2, updateG3, updateSlow1
	long2 := g2
	long2.Expire = 45 * time.Second
	tests := []struct {
		name      string
		groups    []GroupInfo
		restarted []string // of "good" (every group) and "good-b" (group 1 only)
		configure []string // what the "good" plugin is configured with in the end
	}{
		{"group added", []GroupInfo{g1, g2, g3}, []string{"good"}, []string{"1/1m0s/1s", "2/30s/0s", "3/10s/0s"}},
		{"group removed", []GroupInfo{g1}, []string{"good"}, []string{"1/1m0s/1s"}},
		{"expire of an unsubscribed group", []GroupInfo{g1, long2}, []string{"good"}, []string{"1/1m0s/1s", "2/45s/0s"}},
		{"readiness delay of a subscribed group", []GroupInfo{slow1, g2}, []string{"good", "good-b"}, []string{"1/1m0s/5s", "2/30s/0s"}},
		{"same groups in another order", []GroupInfo{g2, g1}, nil, []string{"1/1m0s/1s", "2/30s/0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newHost(t, testOptions(t, dir))
			feed := twoGroupFeed()
			outputs := []Output{outAt(0, "good", ""), outAt(1, "good-b", "groups: 1\n")}
			startRun(t, h, feed, outputs, []GroupInfo{g1, g2})
			waitFor(t, 20*time.Second, "initial snapshots", func() bool {
				return stateMatches(t, dir, "good", 2, []string{"192.0.2.2"}) && stateMatches(t, dir, "good-b", 1, []string{"192.0.2.1"})
			})
			before := map[string]int{"good": readStarts(dir, "good")[0], "good-b": readStarts(dir, "good-b")[0]}

			updateGroupList(t, h, feed, outputs, tt.groups, g3)
			for _, k := range tt.restarted {
				waitRestarted(t, 20*time.Second, k+" restarted and configured", dir, k, before[k])
				if alive(before[k]) {
					t.Errorf("%s: old plugin %d still alive", k, before[k])
				}
			}
			for _, k := range []string{"good", "good-b"} {
				if slices.Contains(tt.restarted, k) {
					continue
				}
				if got := readStarts(dir, k); len(got) != 1 || !alive(got[0]) {
					t.Errorf("%s: starts %v, want its first process untouched", k, got)
				}
			}
			st, _ := readState(dir, "good")
			got := slices.Clone(st.Configured)
			slices.Sort(got)
			if !slices.Equal(got, tt.configure) {
				t.Errorf("good configured with %v, want %v", got, tt.configure)
			}
			if s := statsOf(h, 0); s.Restarts != 0 {
				t.Errorf("a restart for new groups counted as a failure: %+v", s)
			}

			// Events of an added group reach the output subscribed to
			// every group, and only it.
			feed.Publish(group.Event{Kind: group.Join, Group: 3, Member: mem("192.0.2.4")})
			feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem("192.0.2.5")})
			waitFor(t, 20*time.Second, "events after the update", func() bool {
				return stateMatches(t, dir, "good", 1, []string{"192.0.2.1", "192.0.2.5"}) &&
					stateMatches(t, dir, "good-b", 1, []string{"192.0.2.1", "192.0.2.5"})
			})
			if slices.Contains(tt.groups, g3) {
				if !stateMatches(t, dir, "good", 3, []string{"192.0.2.3", "192.0.2.4"}) {
					st, _ := readState(dir, "good")
					t.Errorf("good does not mirror the added group 3: %+v", st.Groups[3])
				}
			}
			if st, _ := readState(dir, "good-b"); st.Groups[3] != nil || st.Groups[2] != nil {
				t.Errorf("good-b (group 1 only) mirrors other groups: %+v", st.Groups)
			}
		})
	}
}

// After Update returns, AllStarted and Stalled describe the new list: an
// output that never starts stops counting once removed, and a new one
// counts at once.
func TestUpdateReadiness(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := oneGroupFeed(64)
	startRun(t, h, feed, []Output{outAt(0, "good", ""), outAt(1, "hangstart", "")}, testGroups)
	waitFor(t, 20*time.Second, "good running", func() bool { return statsOf(h, 0).Running })
	if h.AllStarted() {
		t.Fatal("AllStarted while hangstart has not started")
	}
	if err := h.Update(context.Background(), []Output{outAt(0, "good", "")}, testGroups); err != nil {
		t.Fatal(err)
	}
	if !h.AllStarted() || len(h.Stats()) != 1 {
		t.Errorf("after removing hangstart: AllStarted %v, stats %+v; want true and one output", h.AllStarted(), h.Stats())
	}
	if err := h.Update(context.Background(), []Output{outAt(0, "good", ""), outAt(1, "crash", "")}, testGroups); err != nil {
		t.Fatal(err)
	}
	if h.AllStarted() {
		t.Error("AllStarted right after adding an output that has not started")
	}
	waitFor(t, 20*time.Second, "crash restarting", func() bool { return statsOf(h, 1).Restarts >= 1 })
	if h.AllStarted() {
		t.Error("AllStarted with an output that crashes at start")
	}
	if err := h.Stalled(time.Now()); err != nil {
		t.Errorf("Stalled = %v", err)
	}
}

// Update needs an active Run.
func TestUpdateNotRunning(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	outputs := []Output{outAt(0, "good", "")}
	if err := h.Update(context.Background(), outputs, testGroups); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Update before Run = %v, want ErrNotRunning", err)
	}
	stop := startRun(t, h, newFakeFeed(64), outputs, testGroups)
	waitFor(t, 20*time.Second, "running", h.AllStarted)
	stop()
	if err := h.Update(context.Background(), outputs, testGroups); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Update after Run = %v, want ErrNotRunning", err)
	}
	if n := len(readStarts(dir, "good")); n != 1 {
		t.Errorf("%d plugin starts, want 1", n)
	}
}

// Concurrent Updates apply one after the other: the host ends up running
// exactly the list of one of them, with no process left over.
func TestUpdateConcurrent(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := oneGroupFeed(64)
	stop := startRun(t, h, feed, []Output{outAt(0, "good", "")}, testGroups)
	waitFor(t, 20*time.Second, "running", h.AllStarted)
	lists := [][]Output{
		{outAt(0, "good-b", "")},
		{outAt(0, "good", ""), outAt(1, "good-c", "")},
	}
	var wg sync.WaitGroup
	for _, l := range lists {
		wg.Go(func() {
			if err := h.Update(context.Background(), l, testGroups); err != nil {
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	var kinds []string
	for _, s := range h.Stats() {
		kinds = append(kinds, s.Kind)
	}
	var want []Output
	for _, l := range lists {
		if len(l) == len(kinds) && l[0].Kind == kinds[0] {
			want = l
		}
	}
	if want == nil {
		t.Fatalf("Stats kinds %v match neither list", kinds)
	}
	waitFor(t, 20*time.Second, "the winning list running", h.AllStarted)
	stop()
	for _, k := range []string{"good", "good-b", "good-c"} {
		for _, pid := range readStarts(dir, k) {
			if alive(pid) {
				t.Errorf("%s plugin %d alive after Run returned", k, pid)
			}
		}
	}
}

// An Update whose ctx ends while a removed output is still stopping (its
// plugin ignores Stop) applies the new list all the same and says which
// output was still stopping; the output is gone soon after.
func TestUpdateContextEndsDuringStop(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := oneGroupFeed(64)
	startRun(t, h, feed, []Output{outAt(0, "good", ""), outAt(1, "ignorestop", "")}, testGroups)
	waitFor(t, 20*time.Second, "running", h.AllStarted)
	victim := readStarts(dir, "ignorestop")[0]
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := h.Update(ctx, []Output{outAt(0, "good", ""), outAt(1, "good-b", "")}, testGroups)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "output 1 (ignorestop) still stopping") {
		t.Errorf("Update = %v, want a deadline error naming output 1 (ignorestop)", err)
	}
	if s := h.Stats(); len(s) != 2 || s[1].Kind != "good-b" {
		t.Errorf("stats after Update = %+v, want good and good-b", s)
	}
	waitFor(t, 20*time.Second, "good-b running and ignorestop gone", func() bool {
		return stateMatches(t, dir, "good-b", 1, []string{"192.0.2.1"}) && !alive(victim)
	})
}

// TestKeyIgnoresLayout: the configuration pads a spec so a parser reports
// the file's line numbers; an output whose lines moved (a group was added
// above it) or whose keys were reordered is the same output, one whose
// values changed is not.
func TestKeyIgnoresLayout(t *testing.T) {
	base := Output{Kind: "eventlog", Spec: []byte("\n\n\n\nonly_groups: [1000]\nx: 1\n")}
	for _, tt := range []struct {
		name string
		spec string
		same bool
	}{
		{"moved down", "\n\n\n\n\n\n\n\nonly_groups: [1000]\nx: 1\n", true},
		{"keys reordered, flow to block", "x: 1\nonly_groups:\n  - 1000\n", true},
		{"a comment", "only_groups: [1000] # the web tier\nx: 1\n", true},
		{"a value changed", "only_groups: [1000, 2000]\nx: 1\n", false},
		{"a key added", "only_groups: [1000]\nx: 1\ny: 2\n", false},
	} {
		o := base
		o.Spec = []byte(tt.spec)
		if got := keyOf(&o) == keyOf(&base); got != tt.same {
			t.Errorf("%s: same output = %v, want %v", tt.name, got, tt.same)
		}
	}
}
