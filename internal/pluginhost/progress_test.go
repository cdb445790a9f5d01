package pluginhost

import (
	"strings"
	"testing"
	"time"
)

// TestAllStartedWaitsForEveryOutput: the listener reports itself ready only
// once every output's plugin runs; one plugin still starting (or crashing
// at start) keeps AllStarted false although its neighbour runs.
func TestAllStartedWaitsForEveryOutput(t *testing.T) {
	tests := []struct {
		name    string
		outputs []Output
		want    bool
	}{
		{"all start", []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "good-b"}}, true},
		{"one hangs at start", []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "hangstart"}}, false},
		{"one crashes at start", []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "crash"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newHost(t, testOptions(t, dir))
			if h.AllStarted() {
				t.Fatal("AllStarted before Run")
			}
			feed := oneGroupFeed(64)
			stop := startRun(t, h, feed, tt.outputs, testGroups)
			waitFor(t, 20*time.Second, "output 0 running", func() bool { return stateMatches(t, dir, "good", 1, []string{"192.0.2.1"}) })
			if tt.want {
				waitFor(t, 20*time.Second, "AllStarted", h.AllStarted)
			} else {
				for range 10 {
					if h.AllStarted() {
						t.Fatalf("AllStarted with output 1 (%s) never running; stats %+v", tt.outputs[1].Kind, statsOf(h, 1))
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			stop()
			if h.AllStarted() {
				t.Error("AllStarted after Run returned")
			}
		})
	}
}

// TestStalledOnlyWhenPastDeadline: outputs that start, crash and restart, or
// hang at start within the start timeout are all making progress; a
// supervisor past its step's deadline is reported by output and kind.
func TestStalledOnlyWhenPastDeadline(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := oneGroupFeed(64)
	stop := startRun(t, h, feed, []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "crash"}, {Index: 2, Kind: "hangstart"}}, testGroups)
	waitFor(t, 20*time.Second, "output 0 running", func() bool { return stateMatches(t, dir, "good", 1, []string{"192.0.2.1"}) })
	waitFor(t, 20*time.Second, "crash restarted", func() bool { return statsOf(h, 1).Restarts >= 2 })
	for range 10 {
		if err := h.Stalled(time.Now()); err != nil {
			t.Fatalf("Stalled = %v while every output makes progress", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// hangstart has been starting for a while: past the start bound, it
	// would be stuck (the start timeout cuts it well before).
	later := time.Now().Add(h.opts.launchBound() + stepSlack + time.Second)
	err := h.Stalled(later)
	if err == nil || !strings.Contains(err.Error(), "output 2 (hangstart)") {
		t.Errorf("Stalled(%v later) = %v, want output 2 (hangstart) named", time.Until(later).Round(time.Second), err)
	}
	stop()
	if err := h.Stalled(later); err != nil {
		t.Errorf("Stalled after Run returned = %v, want nil", err)
	}
}
