package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen makes the datagram socket systemd would own and points
// NOTIFY_SOCKET at it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no sd_notify message: %v", err)
	}
	return string(buf[:n])
}

func TestLifecycleMessages(t *testing.T) {
	c := listen(t)
	n := New(nil)
	if !n.Enabled() {
		t.Fatal("NOTIFY_SOCKET is set but the notifier is off")
	}
	n.Ready("listening on 1 socket, 2 outputs")
	if got, want := recv(t, c), "READY=1\nSTATUS=listening on 1 socket, 2 outputs"; got != want {
		t.Errorf("Ready sent %q, want %q", got, want)
	}
	n.Reloading()
	got := recv(t, c)
	lines := strings.Split(got, "\n")
	if len(lines) != 3 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") || len(lines[1]) <= len("MONOTONIC_USEC=") {
		t.Errorf("Reloading sent %q, want RELOADING=1, MONOTONIC_USEC=<µs> and a status", got)
	}
	n.ReloadFailed("rgap.yaml:3: groups[0].psk: want 64 hex characters\nand more")
	if got, want := recv(t, c), "READY=1\nSTATUS=reload failed, still running the previous configuration: rgap.yaml:3: groups[0].psk: want 64 hex characters and more"; got != want {
		t.Errorf("ReloadFailed sent %q, want %q", got, want)
	}
	n.Stopping()
	if got, want := recv(t, c), "STOPPING=1\nSTATUS=stopping"; got != want {
		t.Errorf("Stopping sent %q, want %q", got, want)
	}
}

func TestOffWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := New(nil)
	if n.Enabled() {
		t.Fatal("enabled without NOTIFY_SOCKET")
	}
	n.Ready("x") // must not panic or block
	var nilN *Notifier
	nilN.Stopping()
	done := make(chan struct{})
	go func() { nilN.Watchdog(context.Background(), func() bool { return true }); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watchdog of a disabled notifier did not return")
	}
}

// TestWatchdogOnlyWhileHealthy: WATCHDOG=1 is sent while the caller is
// healthy and withheld while it is not, so systemd restarts a wedged
// listener.
func TestWatchdogOnlyWhileHealthy(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "40000") // 40ms: pings every 20ms
	t.Setenv("WATCHDOG_PID", "")
	var healthy atomic.Bool
	healthy.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { New(nil).Watchdog(ctx, healthy.Load); close(done) }()
	defer func() { cancel(); <-done }()

	if got := recv(t, c); got != "WATCHDOG=1" {
		t.Fatalf("got %q, want WATCHDOG=1", got)
	}
	healthy.Store(false)
	// Drain what was in flight, then nothing may arrive for a while.
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("watchdog fed while unhealthy: %q", buf[:n])
	}
	healthy.Store(true)
	if got := recv(t, c); got != "WATCHDOG=1" {
		t.Fatalf("got %q after recovery, want WATCHDOG=1", got)
	}
}
