package e2e

// The listener under systemd: sd_notify messages on the datagram socket
// named by NOTIFY_SOCKET, captured here on a socket the test creates.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rgap-project/rgap/internal/tempdir"
)

// sdMsg is one sd_notify datagram and when it arrived.
type sdMsg struct {
	text string
	at   time.Time
}

// sdSocket creates the datagram socket systemd would own and returns its
// path and the messages read from it until the test ends.
func sdSocket(t *testing.T) (string, <-chan sdMsg) {
	t.Helper()
	dir := tempdir.Short(t, "rgsd")
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan sdMsg, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			select {
			case msgs <- sdMsg{string(buf[:n]), time.Now()}:
			default: // the test stopped reading; drop
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return path, msgs
}

// sdWait returns the first message starting with prefix within timeout,
// skipping others (they are returned too, in order).
func sdWait(t *testing.T, msgs <-chan sdMsg, timeout time.Duration, prefix string) (sdMsg, []sdMsg) {
	t.Helper()
	var skipped []sdMsg
	deadline := time.After(timeout)
	for {
		select {
		case m := <-msgs:
			if strings.HasPrefix(m.text, prefix) {
				return m, skipped
			}
			skipped = append(skipped, m)
		case <-deadline:
			t.Fatalf("no %q message within %v; got %v", prefix, timeout, skipped)
			return sdMsg{}, nil
		}
	}
}

// TestSdNotifyLifecycle: READY=1 comes only once the dns output answers
// (its plugin takes a second to start, long after the listen socket is
// open), WATCHDOG=1 keeps coming while WATCHDOG_USEC is set, neither
// NOTIFY_SOCKET nor WATCHDOG_USEC reaches a plugin, and SIGTERM sends
// STOPPING=1 and the listener exits with status 0.
func TestSdNotifyLifecycle(t *testing.T) {
	sock, msgs := sdSocket(t)
	dir := plugDir(t)
	plugScript(t, dir, "slowdns", "sleep 1\nexec "+rgapBin+" plugin dns\n")
	port, dnsPort := plugPorts(t)
	outputs := fmt.Sprintf("  - kind: slowdns\n    spec:\n      bind_address: 127.0.0.1:%d\n      mappings:\n        app.test:\n          group: 1000\n  - kind: eventlog\n", dnsPort)
	l := plugListener(t, plugConfig(port, "30s", "plugins_dir: "+dir+"\n", outputs),
		[]string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=1000000", "WATCHDOG_PID=", "TMPDIR=" + tempdir.Short(t, "rgs")})

	ready, early := sdWait(t, msgs, 30*time.Second, "READY=1")
	// One query, no retry: the output must answer the moment READY=1 came.
	if _, err := dnsQuery(fmt.Sprintf("127.0.0.1:%d", dnsPort), "app.test", dns.TypeA, 2*time.Second); err != nil {
		t.Errorf("dns output does not answer right after READY=1 (%q): %v", ready.text, err)
	}
	if want := "STATUS=listening on 1 socket, every output running"; !strings.Contains(ready.text, want) {
		t.Errorf("READY message %q lacks %q", ready.text, want)
	}
	for _, m := range early {
		if m.text != "WATCHDOG=1" {
			t.Errorf("unexpected message before READY=1: %q", m.text)
		}
	}

	// The watchdog is fed (every 500ms for WATCHDOG_USEC=1s).
	sdWait(t, msgs, 5*time.Second, "WATCHDOG=1")
	sdWait(t, msgs, 5*time.Second, "WATCHDOG=1")

	for kind, p := range plugWaitPlugins(t, l, 5*time.Second, nil, "dns", "eventlog") {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "WATCHDOG_") {
				t.Errorf("plugin %s (pid %d) got %s", kind, p.pid, kv)
			}
		}
	}

	if err := l.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sdWait(t, msgs, 10*time.Second, "STOPPING=1")
	l.stop(30 * time.Second)
	plugNoCrash(t, l)
}
