package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

// The listener does not take protocol v2 yet, so these tests stand a UDP
// socket where the listener would be and check the agent's datagrams with
// internal/protocol.

// v2Receiver is a loopback UDP socket the agent under test sends to.
type v2Receiver struct {
	t    *testing.T
	conn *net.UDPConn
	key  *protocol.Key
}

func newV2Receiver(t *testing.T) *v2Receiver {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &v2Receiver{t: t, conn: c, key: groupKey(t, psk1)}
}

func (r *v2Receiver) dst() string { return r.conn.LocalAddr().String() }

// next returns the next datagram, parsed and verified, failing after
// timeout.
func (r *v2Receiver) next(timeout time.Duration, what string) protocol.Announcement {
	r.t.Helper()
	buf := make([]byte, 1500)
	if err := r.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		r.t.Fatal(err)
	}
	n, _, err := r.conn.ReadFromUDP(buf)
	if err != nil {
		r.t.Fatalf("no datagram (%s) within %v: %v", what, timeout, err)
	}
	ann, err := protocol.Parse(buf[:n])
	if err != nil {
		r.t.Fatalf("%s: datagram of %d bytes does not parse: %v", what, n, err)
	}
	if err := r.key.Verify(buf[:n]); err != nil {
		r.t.Fatalf("%s: %v: %v", what, ann, err)
	}
	return ann
}

// silent asserts that nothing arrives for d.
func (r *v2Receiver) silent(d time.Duration, what string) {
	r.t.Helper()
	if err := r.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		r.t.Fatal(err)
	}
	buf := make([]byte, 1500)
	if n, _, err := r.conn.ReadFromUDP(buf); err == nil {
		a, _ := protocol.Parse(buf[:n])
		r.t.Fatalf("%s: unexpected datagram %v", what, a)
	}
}

// leaves reads the 3 leave copies, each newer than after, and returns the
// last timestamp.
func (r *v2Receiver) leaves(after int64, what string) int64 {
	r.t.Helper()
	return r.leavesFrom(0, after, what)
}

// leavesFrom reads the leave copies from the first-th (0-based) on.
func (r *v2Receiver) leavesFrom(first int, after int64, what string) int64 {
	r.t.Helper()
	for i := first; i < 3; i++ {
		a := r.next(2*time.Second, fmt.Sprintf("leave %d of 3 (%s)", i+1, what))
		if a.Version != protocol.VersionV2 || !a.Leave || a.Timestamp <= after {
			r.t.Fatalf("%s: got %v, want a v2 leave newer than %d", what, a, after)
		}
		after = a.Timestamp
	}
	return after
}

// TestAgentV2UsageErrors: the v2-only options without --protocol 2, and
// values out of range, are command-line errors (exit 2) that say so.
func TestAgentV2UsageErrors(t *testing.T) {
	checkAgentUsageErrors(t, []agentUsageCase{
		{"port without v2", nil, []string{"--port", "8080"}, `^rgap agent: --port needs --protocol 2: protocol 1 cannot carry it\n$`},
		{"weight without v2", nil, []string{"--weight", "5"}, `--weight needs --protocol 2`},
		{"key id without v2", nil, []string{"--key-id", "1"}, `--key-id needs --protocol 2`},
		{"port 0 without v2", nil, []string{"--port", "0"}, `--port needs --protocol 2`},
		{"explicit protocol 1", nil, []string{"--protocol", "1", "--port", "80"}, `--port needs --protocol 2`},
		{"RGAP_PORT without v2", []string{"RGAP_PORT=80"}, nil, `--port needs --protocol 2`},
		{"RGAP_WEIGHT without v2", []string{"RGAP_WEIGHT=80"}, nil, `--weight needs --protocol 2`},
		{"RGAP_PROTOCOL=1 with port", []string{"RGAP_PROTOCOL=1"}, []string{"--port", "80"}, `--port needs --protocol 2`},
		{"protocol 3", nil, []string{"--protocol", "3"}, `--protocol: want 1 or 2, got "3"`},
		{"key id 256", nil, []string{"--protocol", "2", "--key-id", "256"}, `--key-id: want an integer from 0 to 255, got "256"`},
		{"port 65536", nil, []string{"--protocol", "2", "--port", "65536"}, `--port: want an integer from 0 to 65535, got "65536"`},
		{"weight -1", []string{"RGAP_PROTOCOL=2"}, []string{"--weight", "-1"}, `--weight: want an integer from 0 to 65535`},
		{"drain file without interval", nil, []string{"--drain-file", "/nonexistent"}, `--drain-file needs --interval`},
	})
}

// TestAgentV2AnnouncesAndLeavesOnSIGTERM: a v2 agent sends its port,
// weight and key id; SIGTERM makes it send 3 signed leaves, newer than its
// announcements, and exit 0. A v1 agent (the default) sends v1 and just
// exits.
func TestAgentV2AnnouncesAndLeavesOnSIGTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("v2 "+sig.String(), func(t *testing.T) {
			r := newV2Receiver(t)
			a := start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1, "RGAP_PROTOCOL=2", "RGAP_WEIGHT=7"},
				"agent", "-g", "1000", "-a", "127.1.2.3", "--port", "31044", "--key-id", "3", "-i", "50ms", "-d", r.dst())
			var last int64
			for i := range 3 {
				ann := r.next(5*time.Second, fmt.Sprintf("announcement %d", i))
				want := protocol.Announcement{Version: protocol.VersionV2, Group: 1000, Timestamp: ann.Timestamp,
					Addr: netip.MustParseAddr("127.1.2.3"), KeyID: 3, Port: 31044, Weight: 7}
				if ann != want || ann.Timestamp <= last {
					t.Fatalf("announcement %d = %v, want %v newer than %d", i, ann, want, last)
				}
				last = ann.Timestamp
			}
			_ = a.cmd.Process.Signal(sig)
			select {
			case <-a.done:
			case <-time.After(5 * time.Second):
				t.Fatalf("agent did not exit within 5s of %v", sig)
			}
			if a.err != nil {
				t.Fatalf("agent exited with %v after %v, want status 0", a.err, sig)
			}
			// Announcements may still be queued before the leaves.
			for {
				ann := r.next(2*time.Second, "leave")
				if ann.Leave {
					if ann.Timestamp <= last {
						t.Fatalf("leave %v not newer than %d", ann, last)
					}
					r.leavesFrom(1, ann.Timestamp, "after the first")
					break
				}
				last = ann.Timestamp
			}
			r.silent(300*time.Millisecond, "after the leaves")
		})
	}
	t.Run("v1 SIGTERM", func(t *testing.T) {
		r := newV2Receiver(t)
		a := start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1},
			"agent", "-g", "1000", "-a", "127.1.2.3", "-i", "1h", "-d", r.dst())
		if ann := r.next(5*time.Second, "announcement"); ann.Version != protocol.Version {
			t.Fatalf("default protocol sent %v, want v1", ann)
		}
		a.stop(5 * time.Second)
		r.silent(300*time.Millisecond, "after SIGTERM of a v1 agent")
	})
}

// TestAgentV2DrainFileAndSIGUSR1: the drain file and SIGUSR1 take a v2
// agent out (a leave, then silence) and back in at once, with an interval
// of an hour; each transition is logged once at info level.
func TestAgentV2DrainFileAndSIGUSR1(t *testing.T) {
	dir := t.TempDir()
	drain := filepath.Join(dir, "drain")
	r := newV2Receiver(t)
	a := start(t, dir, []string{"RGAP_PSK=" + psk1, "RGAP_DRAIN_FILE=" + drain},
		"agent", "--protocol", "2", "-g", "1000", "-a", "127.1.2.3", "-i", "1h", "-d", r.dst())
	last := r.next(5*time.Second, "first announcement").Timestamp
	drainedLine := func(l logLine) bool { return l.msg() == "drained: not announcing" && l.str("@level") == "info" }
	resumedLine := func(l logLine) bool { return l.msg() == "drain over: announcing again" && l.str("@level") == "info" }

	if err := os.WriteFile(drain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	last = r.leaves(last, "drain file created")
	if l := a.waitLog(2*time.Second, "drained", drainedLine); l.str("reason") != "drain file "+drain+" exists" {
		t.Errorf("drained reason %q, want the drain file named", l.str("reason"))
	}
	r.silent(700*time.Millisecond, "while the drain file exists")
	if err := os.Remove(drain); err != nil {
		t.Fatal(err)
	}
	if ann := r.next(time.Second, "announcement after the drain file went"); ann.Leave || ann.Timestamp <= last {
		t.Fatalf("after the drain file went: %v, want a fresh announcement", ann)
	}
	a.waitLog(2*time.Second, "drain over", resumedLine)

	_ = a.cmd.Process.Signal(syscall.SIGUSR1)
	last = r.leaves(0, "SIGUSR1 on")
	a.waitN(2*time.Second, 2, "drained twice", drainedLine)
	r.silent(500*time.Millisecond, "while drained by SIGUSR1")
	_ = a.cmd.Process.Signal(syscall.SIGUSR1)
	if ann := r.next(time.Second, "announcement after SIGUSR1 off"); ann.Leave || ann.Timestamp <= last {
		t.Fatalf("after SIGUSR1 off: %v, want a fresh announcement", ann)
	}
	a.waitN(2*time.Second, 2, "drain over twice", resumedLine)
	a.stop(5 * time.Second)
	r.leaves(0, "SIGTERM")
	if in, out := a.count(drainedLine), a.count(resumedLine); in != 2 || out != 2 {
		t.Errorf("%d drain and %d resume lines for 2 transitions each", in, out)
	}
}
