package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// srvHapName is the mapped name; HAProxy resolves _http._tcp.srvHapName.
const srvHapName = "srv.rgap.test"

// srvHapBackend is one HTTP backend and the v2 agent that announces it.
type srvHapBackend struct {
	addr   string
	port   int
	weight int
	agent  *proc
}

func (b *srvHapBackend) id() string { return net.JoinHostPort(b.addr, strconv.Itoa(b.port)) }

// TestHAProxySRVFollowsPortsAndLeaves: HAProxy with a server-template on
// _http._tcp.NAME, resolved through the dns output, reaches backends that
// listen on different ports of loopback addresses (two of them on the same
// address), each registered only by a protocol v2 agent with --port and
// --weight, and gives each server its agent's weight. When one agent is
// stopped (SIGTERM: it sends a leave), its backend is out of rotation
// within HAProxy's resolve interval, long before the group's 30 s expire,
// while the backend on the same address and another port stays.
func TestHAProxySRVFollowsPortsAndLeaves(t *testing.T) {
	haproxy := hapBinary(t)
	backends := srvHapBackends(t)

	dir := t.TempDir()
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	l := start(t, dir, nil, "listener", "-c", writeConfig(t, dir, fmt.Sprintf(`listen:
  - 127.0.0.1:%d
groups:
  - id: 1000
    psk: %s
    expire: 30s
    readiness_delay: 0s
outputs:
  - kind: dns
    spec:
      bind_address: 127.0.0.1:0
      mappings:
        %s:
          group: 1000
`, lport, psk1, srvHapName)))
	dnsAddr := l.waitLog(20*time.Second, `"dns server listening"`, msgIs("dns server listening")).str("udp")
	l.waitLog(10*time.Second, `"listening"`, msgIs("listening"))

	for _, b := range backends {
		b.agent = start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "--protocol", "2",
			"--port", strconv.Itoa(b.port), "--weight", strconv.Itoa(b.weight),
			"-g", "1000", "-a", b.addr, "-i", "200ms", "-d", fmt.Sprintf("127.0.0.1:%d", lport))
	}

	fport := freeTCPPort(t)
	sock := filepath.Join(dir, "haproxy.sock")
	srvHapStart(t, haproxy, dir, dnsAddr, sock, fport)
	front := fmt.Sprintf("http://127.0.0.1:%d/", fport)
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	ids := func(bs []*srvHapBackend) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.id())
		}
		slices.Sort(out)
		return out
	}
	// converge waits (bounded) until HAProxy serves exactly live and returns
	// how long that took from since; then every request must succeed.
	converge := func(live []*srvHapBackend, since time.Time, timeout time.Duration) time.Duration {
		t.Helper()
		want := ids(live)
		deadline := since.Add(timeout)
		for {
			served, failed := hapServed(client, front, 4*len(live))
			if failed == 0 && slices.Equal(served, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("HAProxy serves %v (%d failed requests) %v after the change, want %v", served, failed, timeout, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(since)
		if served, failed := hapServed(client, front, 30); failed != 0 || !slices.Equal(served, want) {
			t.Fatalf("30 requests through HAProxy reached %v with %d failures, want exactly %v", served, failed, want)
		}
		return took
	}
	converge(backends, time.Now(), 20*time.Second)

	// HAProxy's weight for each server is its agent's --weight: the dns
	// output's SRV weights are w*256, which HAProxy divides back.
	weights := srvHapWeights(t, sock)
	for _, b := range backends {
		if got, ok := weights[b.id()]; !ok || got != b.weight {
			t.Errorf("HAProxy weight of %s = %d (present %v), want the agent's --weight %d; all: %v", b.id(), got, ok, b.weight, weights)
		}
	}

	// The agent of the second port of 127.0.0.41 leaves. HAProxy resolves
	// every 500ms with `hold obsolete 0s`; 3 s leaves room for a loaded
	// machine and is an order of magnitude below the 30 s expire.
	gone := backends[1]
	stopping := time.Now()
	if err := gone.agent.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to the agent of %s: %v", gone.id(), err)
	}
	took := converge([]*srvHapBackend{backends[0], backends[2]}, stopping, 3*time.Second)
	t.Logf("SIGTERM to the agent of %s -> out of HAProxy's rotation in %v", gone.id(), took.Round(time.Millisecond))
	select {
	case <-gone.agent.done:
		if gone.agent.err != nil {
			t.Fatalf("agent of %s exited with %v after SIGTERM", gone.id(), gone.agent.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("agent of %s did not exit within 5s of SIGTERM", gone.id())
	}
	// The backend still answers directly: HAProxy dropped it because the
	// SRV answer no longer lists it, not because a health check failed.
	if name, err := hapGet(client, "http://"+gone.id()+"/"); err != nil || name != gone.id() {
		t.Fatalf("backend %s directly: %q, %v", gone.id(), name, err)
	}

	backends[0].agent.stop(5 * time.Second)
	backends[2].agent.stop(5 * time.Second)
	l.stop(10 * time.Second)
}

// srvHapBackends serves the three backends the v2 HAProxy tests announce:
// two on one address (different ports), one on another, with weights 10,
// 20 and 30.
func srvHapBackends(t *testing.T) []*srvHapBackend {
	backends := []*srvHapBackend{
		{addr: "127.0.0.41", weight: 10},
		{addr: "127.0.0.41", weight: 20},
		{addr: "127.0.0.42", weight: 30},
	}
	for _, b := range backends {
		b.port = srvHapServe(t, b.addr)
	}
	return backends
}

// srvHapServe serves HTTP on a free port of addr, answering with addr:port,
// and returns the port.
func srvHapServe(t *testing.T, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	name := ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, name) // a failed write shows as a failed request at the client
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed at cleanup; a failure before shows as failed requests
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// srvHapStart runs HAProxy in the foreground with a server-template on the
// SRV name, resolved through the dns output at dnsAddr every 500ms, and an
// admin socket at sock; it waits until the frontend on 127.0.0.1:fport
// accepts connections.
func srvHapStart(t *testing.T, bin, dir, dnsAddr, sock string, fport int) {
	t.Helper()
	cfg := hapConfigHead("    stats socket "+sock+" level admin\n", dnsAddr, "500ms") + fmt.Sprintf(`    hold obsolete 0s

frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    balance roundrobin
    server-template srv 5 _http._tcp.%s resolvers rgap init-addr none check inter 200ms
`, fport, srvHapName)
	path := filepath.Join(dir, "haproxy-srv.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	hpxStart(t, bin, path, fport, nil)
}

// srvHapWeights asks HAProxy's admin socket for backend be's servers and
// returns the user weight of each server that has an address, by
// address:port.
func srvHapWeights(t *testing.T, sock string) map[string]int {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		t.Fatalf("haproxy admin socket: %v", err)
	}
	defer func() { _ = c.Close() }() // read to EOF below
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "show servers state be\n"); err != nil {
		t.Fatal(err)
	}
	var cols []string
	weights := map[string]int{}
	sc := bufio.NewScanner(c)
	var text strings.Builder
	for sc.Scan() {
		line := sc.Text()
		text.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(line, "# "); ok && cols == nil {
			cols = strings.Fields(rest)
			continue
		}
		f := strings.Fields(line)
		if cols == nil || len(f) != len(cols) {
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = f[i]
		}
		if row["srv_port"] == "0" || row["srv_addr"] == "-" || row["srv_addr"] == "0.0.0.0" {
			continue // a template slot without a record
		}
		w, err := strconv.Atoi(row["srv_uweight"])
		if err != nil {
			t.Fatalf("srv_uweight %q in %q", row["srv_uweight"], line)
		}
		weights[net.JoinHostPort(row["srv_addr"], row["srv_port"])] = w
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cols == nil {
		t.Fatalf("no header in HAProxy's answer:\n%s", text.String())
	}
	return weights
}
