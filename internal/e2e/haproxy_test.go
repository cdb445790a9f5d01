package e2e

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// hapName is the name the dns output serves and HAProxy resolves.
const hapName = "backends.rgap.test"

// TestHAProxyFollowsGroupThroughDNS puts a real HAProxy in front of three
// HTTP backends whose only registration is an rgap agent each: HAProxy finds
// them through the dns output, and the hosts file output must agree with
// what HAProxy serves. When one agent stops, its address expires and HAProxy
// stops sending it traffic, although the backend itself still answers.
func TestHAProxyFollowsGroupThroughDNS(t *testing.T) {
	haproxy := hapBinary(t)
	backends := []string{"127.0.0.21", "127.0.0.22", "127.0.0.23"}
	bport := hapStartBackends(t, backends)

	dir := t.TempDir()
	hostsPath := filepath.Join(dir, "hosts")
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	l := start(t, dir, nil, "listener", "-c", writeConfig(t, dir, fmt.Sprintf(`listen:
  - 127.0.0.1:%d
groups:
  - id: 1000
    psk: %s
    expire: 2s
    readiness_delay: 0s
outputs:
  - kind: dns
    spec:
      bind_address: 127.0.0.1:0
      mappings:
        %s:
          group: 1000
  - kind: hostsfile
    spec:
      interval: 500ms
      filename: %s
      mappings:
        - group: 1000
          hostname: %s
`, lport, psk1, hapName, hostsPath, hapName)))
	dnsUp := l.waitLog(20*time.Second, `"dns server listening"`, msgIs("dns server listening"))
	dnsAddr := dnsUp.str("udp")
	if h, _, err := net.SplitHostPort(dnsAddr); err != nil || h != "127.0.0.1" {
		t.Fatalf("dns output listens on %q, want 127.0.0.1:PORT", dnsAddr)
	}
	l.waitLog(10*time.Second, `"listening"`, msgIs("listening"))

	agents := map[string]*proc{}
	for _, b := range backends {
		agents[b] = start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "-g", "1000", "-a", b,
			"-i", "200ms", "-d", fmt.Sprintf("127.0.0.1:%d", lport))
	}

	fport := freeTCPPort(t)
	hapStarted := time.Now()
	hapStart(t, haproxy, dir, dnsAddr, fport, bport)
	front := fmt.Sprintf("http://127.0.0.1:%d/", fport)
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	check := func(live []string, since time.Time) {
		t.Helper()
		// Bounded wait for HAProxy to converge on exactly the live set ...
		deadline := time.Now().Add(20 * time.Second)
		for {
			served, failed := hapServed(client, front, 3*len(live))
			if failed == 0 && slices.Equal(served, live) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("HAProxy serves %v (%d failed requests), want %v", served, failed, live)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("HAProxy serves %v, %v after the change", live, time.Since(since).Round(10*time.Millisecond))
		// ... then it must stay there: every request succeeds, reaches a
		// live backend, and together they reach all of them.
		if served, failed := hapServed(client, front, 30); failed != 0 || !slices.Equal(served, live) {
			t.Fatalf("30 requests through HAProxy reached %v with %d failures, want exactly %v", served, failed, live)
		}
		var hosts []string
		deadline = time.Now().Add(10 * time.Second)
		for {
			hosts = hapHostsFile(t, hostsPath)
			if slices.Equal(hosts, live) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hosts file lists %v for %s, HAProxy serves %v", hosts, hapName, live)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	check(backends, hapStarted)

	stopping := time.Now()
	agents["127.0.0.23"].stop(5 * time.Second)
	t.Logf("agent of 127.0.0.23 stopped in %v", time.Since(stopping).Round(10*time.Millisecond))
	check(backends[:2], stopping)
	// The stopped backend still answers directly: HAProxy dropped it because
	// its name no longer resolves to it, not because a health check failed.
	if name, err := hapGet(client, fmt.Sprintf("http://127.0.0.23:%d/", bport)); err != nil || name != "127.0.0.23" {
		t.Fatalf("backend 127.0.0.23 directly: %q, %v", name, err)
	}

	for _, b := range backends[:2] {
		agents[b].stop(5 * time.Second)
	}
	l.stop(10 * time.Second)
}

// hapBinary finds HAProxy; .ci/deps installs it, so CI must have it.
func hapBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("haproxy is not installed; .ci/deps should have installed the Debian package")
	}
	t.Skip("haproxy is not installed (Debian package haproxy; .ci/deps installs it)")
	return ""
}

// hapStartBackends serves HTTP on the same port of every address, each
// answering with its own address, and returns the port.
func hapStartBackends(t *testing.T, addrs []string) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		first, err := net.Listen("tcp4", net.JoinHostPort(addrs[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, a := range addrs[1:] {
			ln, err := net.Listen("tcp4", net.JoinHostPort(a, fmt.Sprint(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) < len(addrs) {
			for _, ln := range lns {
				_ = ln.Close() // unused; the next attempt takes other ports
			}
			continue
		}
		for i, ln := range lns {
			name := addrs[i]
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, name) // a failed write shows as a failed request at the client
			})}
			go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed at cleanup; a failure before shows as failed requests
			t.Cleanup(func() { _ = srv.Close() })
		}
		return port
	}
	t.Fatalf("no TCP port free on all of %v", addrs)
	return 0
}

// hapConfigHead starts a test HAProxy configuration: one thread (and the
// lines in global, each ending in a newline), HTTP with short
// timeouts, and the resolvers section "rgap" asking the dns output at
// dnsAddr, retrying and holding answers for every.
func hapConfigHead(global, dnsAddr, every string) string {
	return fmt.Sprintf(`global
    nbthread 1
%s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

resolvers rgap
    nameserver dns1 %s
    accepted_payload_size 1232
    resolve_retries 3
    timeout resolve %s
    timeout retry %s
    hold valid %s
`, global, dnsAddr, every, every, every)
}

// hapStart runs HAProxy in the foreground with a configuration that
// resolves hapName through the dns output at dnsAddr every half second, and
// waits until its frontend on 127.0.0.1:fport answers (hpxStart).
func hapStart(t *testing.T, bin, dir, dnsAddr string, fport, bport int) {
	t.Helper()
	cfg := hapConfigHead("", dnsAddr, "500ms") + fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    balance roundrobin
    server-template be 5 %s:%d resolvers rgap init-addr none check inter 200ms
`, fport, hapName, bport)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	hpxStart(t, bin, path, fport, nil)
}

// hapGet fetches url and returns the body of a 200 response.
func hapGet(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below; a read error is returned
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(b), nil
}

// hapServed sends n requests through HAProxy and returns the sorted set of
// backends that answered and the number of requests that failed.
func hapServed(c *http.Client, url string, n int) ([]string, int) {
	seen := map[string]bool{}
	failed := 0
	for range n {
		name, err := hapGet(c, url)
		if err != nil {
			failed++
			continue
		}
		seen[name] = true
	}
	return slices.Sorted(maps.Keys(seen)), failed
}

// hapHostsFile returns the sorted addresses the hosts file gives hapName.
func hapHostsFile(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // opened read-only
	var addrs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") && slices.Contains(fields[1:], hapName) {
			addrs = append(addrs, fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(addrs)
	return addrs
}
