package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

// replayRestartConfig is a listener on port with a state file, metrics on
// httpPort and a dns output on dnsPort answering app.test. for group 1000
// (expire 30s, readiness_delay 0s). The clock_skew of 30s keeps every
// captured datagram within the skew across the restart, so that what
// drops them is the anti-replay mark, not the skew check.
func replayRestartConfig(state string, port, dnsPort, httpPort int) string {
	return fmt.Sprintf("listen: [127.0.0.1:%d]\nhttp_listen: 127.0.0.1:%d\nstate_file: %s\ngroups:\n  - id: 1000\n    psk: %s\n    expire: 30s\n    clock_skew: 30s\n    readiness_delay: 0s\noutputs:\n",
		port, httpPort, state, psk1) + plugDNSOutput(dnsPort)
}

// TestReplayAfterLeaveAndRestartIsDropped: an agent's announcements,
// captured by a relay, are replayed after the agent left and the listener was
// restarted from its state file: every one is dropped as replay (the
// marks kept after the leave are in the state file), and the member stays
// out of the dns answer. Without the marks in the file the captured
// announcements, still within clock_skew, would add it again.
func TestReplayAfterLeaveAndRestartIsDropped(t *testing.T) {
	dir := t.TempDir()
	port, dnsPort := plugPorts(t)
	httpPort := freeTCPPort(t)
	cfg := writeConfig(t, dir, replayRestartConfig(filepath.Join(dir, "rgap.state"), port, dnsPort, httpPort))
	l := &v2Listener{port: port, dnsPort: dnsPort, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort), path: cfg}

	l.proc = start(t, dir, nil, "listener", "-c", cfg)
	l.waitLog(20*time.Second, "listening", msgIs("listening"))
	relay := newUDPRelay(t, l.dst())
	a := startV2Agent(t, psk1, "0", "127.1.2.3", relay.addr())
	plugWaitDNS(t, dnsPort, 20*time.Second, "127.1.2.3")
	time.Sleep(300 * time.Millisecond) // a few more announcements to capture
	a.stop(5 * time.Second)            // SIGTERM: the agent leaves
	waitGone(t, dnsPort, "127.1.2.3", time.Now(), time.Second)
	l.waitMetric(t, `rgap_announcements_accepted_total{group="1000"}`, 5*time.Second, "every relayed datagram counted",
		func(v float64) bool { return int(v) == len(relay.captured()) })
	l.stop(10 * time.Second) // saves the state file

	l.proc = start(t, dir, nil, "listener", "-c", cfg)
	restored := l.waitLog(20*time.Second, `"state restored"`, msgIs("state restored"))
	if restored.num("members") != 0 || restored.num("left_marks") != 1 {
		t.Errorf("state restored %v, want no member and 1 left mark", restored)
	}
	l.waitLog(20*time.Second, "listening", msgIs("listening"))
	plugWaitDNS(t, dnsPort, 10*time.Second) // ready and empty

	// The announcements only: the captured leaves, newer, would take
	// the member out again at once.
	n := replayAnnouncements(t, relay)
	if got := waitDNSNot(dnsPort, time.Second); len(got) != 0 {
		t.Fatalf("the replay after the restart put %v back in the dns answer", got)
	}
	l.waitMetric(t, `rgap_announcements_dropped_total{reason="replay"}`, 5*time.Second, fmt.Sprintf("%d replay drops", n),
		func(v float64) bool { return v == float64(n) })
	if v := l.metric(t, `rgap_announcements_dropped_total{reason="clock_skew"}`); v != 0 {
		t.Errorf("%v clock_skew drops, want 0 (the replay came too late to test the marks)", v)
	}
	if got, err := plugQueryA(dnsPort); err != nil || len(got) != 0 {
		t.Fatalf("after the replay the dns answer is %v (%v), want empty", got, err)
	}
	if v := l.metric(t, `rgap_group_joins_total{group="1000"}`); v != 0 {
		t.Fatalf("joins %v after the restart and the replay, want 0", v)
	}
	t.Logf("%d captured announcements replayed after the restart, all dropped as replay", n)
	l.stop(10 * time.Second)
}

// waitDNSNot polls the dns output for up to d and returns the first
// non-empty answer it gives, or nil.
func waitDNSNot(dnsPort int, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if got, err := plugQueryA(dnsPort); err == nil && len(got) != 0 {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// replayAnnouncements sends the relay's captured datagrams other than
// leaves to the listener again and returns how many.
func replayAnnouncements(t *testing.T, r *udpRelay) int {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, r.to)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	n := 0
	for _, d := range r.captured() {
		if ann, err := protocol.Parse(d); err != nil || ann.Leave {
			continue
		}
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
		n++
		time.Sleep(200 * time.Microsecond) // keep within the socket buffer
	}
	if n == 0 {
		t.Fatal("no announcement captured")
	}
	return n
}
