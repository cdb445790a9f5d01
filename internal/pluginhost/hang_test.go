package pluginhost

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

// An idle plugin that is stopped (SIGSTOP) is noticed through the
// heartbeat it does not acknowledge, killed, waited for, and replaced, by
// default within about 5 seconds (it took 31 to 38 seconds before). An
// output's own hang timeout overrides the host's. The bounds only guard
// against the old behaviour; they are far above what is expected.
func TestStoppedIdlePluginReplaced(t *testing.T) {
	cases := []struct {
		name       string
		hostHang   time.Duration // Options.HangTimeout; 0: the default
		outputHang time.Duration // Output.HangTimeout
		within     time.Duration
	}{
		{name: "default hang timeout", within: 15 * time.Second},
		{name: "per-output hang timeout", hostHang: time.Minute, outputHang: 1500 * time.Millisecond, within: 10 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, h, _ := runOneGroupHost(t, tc.hostHang, 64, Output{Kind: "good", HangTimeout: tc.outputHang})
			waitFor(t, 20*time.Second, "first snapshot", func() bool { return stateMatches(t, dir, "good", 1, []string{"192.0.2.1"}) })
			// Let it go idle: at least one heartbeat was acknowledged.
			waitFor(t, 10*time.Second, "a heartbeat", func() bool { return statsOf(h, 0).Heartbeats >= 1 })
			victim := readStarts(dir, "good")[0]
			t.Cleanup(func() { _ = syscall.Kill(victim, syscall.SIGKILL) })
			if err := syscall.Kill(victim, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			waitRestarted(t, tc.within, "the stopped plugin replaced", dir, "good", victim)
			t.Logf("replaced %v after SIGSTOP", time.Since(stopped).Round(time.Millisecond))
			if alive(victim) {
				t.Errorf("the stopped plugin %d still exists after its replacement started", victim)
			}
			s := statsOf(h, 0)
			if s.Hung != 1 || !strings.Contains(s.LastError, "plugin hung") {
				t.Errorf("stats = %+v, want one hang reported", s)
			}
		})
	}
}

// A busy plugin that keeps acknowledging is never declared hung, even when
// its messages wait longer than a heartbeat interval in the window.
func TestSlowButAcknowledgingPluginNotHung(t *testing.T) {
	dir, h, feed := runOneGroupHost(t, time.Second, 1<<16, Output{Kind: "slow"})
	waitFor(t, 20*time.Second, "first snapshot", func() bool { return stateMatches(t, dir, "slow", 1, []string{"192.0.2.1"}) })
	for i := range 200 {
		feed.Publish(group.Event{Kind: group.Join, Group: 1, Member: mem(addrN(i))})
	}
	waitFor(t, 30*time.Second, "all events", func() bool {
		st, ok := readState(dir, "slow")
		return ok && st.Groups[1] != nil && st.Groups[1].N == 201
	})
	if s := statsOf(h, 0); s.Hung != 0 || s.Restarts != 0 {
		t.Errorf("stats = %+v, want no hang and no restart", s)
	}
}
