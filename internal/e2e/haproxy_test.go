package e2e

import (
	"bufio"
	"fmt"
	"net"
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
	l := plugListener(t, plugConfig(lport, "2s", "", dnsOutput("127.0.0.1:0", hapName)+fmt.Sprintf(`  - kind: hostsfile
    spec:
      interval: 500ms
      filename: %s
      mappings:
        - group: 1000
          hostname: %s
`, hostsPath, hapName)), nil)
	dnsAddr := hapDNSAddr(t, l)
	if h, _, err := net.SplitHostPort(dnsAddr); err != nil || h != "127.0.0.1" {
		t.Fatalf("dns output listens on %q, want 127.0.0.1:PORT", dnsAddr)
	}

	agents := map[string]*proc{}
	for _, b := range backends {
		agents[b] = plugAgent(t, lport, b)
	}

	fport := freeTCPPort(t)
	hapStarted := time.Now()
	hapStart(t, haproxy, dir, dnsAddr, fport, bport)
	front := hapFrontend(fport)

	check := func(live []string, since time.Time) {
		t.Helper()
		// Bounded wait for HAProxy to converge on exactly the live set,
		// then it must stay there: every request succeeds, reaches a live
		// backend, and together they reach all of them.
		front.converge(t, "HAProxy through the dns output", live, time.Now(), 20*time.Second)
		t.Logf("HAProxy serves %v, %v after the change", live, time.Since(since).Round(10*time.Millisecond))
		var hosts []string
		deadline := time.Now().Add(10 * time.Second)
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
	if name, err := hapGet(front.client, fmt.Sprintf("http://127.0.0.23:%d/", bport)); err != nil || name != "127.0.0.23" {
		t.Fatalf("backend 127.0.0.23 directly: %q, %v", name, err)
	}

	for _, b := range backends[:2] {
		agents[b].stop(5 * time.Second)
	}
	l.stop(10 * time.Second)
}

// hapStart runs HAProxy in the foreground with a configuration that
// resolves hapName through the dns output at dnsAddr every half second, and
// waits until its frontend on 127.0.0.1:fport answers (hpxStart).
func hapStart(t *testing.T, bin, dir, dnsAddr string, fport, bport int) {
	t.Helper()
	cfg := hapConfig("", hapResolvers(dnsAddr, "500ms", ""), hapProxy("fe", "be", fport,
		fmt.Sprintf("    server-template be 5 %s:%d resolvers rgap init-addr none check inter 200ms\n", hapName, bport)))
	hpxStart(t, bin, writeFile(t, dir, "haproxy.cfg", cfg), fport, nil)
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

// srvHapName is the mapped name; HAProxy resolves _http._tcp.srvHapName.
const srvHapName = "srv.rgap.test"

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
	backends := hapV2Backends(t)

	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	l := plugListener(t, plugConfig(lport, "30s", "", dnsOutput("127.0.0.1:0", srvHapName)), nil)
	dnsAddr := hapDNSAddr(t, l)
	for _, b := range backends {
		b.announce(t, lport)
	}

	dir := t.TempDir()
	fport := freeTCPPort(t)
	sock := filepath.Join(dir, "haproxy.sock")
	hpxStart(t, haproxy, writeFile(t, dir, "haproxy.cfg", hapConfig("    stats socket "+sock+" level admin\n",
		hapResolvers(dnsAddr, "500ms", "    hold obsolete 0s\n"),
		hapProxy("fe", "be", fport, fmt.Sprintf("    server-template srv 5 _http._tcp.%s resolvers rgap init-addr none check inter 200ms\n", srvHapName)))),
		fport, nil)
	front := hapFrontend(fport)
	front.converge(t, "three v2 agents", hapIDs(backends...), time.Now(), 20*time.Second)

	// HAProxy's weight for each server is its agent's --weight: the dns
	// output's SRV weights are w*256, which HAProxy divides back.
	hapCheckWeights(t, sock, backends)

	// The agent of the second port of 127.0.0.41 leaves. HAProxy resolves
	// every 500ms with `hold obsolete 0s`; 3 s leaves room for a loaded
	// machine and is an order of magnitude below the 30 s expire. The
	// backend still answers directly: HAProxy dropped it because the SRV
	// answer no longer lists it, not because a health check failed.
	took := hapLeave(t, front, backends, 1, 3*time.Second)
	t.Logf("SIGTERM to the agent of %s -> out of HAProxy's rotation in %v", backends[1].id(), took.Round(time.Millisecond))

	backends[0].agent.stop(5 * time.Second)
	backends[2].agent.stop(5 * time.Second)
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

// hapDNSAddr waits until the listener l's dns output listens and returns
// its UDP address.
func hapDNSAddr(t *testing.T, l *proc) string {
	t.Helper()
	return l.waitLog(20*time.Second, `"dns server listening"`, msgIs("dns server listening")).str("udp")
}

// hapConfig is a test HAProxy configuration: one thread (and the lines in
// global, each ending in a newline), HTTP with short timeouts, then the
// sections (hapResolvers, hapProxy).
func hapConfig(global string, sections ...string) string {
	return fmt.Sprintf(`global
    nbthread 1
%s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
`, global) + strings.Join(sections, "")
}

// hapResolvers is the resolvers section "rgap" asking the dns output at
// dnsAddr, retrying and holding answers for every; the lines in extra (each
// ending in a newline) end it.
func hapResolvers(dnsAddr, every, extra string) string {
	return fmt.Sprintf(`
resolvers rgap
    nameserver dns1 %s
    accepted_payload_size 1232
    resolve_retries 3
    timeout resolve %s
    timeout retry %s
    hold valid %s
%s`, dnsAddr, every, every, every, extra)
}

// hapProxy is frontend fe on 127.0.0.1:fport sending every request to
// backend be, which balances round robin over the lines in servers.
func hapProxy(fe, be string, fport int, servers string) string {
	return fmt.Sprintf(`
frontend %s
    bind 127.0.0.1:%d
    default_backend %s

backend %s
    balance roundrobin
%s`, fe, fport, be, be, servers)
}
