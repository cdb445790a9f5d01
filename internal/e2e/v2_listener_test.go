package e2e

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Protocol v2 through the real listener: leaves, anti-replay, key rotation
// and v1 and v2 agents in one group.

// v2Listener is a listener with group 1000 (expire 30s, clock_skew 10s,
// readiness_delay 0), a dns output answering app.test. and metrics.
type v2Listener struct {
	*proc
	port, dnsPort int
	metrics       string // base URL
	path          string // the configuration file
}

// v2Group is group 1000's YAML with the given key lines ("psk: ..." and/or
// a keys list), indented for a groups item.
func v2Config(port, dnsPort, httpPort int, keys string) string {
	return fmt.Sprintf("listen: [127.0.0.1:%d]\nhttp_listen: 127.0.0.1:%d\ngroups:\n  - id: 1000\n%s    expire: 30s\n    clock_skew: 10s\n    readiness_delay: 0s\noutputs:\n",
		port, httpPort, keys) + plugDNSOutput(dnsPort)
}

func startV2Listener(t *testing.T, keys string) *v2Listener {
	t.Helper()
	port, dnsPort := plugPorts(t)
	httpPort := freeTCPPort(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, v2Config(port, dnsPort, httpPort, keys))
	p := start(t, dir, nil, "listener", "-c", path)
	p.waitLog(20*time.Second, "listening", msgIs("listening"))
	l := &v2Listener{proc: p, port: port, dnsPort: dnsPort, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort), path: path}
	plugWaitDNS(t, dnsPort, 10*time.Second) // the group is ready and empty
	return l
}

func (l *v2Listener) dst() string { return fmt.Sprintf("127.0.0.1:%d", l.port) }

// metric returns one series' value from /metrics.
func (l *v2Listener) metric(t *testing.T, series string) float64 {
	t.Helper()
	return metricsValue(t, metricsPoll(t, l.metrics, 5*time.Second, "metrics", func(code int, _ string) bool { return code == 200 }), series)
}

// waitMetric polls /metrics until series satisfies ok.
func (l *v2Listener) waitMetric(t *testing.T, series string, timeout time.Duration, what string, ok func(float64) bool) {
	t.Helper()
	metricsPoll(t, l.metrics, timeout, what, func(code int, body string) bool {
		if code != 200 {
			return false
		}
		for _, line := range strings.Split(body, "\n") {
			var v float64
			if rest, found := strings.CutPrefix(line, series+" "); found {
				if _, err := fmt.Sscan(rest, &v); err == nil && ok(v) {
					return true
				}
			}
		}
		return false
	})
}

// startV2Agent runs a protocol-2 agent announcing addr every 100ms to dst.
func startV2Agent(t *testing.T, psk, keyID, addr, dst string, extra ...string) *proc {
	t.Helper()
	return start(t, t.TempDir(), []string{"RGAP_PSK=" + psk},
		append([]string{"agent", "--protocol", "2", "--key-id", keyID, "--port", "8080", "--weight", "5",
			"-g", "1000", "-a", addr, "-i", "100ms", "-d", dst}, extra...)...)
}

// waitGone polls the dns output until addr is not in the answer and
// returns how long that took from since.
func waitGone(t *testing.T, dnsPort int, addr string, since time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	deadline := since.Add(timeout)
	for {
		got, err := plugQueryA(dnsPort)
		if err == nil && !slices.Contains(got, addr) {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still in the dns answer %v (%v) %v after the leave", addr, got, err, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestV2LeaveLeavesDNSAtOnce: a v2 agent stopped with SIGTERM is gone from
// the dns answer within 1 s, while expire is 30 s.
func TestV2LeaveLeavesDNSAtOnce(t *testing.T) {
	l := startV2Listener(t, "    psk: "+psk1+"\n")
	a := startV2Agent(t, psk1, "0", "127.1.2.3", l.dst())
	plugWaitDNS(t, l.dnsPort, 10*time.Second, "127.1.2.3")
	sent := sigterm(t, a)
	took := waitGone(t, l.dnsPort, "127.1.2.3", sent, time.Second)
	waitExit(t, a)
	t.Logf("SIGTERM -> gone from the dns answer: %v", took)
	if v := l.metric(t, `rgap_group_leaves_total{group="1000"}`); v != 1 {
		t.Errorf("leaves %v, want 1", v)
	}
}

// sigterm sends SIGTERM to p and returns when it did.
func sigterm(t *testing.T, p *proc) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return at
}

// waitExit waits for p to exit with status 0 after a signal.
func waitExit(t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("agent did not exit within 5s of SIGTERM")
	}
	if p.err != nil {
		t.Fatalf("agent exited with %v", p.err)
	}
}

// udpRelay forwards datagrams from agents to the listener and records
// them, so that a test can replay them later.
type udpRelay struct {
	conn *net.UDPConn
	to   *net.UDPAddr
	mu   sync.Mutex
	seen [][]byte
	done chan struct{}
}

func newUDPRelay(t *testing.T, to string) *udpRelay {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := net.ResolveUDPAddr("udp4", to)
	if err != nil {
		t.Fatal(err)
	}
	r := &udpRelay{conn: c, to: dst, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return // closed
			}
			d := slices.Clone(buf[:n])
			r.mu.Lock()
			r.seen = append(r.seen, d)
			r.mu.Unlock()
			_, _ = c.WriteToUDP(d, dst) // loopback; a loss shows as a test failure later
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-r.done })
	return r
}

func (r *udpRelay) addr() string { return r.conn.LocalAddr().String() }

func (r *udpRelay) captured() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// replay sends every captured datagram to the listener again.
func (r *udpRelay) replay(t *testing.T) int {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, r.to)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	all := r.captured()
	for _, d := range all {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // keep within the socket buffer
	}
	return len(all)
}

// TestV2ReplayAfterLeaveIsDropped: the datagrams of an agent, captured by a
// relay and sent again after it left, are dropped and counted as replay,
// and the member stays gone.
func TestV2ReplayAfterLeaveIsDropped(t *testing.T) {
	l := startV2Listener(t, "    psk: "+psk1+"\n")
	relay := newUDPRelay(t, l.dst())
	a := startV2Agent(t, psk1, "0", "127.1.2.3", relay.addr())
	plugWaitDNS(t, l.dnsPort, 10*time.Second, "127.1.2.3")
	time.Sleep(300 * time.Millisecond) // a few more announcements to capture
	a.stop(5 * time.Second)
	waitGone(t, l.dnsPort, "127.1.2.3", time.Now(), time.Second)
	l.waitMetric(t, `rgap_announcements_accepted_total{group="1000"}`, 5*time.Second, "every relayed datagram counted",
		func(v float64) bool { return int(v) == len(relay.captured()) })
	before := l.metric(t, `rgap_announcements_dropped_total{reason="replay"}`)

	n := relay.replay(t)
	l.waitMetric(t, `rgap_announcements_dropped_total{reason="replay"}`, 5*time.Second, fmt.Sprintf("%d more replay drops", n),
		func(v float64) bool { return v == before+float64(n) })
	if got, err := plugQueryA(l.dnsPort); err != nil || len(got) != 0 {
		t.Fatalf("after the replay the dns answer is %v (%v), want empty", got, err)
	}
	if v := l.metric(t, `rgap_group_members{group="1000"}`); v != 0 {
		t.Fatalf("members %v after the replay, want 0", v)
	}
	if v := l.metric(t, `rgap_group_joins_total{group="1000"}`); v != 1 {
		t.Fatalf("joins %v, want the first one only", v)
	}
	t.Logf("%d captured datagrams (announcements and leaves) replayed, all dropped as replay", n)
}

// TestV2KeyRotationAndMixedAgents: the make-before-break rotation end to
// end, with a v1 and a v2 agent in one group: the listener holds the old
// key (psk, key 0) and the new one (key 1); a v1 agent on the old key and a
// v2 agent on the new one are both members and counted per key; after a
// reload that removes the old key, the v1 agent is refused (bad_mac) and
// leaves at its expiry, while the v2 agent stays.
func TestV2KeyRotationAndMixedAgents(t *testing.T) {
	l := startV2Listener(t, "    psk: "+psk1+"\n    keys:\n      - id: 1\n        psk: "+psk2+"\n")
	start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "-g", "1000", "-a", "127.1.0.1", "-i", "100ms", "-d", l.dst())
	startV2Agent(t, psk2, "1", "127.1.0.2", l.dst())
	plugWaitDNS(t, l.dnsPort, 10*time.Second, "127.1.0.1", "127.1.0.2")
	for _, k := range []string{"0", "1"} {
		l.waitMetric(t, `rgap_announcements_accepted_by_key_total{group="1000",key="`+k+`"}`, 5*time.Second, "key "+k+" used",
			func(v float64) bool { return v > 0 })
	}

	// Break: the old key goes.
	cfg, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(string(cfg), "    psk: "+psk1+"\n", "", 1)
	if next == string(cfg) {
		t.Fatal("the configuration has no psk line to remove")
	}
	writeConfig(t, filepathDir(l.path), next)
	hup(t, l.proc)
	l.waitLog(10*time.Second, "configuration reloaded", msgIs("configuration reloaded"))
	l.waitMetric(t, `rgap_announcements_dropped_total{reason="bad_mac"}`, 5*time.Second, "the old key's agent refused",
		func(v float64) bool { return v >= 3 })
	keyed := metricsPoll(t, l.metrics, 5*time.Second, "metrics", func(code int, _ string) bool { return code == 200 })
	if strings.Contains(keyed, `key="0"`) {
		t.Errorf("the removed key is still listed:\n%s", grepLines(keyed, "accepted_by_key"))
	}
	if got, err := plugQueryA(l.dnsPort); err != nil || !slices.Contains(got, "127.1.0.2") {
		t.Fatalf("the new key's agent left the answer: %v (%v)", got, err)
	}
}

func filepathDir(p string) string { return p[:strings.LastIndexByte(p, '/')] }

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestV2MeasureLeaveToDNS measures SIGTERM of a v2 agent -> its address
// gone from the dns answer over 50 leaves, printing min/median/p99. It is
// a measurement, not a check: it runs only with RGAP_MEASURE=1.
func TestV2MeasureLeaveToDNS(t *testing.T) {
	measureOnly(t)
	const rounds = 50
	l := startV2Listener(t, "    psk: "+psk1+"\n")
	var took []time.Duration
	for i := range rounds {
		addr := fmt.Sprintf("127.2.%d.%d", i/200, 1+i%200)
		a := startV2Agent(t, psk1, "0", addr, l.dst())
		plugWaitDNS(t, l.dnsPort, 10*time.Second, addr)
		sent := sigterm(t, a)
		took = append(took, waitGone(t, l.dnsPort, addr, sent, time.Second))
		waitExit(t, a)
	}
	s := spreadOf(took)
	fmt.Printf("SIGTERM -> gone from the dns answer over %d leaves: min %v median %v p99 %v max %v\n",
		rounds, s.min, s.median, s.p99, s.max)
}
