package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// healthServer is an HTTP server on a fixed loopback port that the test
// starts and stops.
type healthServer struct {
	t    *testing.T
	addr string
	srv  *http.Server
	done chan struct{}
}

func newHealthServer(t *testing.T) *healthServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &healthServer{t: t, addr: ln.Addr().String()}
	h.serve(ln)
	t.Cleanup(h.stop)
	return h
}

func (h *healthServer) url() string { return "http://" + h.addr + "/health" }

func (h *healthServer) serve(ln net.Listener) {
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		ReadHeaderTimeout: time.Second}
	h.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			h.t.Errorf("health server: %v", err)
		}
	}(h.srv, h.done)
}

func (h *healthServer) start() {
	h.t.Helper()
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		h.t.Fatalf("restart health server on %s: %v", h.addr, err)
	}
	h.serve(ln)
}

func (h *healthServer) stop() {
	if h.srv == nil {
		return
	}
	_ = h.srv.Close()
	<-h.done
	h.srv = nil
}

// TestAgentHealthCheckHTTPFlapping: a v2 agent with --check-http against a
// server the test starts and stops. It starts unhealthy (a leave, no
// announcements) until --rise rounds pass; when the server stops it keeps
// announcing for --fall-1 more rounds, then sends a leave and falls silent,
// logging why once; when the server is back it announces again after
// --rise rounds.
func TestAgentHealthCheckHTTPFlapping(t *testing.T) {
	const checkInterval = 150 * time.Millisecond
	const rise, fall = 2, 3
	srv := newHealthServer(t)
	r := newV2Receiver(t)
	a := start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1, "RGAP_CHECK_FALL=" + fmt.Sprint(fall)},
		"agent", "--protocol", "2", "-g", "1000", "-a", "127.1.2.3", "-i", "20ms", "-d", r.dst(),
		"--check-http", srv.url(), "--check-interval", checkInterval.String(), "--check-timeout", "100ms",
		"--rise", fmt.Sprint(rise))
	unhealthyLine := func(l logLine) bool { return l.msg() == "unhealthy" && l.str("@level") == "info" }
	healthyLine := func(l logLine) bool { return l.msg() == "healthy" && l.str("@level") == "info" }

	last := r.leaves(0, "unhealthy at start")
	if ann := r.next(5*time.Second, "announcement once healthy"); ann.Leave || ann.Timestamp <= last {
		t.Fatalf("once healthy: %v, want a fresh announcement", ann)
	}
	a.waitLog(2*time.Second, "healthy", healthyLine)

	srv.stop()
	stopped := time.Now()
	var announced int
	for {
		ann := r.next(5*time.Second, "announcements, then a leave after the server stopped")
		if ann.Leave {
			r.leavesFrom(1, ann.Timestamp, "server stopped")
			break
		}
		announced++
	}
	// The first failing round may come at once, the fall-th one no sooner
	// than fall-1 check intervals later.
	if d, least := time.Since(stopped), (fall-1)*checkInterval-50*time.Millisecond; d < least {
		t.Errorf("left %v after the server stopped, before %d failing rounds could pass (%v)", d, fall, least)
	}
	if announced == 0 {
		t.Errorf("no announcement between the server stopping and the leave: --fall %d not honoured", fall)
	}
	l := a.waitLog(2*time.Second, "unhealthy", unhealthyLine)
	if reason := l.str("reason"); !strings.Contains(reason, "check http "+srv.url()) || !strings.Contains(reason, "connection refused") {
		t.Errorf("unhealthy reason %q, want the check and its failure named", reason)
	}
	r.silent(4*checkInterval, "while the server is down")

	srv.start()
	restarted := time.Now()
	if ann := r.next(5*time.Second, "announcement after the server came back"); ann.Leave {
		t.Fatalf("after the server came back: %v, want an announcement", ann)
	}
	if d, least := time.Since(restarted), (rise-1)*checkInterval-50*time.Millisecond; d < least {
		t.Errorf("announced %v after the server came back, before %d passing rounds could pass (%v)", d, rise, least)
	}
	a.waitN(2*time.Second, 2, "healthy twice", healthyLine)
	a.stop(5 * time.Second)
	if n := a.count(unhealthyLine); n != 1 {
		t.Errorf("%d unhealthy lines for one transition", n)
	}
}

// TestAgentHealthCheckInitHealthy: with --check-init-healthy the agent
// announces at once, before any round passed; without a check it is
// unchanged (announces at once, no leave).
func TestAgentHealthCheckInitHealthy(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"init healthy", []string{"--check-exec", "/bin/true", "--check-interval", "1h", "--check-init-healthy"}},
		{"no checks", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newV2Receiver(t)
			a := start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1},
				append([]string{"agent", "--protocol", "2", "-g", "1000", "-a", "127.1.2.3", "-i", "1h", "-d", r.dst()}, tc.args...)...)
			if ann := r.next(5*time.Second, "first datagram"); ann.Leave {
				t.Fatalf("first datagram %v, want an announcement", ann)
			}
			a.stop(5 * time.Second)
		})
	}
}

// TestAgentHealthCheckExecFailing: an exec check that fails keeps a v1
// agent silent (v1 has no leave).
func TestAgentHealthCheckExecFailing(t *testing.T) {
	r := newV2Receiver(t)
	a := start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1, "RGAP_CHECK_EXEC=/bin/false"},
		"agent", "-g", "1000", "-a", "127.1.2.3", "-i", "20ms", "-d", r.dst(), "--check-interval", "20ms", "--check-timeout", "20ms")
	r.silent(500*time.Millisecond, "while the exec check fails")
	a.stop(5 * time.Second)
}

// TestAgentHealthUsageErrors: malformed check options are command-line
// errors (exit 2) naming the option.
func TestAgentHealthUsageErrors(t *testing.T) {
	checkAgentUsageErrors(t, []agentUsageCase{
		{"http not a URL", nil, []string{"-i", "1s", "--check-http", "localhost:80"}, `^rgap agent: --check-http: http check "localhost:80": want an http:// or https:// URL with a host\n$`},
		{"status without http", nil, []string{"-i", "1s", "--check-tcp", "127.0.0.1:1", "--check-http-status", "200"}, `--check-http-status needs --check-http`},
		{"status out of range", nil, []string{"-i", "1s", "--check-http", "http://h/", "--check-http-status", "700"}, `--check-http-status: want an HTTP status from 100 to 599, got "700"`},
		{"tcp without port", nil, []string{"-i", "1s", "--check-tcp", "localhost"}, `--check-tcp: tcp check "localhost": want HOST:PORT`},
		{"exec empty", []string{"RGAP_CHECK_EXEC= "}, []string{"-i", "1s"}, `--check-exec: exec check: empty command`},
		{"rise 0", nil, []string{"-i", "1s", "--check-tcp", "127.0.0.1:1", "--rise", "0"}, `--rise: want a positive integer, got "0"`},
		{"fall from env", []string{"RGAP_CHECK_FALL=x"}, []string{"-i", "1s", "--check-tcp", "127.0.0.1:1"}, `--fall: want a positive integer, got "x"`},
		{"timeout over interval", nil, []string{"-i", "1s", "--check-tcp", "127.0.0.1:1", "--check-timeout", "3s"}, `check timeout 3s is longer than the check interval 2s`},
		{"checks without interval", nil, []string{"--check-tcp", "127.0.0.1:1"}, `health checks need --interval`},
		{"init healthy not a bool", nil, []string{"-i", "1s", "--check-init-healthy=maybe"}, `check-init-healthy`},
	})
}
