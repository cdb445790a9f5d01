package pluginhost

import (
	"slices"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

// A plugin that declared CAPABILITY_GROUP_UPDATES takes a group list
// change on its stream: same process, the new list on the first chunk of a
// fresh snapshot that holds the added group. A plugin without it ("good")
// is restarted as before, and one whose groups did not change is left
// alone.
func TestUpdateGroupsInStream(t *testing.T) {
	g1, g2, g3, slow1 := updateG1, updateG2, updateG3, updateSlow1
	tests := []struct {
		name   string
		groups []GroupInfo
		// told: the "regroup" kinds sent the list ("regroup": every
		// group; "regroup-b": group 1 only).
		told      []string
		restarted []string // of "good" (every group, no capability)
		list      []string // what "regroup" knows in the end
	}{
		{"group added", []GroupInfo{g1, g2, g3}, []string{"regroup"}, []string{"good"}, []string{"1/1m0s/1s", "2/30s/0s", "3/10s/0s"}},
		{"readiness delay of a subscribed group", []GroupInfo{slow1, g2}, []string{"regroup", "regroup-b"}, []string{"good"}, []string{"1/1m0s/5s", "2/30s/0s"}},
		{"same groups in another order", []GroupInfo{g2, g1}, nil, nil, []string{"1/1m0s/1s", "2/30s/0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newHost(t, testOptions(t, dir))
			feed := twoGroupFeed()
			outputs := []Output{outAt(0, "regroup", ""), outAt(1, "regroup-b", "groups: 1\n"), outAt(2, "good", "")}
			startRun(t, h, feed, outputs, []GroupInfo{g1, g2})
			waitFor(t, 20*time.Second, "initial snapshots", func() bool {
				return stateMatches(t, dir, "regroup", 2, []string{"192.0.2.2"}) &&
					stateMatches(t, dir, "regroup-b", 1, []string{"192.0.2.1"}) &&
					stateMatches(t, dir, "good", 2, []string{"192.0.2.2"})
			})
			pids := map[string]int{}
			for _, k := range []string{"regroup", "regroup-b", "good"} {
				pids[k] = readStarts(dir, k)[0]
			}
			updateGroupList(t, h, feed, outputs, tt.groups, g3)
			for _, k := range tt.told {
				waitFor(t, 20*time.Second, k+" took the new list", func() bool {
					st, ok := readState(dir, k)
					return ok && st.GroupLists == 1 && st.Snapshots == 2
				})
			}
			for _, k := range tt.restarted {
				waitRestarted(t, 20*time.Second, k+" restarted", dir, k, pids[k])
			}
			// Events after the update, so that anything still to come
			// from it has been sent before they are seen.
			feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem("192.0.2.5")})
			waitFor(t, 20*time.Second, "an event after the update", func() bool {
				return stateMatches(t, dir, "regroup", 1, []string{"192.0.2.1", "192.0.2.5"}) &&
					stateMatches(t, dir, "regroup-b", 1, []string{"192.0.2.1", "192.0.2.5"}) &&
					stateMatches(t, dir, "good", 1, []string{"192.0.2.1", "192.0.2.5"})
			})
			for _, k := range []string{"regroup", "regroup-b"} {
				st, _ := readState(dir, k)
				if got := readStarts(dir, k); len(got) != 1 || !alive(got[0]) {
					t.Errorf("%s: starts %v, want its first process kept", k, got)
				}
				want := 0
				if slices.Contains(tt.told, k) {
					want = 1
				}
				if st.GroupLists != want || len(st.Violations) > 0 {
					t.Errorf("%s: %d group lists (want %d), violations %v", k, st.GroupLists, want, st.Violations)
				}
			}
			st, _ := readState(dir, "regroup")
			got := slices.Clone(st.Configured)
			slices.Sort(got)
			if !slices.Equal(got, tt.list) {
				t.Errorf("regroup knows %v, want %v", got, tt.list)
			}
			if slices.Contains(tt.groups, g3) && !stateMatches(t, dir, "regroup", 3, []string{"192.0.2.3"}) {
				t.Errorf("regroup does not mirror the added group 3: %+v", st.Groups[3])
			}
			if got := readStarts(dir, "good"); (len(got) == 2) != slices.Contains(tt.restarted, "good") {
				t.Errorf("good: starts %v, restart wanted: %v", got, tt.restarted)
			}
			for i := range outputs {
				if s := statsOf(h, i); s.Restarts != 0 {
					t.Errorf("output %d: a new group list counted as a failure: %+v", i, s)
				}
			}
		})
	}
}
