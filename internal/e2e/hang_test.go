package e2e

// A hung output plugin, and one that cannot bind after a restart.

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/tempdir"
)

// hangDNSListener starts a listener with a dns output, its runtime
// directory in a TMPDIR of its own, and an agent announcing 127.1.2.3;
// it returns once the output answers with that address, and its port.
func hangDNSListener(t *testing.T) (*proc, int) {
	t.Helper()
	port, dnsPort := plugPorts(t)
	l := plugListener(t, plugConfig(port, "30s", "", plugDNSOutput(dnsPort)), []string{"TMPDIR=" + tempdir.Short(t, "rgs")})
	plugAgent(t, port, "127.1.2.3")
	plugWaitDNS(t, dnsPort, 15*time.Second, "127.1.2.3")
	return l, dnsPort
}

// TestStoppedDNSPluginReplaced: a SIGSTOPped dns plugin used to leave DNS
// unanswered for 31 to 38 s. Now the host notices the unacknowledged
// heartbeat within the default hang timeout (5s), kills the stopped process,
// waits until it is gone (its sockets with it) and starts a replacement
// that answers at once. The bound only tells the old behaviour from the new.
func TestStoppedDNSPluginReplaced(t *testing.T) {
	l, dnsPort := hangDNSListener(t)
	old := plugWaitPlugins(t, l, 10*time.Second, nil, "dns")["dns"]
	plugKillOnCleanup(t, old)

	if err := syscall.Kill(old.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	plugWaitDNS(t, dnsPort, 20*time.Second, "127.1.2.3")
	t.Logf("answered again %v after SIGSTOP", time.Since(stopped).Round(time.Millisecond))
	if plugAlive(old) {
		t.Errorf("the stopped dns plugin %v still exists", old)
	}
	hung := l.waitLog(time.Second, "the hang reported", plugFrom("dns", 0, "output plugin failed; restarting"))
	if !strings.Contains(hung.str("error"), "plugin hung") {
		t.Errorf("restart reason %q, want a hang", hung.str("error"))
	}
	l.stop(30 * time.Second)
	plugNoCrash(t, l)
}

// TestDNSBindFailureBacksOff: when the dns output's port is taken by
// another program while its plugin restarts, the host logs every failed
// start once, as an error with the consecutive failure count, a growing
// backoff and the cause (the plugin's exit status and its bind error); the
// output comes back by itself once the port is free.
func TestDNSBindFailureBacksOff(t *testing.T) {
	l, dnsPort := hangDNSListener(t)

	// Kill the plugin and take its port before the replacement binds it
	// (a few tries: the replacement may win the race).
	var squatter net.PacketConn
	var prev []plugProc
	for try := 0; try < 5 && squatter == nil; try++ {
		victim := plugWaitPlugins(t, l, 15*time.Second, prev, "dns")["dns"]
		plugKillOnCleanup(t, victim)
		prev = append(prev, victim)
		if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", dnsPort)); err == nil {
				squatter = c
				break
			}
		}
	}
	if squatter == nil {
		t.Fatal("could not take the dns port while the plugin restarted")
	}
	defer func() { _ = squatter.Close() }() // closed below; this is for a test that stops before

	failed := func(x logLine) bool {
		return plugFrom("dns", 0, "output plugin failed; restarting")(x) && strings.Contains(x.str("error"), "address already in use")
	}
	// Before the port was taken the plugin may have restarted for other
	// reasons (the SIGKILLs); only the bind failures are compared.
	l.waitN(30*time.Second, 3, "three failed binds", failed)
	var lines []logLine
	l.mu.Lock()
	for _, x := range l.logs {
		if failed(x) {
			lines = append(lines, x)
		}
	}
	l.mu.Unlock()
	for i, x := range lines[:3] {
		if x.str("@level") != "error" || !strings.Contains(x.str("error"), fmt.Sprintf("127.0.0.1:%d", dnsPort)) ||
			!strings.Contains(x.str("error"), "exit status 1") {
			t.Errorf("failure %d: level %s, error %q; want an error naming the address and the exit status", i, x.str("@level"), x.str("error"))
		}
		if i == 0 {
			continue
		}
		prevN, n := lines[i-1].num("consecutive_failures"), x.num("consecutive_failures")
		prevB, errP := hangDuration(lines[i-1], "backoff")
		b, errB := hangDuration(x, "backoff")
		if n != prevN+1 || errP != nil || errB != nil || b != 2*prevB {
			t.Errorf("failure %d: consecutive_failures %d after %d, backoff %q after %q; want one more and twice as long",
				i, n, prevN, x.str("backoff"), lines[i-1].str("backoff"))
		}
	}
	// The host adds no other error line of its own per failure.
	if n := l.count(func(x logLine) bool {
		return x.str("@level") == "error" && x.str("kind") == "dns" && x.str("@module") == "rgap.output"
	}); n != l.count(plugFrom("dns", 0, "output plugin failed; restarting")) {
		t.Errorf("%d host error lines about the dns output, want one per failure", n)
	}
	if err := squatter.Close(); err != nil { // the plugin must get the port back now
		t.Fatal(err)
	}
	plugWaitDNS(t, dnsPort, 30*time.Second, "127.1.2.3")
	l.stop(30 * time.Second)
	plugNoCrash(t, l)
}

// hangDuration reads a duration field of a JSON log line: a string such as
// "1.6s", or a number of nanoseconds.
func hangDuration(l logLine, key string) (time.Duration, error) {
	switch v := l[key].(type) {
	case string:
		return time.ParseDuration(v)
	case float64:
		return time.Duration(v), nil
	}
	return 0, fmt.Errorf("%s: %v is not a duration", key, l[key])
}
