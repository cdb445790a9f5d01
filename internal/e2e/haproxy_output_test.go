package e2e

import (
	"fmt"
	"net/http"
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

// TestHAProxyOutput runs the haproxy output through the real listener and
// agents against Debian's HAProxy, in both modes: HAProxy's socket is absent
// when the listener starts and the output fills HAProxy once it appears;
// traffic reaches every live backend; a stopped agent's backend is taken
// out at its expiry; a reload (-sf) and a restart of HAProxy, which lose the
// runtime changes, are repaired within reconcile_interval.
func TestHAProxyOutput(t *testing.T) {
	hpxEachMode(t, 5, hpxRun)
}

func hpxRun(t *testing.T, bin, mode, backend string) {
	backends := []string{"127.0.0.41", "127.0.0.42", "127.0.0.43"}
	bport := hapStartBackends(t, backends)
	dir := t.TempDir()
	fport := freeTCPPort(t)
	cfg, sock := hpxConfig(t, dir, fport, backend)
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	const interval = time.Second
	l := plugListener(t, plugConfig(lport, "2s", "", hpxOutput(sock, mode, bport, fmt.Sprintf("      reconcile_interval: %s\n", interval))), nil)
	agents := map[string]*proc{}
	for _, b := range backends {
		agents[b] = plugAgent(t, lport, b)
	}
	// HAProxy is not there yet: the output says so once, and waits.
	l.waitLog(10*time.Second, "the outage logged", msgIs("cannot reach HAProxy, retrying with backoff"))

	front := hapFrontend(fport)
	serves := func(what string, live []string, within time.Duration) {
		t.Helper()
		took := front.converge(t, what, live, time.Now(), within)
		t.Logf("%s: HAProxy serves %v after %v", what, live, took.Round(10*time.Millisecond))
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
	hpxEachMode(t, 5, hpxV2Run)
}

func hpxV2Run(t *testing.T, bin, mode, backend string) {
	backends := hapV2Backends(t)
	dir := t.TempDir()
	fport := freeTCPPort(t)
	cfg, sock := hpxConfig(t, dir, fport, backend)
	hpxStart(t, bin, cfg, fport, nil)
	// Nothing but the announcements may move the servers in this test.
	l, lport := hpxV2Listener(t, sock, mode, "      reconcile_interval: 1h\n")
	for _, b := range backends {
		b.announce(t, lport)
	}

	front := hapFrontend(fport)
	front.converge(t, "three v2 agents", hapIDs(backends...), time.Now(), 15*time.Second)
	hapCheckWeights(t, sock, backends)

	// The agent of 127.0.0.42 is replaced (SIGKILL: no leave) by one that
	// announces another weight: the member stays live and HAProxy's weight
	// follows.
	moved := backends[2]
	if err := moved.agent.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-moved.agent.done
	moved.weight = 40
	moved.announce(t, lport)
	deadline := time.Now().Add(5 * time.Second)
	for hapWeights(t, sock)[moved.id()] != moved.weight {
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy weight of %s is %v 5s after its agent announced weight %d", moved.id(), hapWeights(t, sock), moved.weight)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The agent of the second port of 127.0.0.41 leaves. Only its leave can
	// take it out within 2 s: the expire is 30 s and no health check runs.
	took := hapLeave(t, front, backends, 1, 2*time.Second)
	t.Logf("%s mode: SIGTERM to the agent of %s -> out of HAProxy's rotation in %v", mode, backends[1].id(), took.Round(time.Millisecond))
	if n := l.count(msgIs("HAProxy refused a command")); n != 0 {
		t.Errorf("HAProxy refused %d commands of the output", n)
	}
	backends[0].agent.stop(5 * time.Second)
	backends[2].agent.stop(5 * time.Second)
	l.stop(10 * time.Second)
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
	measureOnly(t)
	hpxEachMode(t, 4, hpxLeaveMeasure)
}

func hpxLeaveMeasure(t *testing.T, bin, mode, backend string) {
	const leaves = 25
	net3 := map[string]int{"slots": 5, "dynamic": 6}[mode] // the backends' 127.0.NET3.0/24
	dir := t.TempDir()
	fport := freeTCPPort(t)
	cfg, sock := hpxConfig(t, dir, fport, backend)
	hpxStart(t, bin, cfg, fport, nil)
	l, lport := hpxV2Listener(t, sock, mode, "")
	agent := func(b *hapBackend) *proc { return plugV2Agent(t, lport, b.addr, b.port, 0, "100ms") }
	var steady []*proc
	var steadyIDs []string
	for i := range 2 {
		b := hapServe(t, fmt.Sprintf("127.0.%d.%d", net3, 200+i))
		steady = append(steady, agent(b))
		steadyIDs = append(steadyIDs, b.id())
	}
	slices.Sort(steadyIDs)
	front := hapFrontend(fport)
	front.converge(t, "the two steady backends", steadyIDs, time.Now(), 15*time.Second)

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
			if _, err := hapGet(front.client, front.url); err != nil {
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
		b := hapServe(t, fmt.Sprintf("127.0.%d.%d", net3, i+1))
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
	s := spreadOf(lasts)
	t.Logf("%s mode, %d v2 leaves: SIGTERM -> last request reaching the backend: min %v median %v max %v (goal: none later than 50ms); requests reaching it after the SIGTERM per leave %v; %d requests through HAProxy, %d failed",
		mode, len(lasts), s.min.Round(10*time.Microsecond), s.median.Round(10*time.Microsecond), s.max.Round(10*time.Microsecond),
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
	return writeFile(t, dir, "haproxy.cfg", hapConfig("    stats socket "+sock+" mode 600 level admin\n", hapProxy("fe", "be", fport, backend+"\n"))), sock
}

// hpxOutput configures a haproxy output on the admin socket sock that
// fills backend be from group 1000 in mode, giving members without a port
// port; the lines in extra (each ending in a newline) join its spec.
func hpxOutput(sock, mode string, port int, extra string) string {
	return fmt.Sprintf(`  - kind: haproxy
    spec:
      socket: %s
%s      mappings:
        - group: 1000
          backend: be
          mode: %s
          port: %d
`, sock, extra, mode, port)
}

// hpxEachMode runs run as a subtest for each mode of the haproxy output,
// with HAProxy's binary and backend be's server lines for that mode: a
// template of slots disabled servers for "slots", none for "dynamic".
func hpxEachMode(t *testing.T, slots int, run func(t *testing.T, bin, mode, backend string)) {
	t.Helper()
	bin := hapBinary(t)
	for _, tc := range []struct {
		mode    string
		backend string
	}{
		{"slots", fmt.Sprintf("    server-template rgap 1-%d 0.0.0.0:80 disabled", slots)},
		{"dynamic", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) { run(t, bin, tc.mode, tc.backend) })
	}
}

// hpxV2Listener starts a listener whose group 1000 (expire 30s, so only a
// leave takes a member out) feeds one haproxy output on the admin socket
// sock in mode; extra adds lines to the output's spec. port: 1 is for
// members without a port (the tests' v2 agents all give one). It returns
// the listener and its UDP port.
func hpxV2Listener(t *testing.T, sock, mode, extra string) (*proc, int) {
	t.Helper()
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	return plugListener(t, plugConfig(lport, "30s", "", hpxOutput(sock, mode, 1, extra)), nil), lport
}
