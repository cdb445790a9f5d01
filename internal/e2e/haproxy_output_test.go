package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/syncbuf"
)

// hpxProc is one HAProxy process run by these tests.
type hpxProc struct {
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
}

// hpxStart runs HAProxy in the foreground with the configuration at cfg
// (with -sf: taking over from the process old, as a reload does, and
// waiting until old has exited) and waits until its frontend on
// 127.0.0.1:fport answers.
func hpxStart(t *testing.T, bin, cfg string, fport int, old *hpxProc) *hpxProc {
	t.Helper()
	args := []string{"-f", cfg, "-db"}
	if old != nil {
		args = append(args, "-sf", strconv.Itoa(old.cmd.Process.Pid))
	}
	p := &hpxProc{out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...) //nolint:gosec // the haproxy hapBinary found, with the test's configuration
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }() // ProcessState tells how it ended
	if old != nil {
		select {
		case <-old.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("haproxy %d still running 10s after the reload", old.cmd.Process.Pid)
		}
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("haproxy (pid %d) output:\n%s", p.cmd.Process.Pid, p.out)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("haproxy exited (%v):\n%s", p.cmd.ProcessState, p.out)
		default:
		}
		c, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", fport))
		if err == nil {
			_ = c.Body.Close() // only the frontend's answer mattered
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy frontend 127.0.0.1:%d not answering: %v\n%s", fport, err, p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (p *hpxProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has exited already
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill() // it may exit meanwhile; done tells
		<-p.done
	}
}

// hpxConfig writes an HAProxy configuration with the admin socket in dir, a
// frontend on fport and the backend `be` given as text.
func hpxConfig(t *testing.T, dir string, fport int, backend string) (cfg, sock string) {
	t.Helper()
	sock = filepath.Join(dir, "admin.sock")
	text := fmt.Sprintf(`global
    nbthread 1
    stats socket %s mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    balance roundrobin
%s
`, sock, fport, backend)
	cfg = filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, sock
}

// TestHAProxyOutput runs the haproxy output through the real listener and
// agents against Debian's HAProxy, in both modes: HAProxy's socket is absent
// when the listener starts and the output fills HAProxy once it appears;
// traffic reaches every live backend; a stopped agent's backend is taken
// out at its expiry; a reload (-sf) and a restart of HAProxy, which lose the
// runtime changes, are repaired within reconcile_interval.
func TestHAProxyOutput(t *testing.T) {
	bin := hapBinary(t)
	for _, tc := range []struct {
		mode    string
		backend string
	}{
		{"slots", "    server-template rgap 1-5 0.0.0.0:80 disabled"},
		{"dynamic", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) { hpxRun(t, bin, tc.mode, tc.backend) })
	}
}

func hpxRun(t *testing.T, bin, mode, backend string) {
	backends := []string{"127.0.0.41", "127.0.0.42", "127.0.0.43"}
	bport := hapStartBackends(t, backends)
	dir := t.TempDir()
	fport := freeTCPPort(t)
	cfg, sock := hpxConfig(t, dir, fport, backend)
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	const interval = time.Second
	l := start(t, dir, nil, "listener", "-c", writeConfig(t, dir, fmt.Sprintf(`listen:
  - 127.0.0.1:%d
groups:
  - id: 1000
    psk: %s
    expire: 2s
    readiness_delay: 0s
outputs:
  - kind: haproxy
    spec:
      socket: %s
      reconcile_interval: %s
      mappings:
        - group: 1000
          backend: be
          mode: %s
          port: %d
`, lport, psk1, sock, interval, mode, bport)))
	l.waitLog(10*time.Second, `"listening"`, msgIs("listening"))
	agents := map[string]*proc{}
	for _, b := range backends {
		agents[b] = start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "-g", "1000", "-a", b,
			"-i", "200ms", "-d", fmt.Sprintf("127.0.0.1:%d", lport))
	}
	// HAProxy is not there yet: the output says so once, and waits.
	l.waitLog(10*time.Second, "the outage logged", msgIs("cannot reach HAProxy, retrying with backoff"))

	front := fmt.Sprintf("http://127.0.0.1:%d/", fport)
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	serves := func(what string, live []string, within time.Duration) {
		t.Helper()
		since := time.Now()
		deadline := since.Add(within)
		for {
			served, failed := hapServed(client, front, 3*len(live))
			if failed == 0 && slices.Equal(served, live) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: HAProxy serves %v (%d failed requests) after %v, want %v", what, served, failed, within, live)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%s: HAProxy serves %v after %v", what, live, time.Since(since).Round(10*time.Millisecond))
		if served, failed := hapServed(client, front, 30); failed != 0 || !slices.Equal(served, live) {
			t.Fatalf("%s: 30 requests reached %v with %d failures, want exactly %v", what, served, failed, live)
		}
	}

	h := hpxStart(t, bin, cfg, fport, nil)
	serves("HAProxy started after the listener", backends, 10*time.Second)
	if n := l.count(msgIs("cannot reach HAProxy, retrying with backoff")); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}

	agents["127.0.0.43"].stop(5 * time.Second)
	live := backends[:2]
	serves("an agent stopped (expire 2s)", live, 2*time.Second+interval+2*time.Second)

	corrected := msgIs("correcting backend")
	before := l.count(corrected)
	h = hpxStart(t, bin, cfg, fport, h) // reload: the new process starts from the file
	serves("HAProxy reloaded with -sf", live, interval+2*time.Second)
	if l.count(corrected) == before {
		t.Errorf("no correction logged after the reload")
	}

	before = l.count(corrected)
	h.stop()
	hpxStart(t, bin, cfg, fport, nil)
	serves("HAProxy restarted", live, interval+maxBackoffE2E+2*time.Second)
	if l.count(corrected) == before {
		t.Errorf("no correction logged after the restart")
	}
	if l.count(msgIs("HAProxy refused a command")) != 0 {
		t.Errorf("HAProxy refused commands of the output")
	}

	for _, b := range live {
		agents[b].stop(5 * time.Second)
	}
	l.stop(10 * time.Second)
}

// maxBackoffE2E is the haproxy output's longest wait between attempts to
// reach HAProxy (plugins/haproxy: maxBackoff).
const maxBackoffE2E = 5 * time.Second

// TestHAProxyOutputV2PortsAndLeave: backends listening on different ports of
// loopback addresses (two on the same address), each announced only by a
// protocol-2 agent with --port and --weight, fill HAProxy through the
// haproxy output in both modes: traffic reaches every one of them, each
// server has its agent's weight, and an agent stopped with SIGTERM (it
// sends a leave) takes its backend out of HAProxy's rotation at once, while
// the group's expire is 30 s, and while the backend on the same address and
// another port stays. An agent replaced by one announcing another weight
// changes the server's weight in place.
func TestHAProxyOutputV2PortsAndLeave(t *testing.T) {
	bin := hapBinary(t)
	for _, tc := range []struct {
		mode    string
		backend string
	}{
		{"slots", "    server-template rgap 1-5 0.0.0.0:80 disabled"},
		{"dynamic", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) { hpxV2Run(t, bin, tc.mode, tc.backend) })
	}
}

// hpxV2Listener starts a listener in dir whose group 1000 (expire 30s, so
// only a leave takes a member out) feeds one haproxy output on the admin
// socket sock in mode; extra adds lines to the output's spec. port: 1 is
// for members without a port (the tests' v2 agents all give one). It
// returns the listener and its UDP port.
func hpxV2Listener(t *testing.T, dir, sock, mode, extra string) (*proc, int) {
	t.Helper()
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	l := start(t, dir, nil, "listener", "-c", writeConfig(t, dir, fmt.Sprintf(`listen:
  - 127.0.0.1:%d
groups:
  - id: 1000
    psk: %s
    expire: 30s
    readiness_delay: 0s
outputs:
  - kind: haproxy
    spec:
      socket: %s
%s      mappings:
        - group: 1000
          backend: be
          mode: %s
          port: 1
`, lport, psk1, sock, extra, mode)))
	l.waitLog(10*time.Second, `"listening"`, msgIs("listening"))
	return l, lport
}

func hpxV2Run(t *testing.T, bin, mode, backend string) {
	backends := srvHapBackends(t)
	dir := t.TempDir()
	fport := freeTCPPort(t)
	cfg, sock := hpxConfig(t, dir, fport, backend)
	hpxStart(t, bin, cfg, fport, nil)
	// Nothing but the announcements may move the servers in this test.
	l, lport := hpxV2Listener(t, dir, sock, mode, "      reconcile_interval: 1h\n")
	for _, b := range backends {
		b.agent = start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "--protocol", "2",
			"--port", strconv.Itoa(b.port), "--weight", strconv.Itoa(b.weight),
			"-g", "1000", "-a", b.addr, "-i", "200ms", "-d", fmt.Sprintf("127.0.0.1:%d", lport))
	}

	front := fmt.Sprintf("http://127.0.0.1:%d/", fport)
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ids := func(bs ...*srvHapBackend) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.id())
		}
		slices.Sort(out)
		return out
	}
	// serves waits (bounded) until HAProxy serves exactly live, returns how
	// long that took from since, then requires every request to succeed.
	serves := func(what string, live []string, since time.Time, within time.Duration) time.Duration {
		t.Helper()
		deadline := since.Add(within)
		for {
			served, failed := hapServed(client, front, 4*len(live))
			if failed == 0 && slices.Equal(served, live) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: HAProxy serves %v (%d failed requests) %v after, want %v", what, served, failed, within, live)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(since)
		if served, failed := hapServed(client, front, 30); failed != 0 || !slices.Equal(served, live) {
			t.Fatalf("%s: 30 requests reached %v with %d failures, want exactly %v", what, served, failed, live)
		}
		return took
	}
	serves("three v2 agents", ids(backends...), time.Now(), 15*time.Second)
	weights := srvHapWeights(t, sock)
	for _, b := range backends {
		if got, ok := weights[b.id()]; !ok || got != b.weight {
			t.Errorf("HAProxy weight of %s = %d (present %v), want the agent's --weight %d; all: %v", b.id(), got, ok, b.weight, weights)
		}
	}

	// The agent of 127.0.0.42 is replaced (SIGKILL: no leave) by one that
	// announces another weight: the member stays live and HAProxy's weight
	// follows.
	moved := backends[2]
	if err := moved.agent.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-moved.agent.done
	moved.weight = 40
	moved.agent = start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "--protocol", "2",
		"--port", strconv.Itoa(moved.port), "--weight", strconv.Itoa(moved.weight),
		"-g", "1000", "-a", moved.addr, "-i", "200ms", "-d", fmt.Sprintf("127.0.0.1:%d", lport))
	deadline := time.Now().Add(5 * time.Second)
	for srvHapWeights(t, sock)[moved.id()] != moved.weight {
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy weight of %s is %v 5s after its agent announced weight %d", moved.id(), srvHapWeights(t, sock), moved.weight)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The agent of the second port of 127.0.0.41 leaves. Only its leave can
	// take it out within 2 s: the expire is 30 s and no health check runs.
	gone := backends[1]
	sent := sigterm(t, gone.agent)
	took := serves("SIGTERM to one agent", ids(backends[0], backends[2]), sent, 2*time.Second)
	t.Logf("%s mode: SIGTERM to the agent of %s -> out of HAProxy's rotation in %v", mode, gone.id(), took.Round(time.Millisecond))
	waitExit(t, gone.agent)
	if name, err := hapGet(client, "http://"+gone.id()+"/"); err != nil || name != gone.id() {
		t.Fatalf("backend %s directly: %q, %v (it must still answer: only the leave took it out)", gone.id(), name, err)
	}
	if n := l.count(msgIs("HAProxy refused a command")); n != 0 {
		t.Errorf("HAProxy refused %d commands of the output", n)
	}
	backends[0].agent.stop(5 * time.Second)
	backends[2].agent.stop(5 * time.Second)
	l.stop(10 * time.Second)
}

// hpxTimedBackend is an HTTP backend that answers with its address:port and
// records when it last received a request.
type hpxTimedBackend struct {
	addr string
	port int
	last atomic.Int64 // UnixNano of the last request received; 0: none
	hits atomic.Int64
}

func (b *hpxTimedBackend) id() string { return net.JoinHostPort(b.addr, strconv.Itoa(b.port)) }

// hpxServeTimed serves a timed backend on a free port of addr until the
// test ends.
func hpxServeTimed(t *testing.T, addr string) *hpxTimedBackend {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	b := &hpxTimedBackend{addr: addr, port: ln.Addr().(*net.TCPAddr).Port}
	name := b.id()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b.last.Store(time.Now().UnixNano())
		b.hits.Add(1)
		_, _ = io.WriteString(w, name) // a failed write shows as a failed request at the client
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed at cleanup
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

// TestHAProxyLeaveMeasure measures, in both modes of the haproxy output,
// the time from SIGTERM to a protocol-2 agent (which then sends a leave) to
// the last request that reached its backend, while HTTP requests run in a
// tight loop through HAProxy; 25 leaves per mode, each of a fresh backend
// on its own address and port, next to two backends that stay. The group's
// expire is 30 s, so only the leave can explain the backend's removal. The
// backend itself records when each request arrives. It prints
// min/median/max and asserts nothing about time; it runs only with
// RGAP_MEASURE=1:
//
//	RGAP_MEASURE=1 go test -count=1 -run TestHAProxyLeaveMeasure -v ./internal/e2e/
func TestHAProxyLeaveMeasure(t *testing.T) {
	if os.Getenv("RGAP_MEASURE") != "1" {
		t.Skip("a measurement: set RGAP_MEASURE=1")
	}
	bin := hapBinary(t)
	for i, tc := range []struct {
		mode    string
		backend string
	}{
		{"slots", "    server-template rgap 1-4 0.0.0.0:80 disabled"},
		{"dynamic", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) { hpxLeaveMeasure(t, bin, tc.mode, tc.backend, 5+i) })
	}
}

func hpxLeaveMeasure(t *testing.T, bin, mode, backend string, net3 int) {
	const leaves = 25
	dir := t.TempDir()
	fport := freeTCPPort(t)
	cfg, sock := hpxConfig(t, dir, fport, backend)
	hpxStart(t, bin, cfg, fport, nil)
	l, lport := hpxV2Listener(t, dir, sock, mode, "")
	dst := fmt.Sprintf("127.0.0.1:%d", lport)
	agent := func(b *hpxTimedBackend) *proc {
		return start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "--protocol", "2",
			"--port", strconv.Itoa(b.port), "-g", "1000", "-a", b.addr, "-i", "100ms", "-d", dst)
	}
	var steady []*proc
	var steadyIDs []string
	for i := range 2 {
		b := hpxServeTimed(t, fmt.Sprintf("127.0.%d.%d", net3, 200+i))
		steady = append(steady, agent(b))
		steadyIDs = append(steadyIDs, b.id())
	}
	slices.Sort(steadyIDs)
	front := fmt.Sprintf("http://127.0.0.1:%d/", fport)
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if served, failed := hapServed(client, front, 8); failed == 0 && slices.Equal(served, steadyIDs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy does not serve the two steady backends %v within 15s", steadyIDs)
		}
	}

	// The load: one client in a tight loop, bounded in count and time.
	var stop atomic.Bool
	var sent, failed atomic.Int64
	var errMu sync.Mutex
	errs := map[string]int{} // failure -> count
	var failedAt []time.Time
	var phases []hpxPhase
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		deadline := time.Now().Add(5 * time.Minute)
		for n := 0; n < 5_000_000 && !stop.Load() && time.Now().Before(deadline); n++ {
			sent.Add(1)
			began := time.Now()
			if _, err := hapGet(client, front); err != nil {
				failed.Add(1)
				errMu.Lock()
				if len(errs) < 10 {
					errs[err.Error()]++
				}
				if len(failedAt) < 10000 {
					failedAt = append(failedAt, began)
				}
				errMu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}
	}()
	defer func() { stop.Store(true); <-loadDone }()

	var lasts []time.Duration
	var after []int64
	for i := range leaves {
		b := hpxServeTimed(t, fmt.Sprintf("127.0.%d.%d", net3, i+1))
		started := time.Now()
		a := agent(b)
		deadline := time.Now().Add(10 * time.Second)
		for b.hits.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("leave %d: no request reached %s within 10s of its agent's start", i, b.id())
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // steady traffic to it
		hitsBefore := b.hits.Load()
		at := sigterm(t, a)
		select { // its leave is sent before it exits
		case <-a.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("leave %d: the agent of %s did not exit within 30s of SIGTERM", i, b.id())
		}
		// The race detector's runtime alone holds a process 1 s at exit
		// (GORACE atexit_sleep_ms); the leave went out before that.
		if exited := time.Since(at); exited > 2*time.Second {
			t.Logf("leave %d: the agent of %s took %v to exit after SIGTERM", i, b.id(), exited.Round(time.Millisecond))
		}
		time.Sleep(500 * time.Millisecond) // whatever still reaches it shows now
		phases = append(phases, hpxPhase{started, at})
		last := time.Unix(0, b.last.Load()).Sub(at)
		lasts = append(lasts, last)
		after = append(after, b.hits.Load()-hitsBefore)
		t.Logf("leave %d (%s): last request reached the backend %v after the SIGTERM; %d requests reached it before, %d after",
			i, b.id(), last.Round(10*time.Microsecond), hitsBefore, b.hits.Load()-hitsBefore)
	}
	stop.Store(true)
	<-loadDone
	s := slices.Clone(lasts)
	slices.Sort(s)
	t.Logf("%s mode, %d v2 leaves: SIGTERM -> last request reaching the backend: min %v median %v max %v (goal: none later than 50ms); requests reaching it after the SIGTERM per leave %v; %d requests through HAProxy, %d failed",
		mode, len(s), s[0].Round(10*time.Microsecond), s[len(s)/2].Round(10*time.Microsecond), s[len(s)-1].Round(10*time.Microsecond),
		after, sent.Load(), failed.Load())
	if len(errs) > 0 {
		t.Logf("failed requests: %v", errs)
		errMu.Lock()
		t.Logf("failed requests by phase: %v", hpxFailurePhases(failedAt, phases))
		errMu.Unlock()
	}
	for _, p := range steady {
		p.stop(5 * time.Second)
	}
	l.stop(10 * time.Second)
}

// hpxPhase is when a leave round's agent started and when it got SIGTERM.
type hpxPhase struct{ start, term time.Time }

// hpxFailurePhases counts failed requests by when they were sent: within
// 1 s after an agent started (a join), within 1 s after a SIGTERM (a
// leave), else.
func hpxFailurePhases(at []time.Time, phases []hpxPhase) map[string]int {
	out := map[string]int{}
	for _, f := range at {
		kind := "other"
		for _, p := range phases {
			switch {
			case !f.Before(p.start) && f.Sub(p.start) < time.Second:
				kind = "join"
			case !f.Before(p.term) && f.Sub(p.term) < time.Second:
				kind = "leave"
			}
		}
		out[kind]++
	}
	return out
}
