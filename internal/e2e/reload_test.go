package e2e

// SIGHUP reload through the real binary (issue 10, part 3): a changed file is
// applied as a difference while announcements keep arriving, a broken file
// changes nothing, and a removed group's members leave.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

const reloadPSK2 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// reloadConfig is a listener configuration with group 1000 (and 2000 when
// withSecond), an eventlog output for group 1000, and extra output items.
func reloadConfig(port int, withSecond bool, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen:\n  - 127.0.0.1:%d\ngroups:\n  - id: 1000\n    psk: %s\n    expire: 30s\n    readiness_delay: 0s\n", port, plugPSK)
	if withSecond {
		fmt.Fprintf(&b, "  - id: 2000\n    psk: %s\n    expire: 30s\n    readiness_delay: 0s\n", reloadPSK2)
	}
	b.WriteString("outputs:\n  - kind: eventlog\n    spec:\n      only_groups: [1000]\n")
	b.WriteString(extra)
	return b.String()
}

// reloadSender sends signed announcements of 1000 addresses of group 1000,
// round-robin, at about rate per second (in bursts every 10ms) until
// stopped; it counts them.
type reloadSender struct {
	sent atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startReloadSender(t *testing.T, port int, rate int) *reloadSender {
	t.Helper()
	key := groupKey(t, plugPSK)
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	s := &reloadSender{stop: make(chan struct{})}
	s.wg.Go(func() {
		defer func() { _ = c.Close() }() // a UDP socket: nothing to report
		// Bursts every 10ms keep up with rates a ticker per datagram
		// cannot reach in a race-instrumented test binary.
		const period = 10 * time.Millisecond
		burst := max(1, rate/int(time.Second/period))
		tick := time.NewTicker(period)
		defer tick.Stop()
		deadline := time.After(2 * time.Minute) // bounded, whatever the test does
		for i := 0; ; {
			select {
			case <-s.stop:
				return
			case <-deadline:
				return
			case <-tick.C:
			}
			for range burst {
				addr := netip.AddrFrom4([4]byte{10, 9, byte(i % 1000 / 250), byte(i%250 + 1)})
				b := key.Append(nil, protocol.Announcement{Group: 1000, Timestamp: time.Now().UnixMicro(), Addr: addr})
				if _, err := c.Write(b); err != nil {
					t.Errorf("send: %v", err)
					return
				}
				s.sent.Add(1)
				i++
			}
		}
	})
	return s
}

func (s *reloadSender) halt() uint64 {
	close(s.stop)
	s.wg.Wait()
	return s.sent.Load()
}

func hup(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// TestReloadAppliesDifference: with announcements flowing, a reload that
// adds a group and an output for it loses no datagram, keeps the unchanged
// eventlog output's process and logs no spurious event, and the new group
// works; a broken file then changes nothing; removing the group makes its
// member leave.
func TestReloadAppliesDifference(t *testing.T) {
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	dir := t.TempDir()
	path := writeConfig(t, dir, reloadConfig(port, false, ""))
	l := start(t, dir, nil, "listener", "-c", path)
	l.waitLog(20*time.Second, "listening", msgIs("listening"))
	before := plugWaitPlugins(t, l, 20*time.Second, nil, "eventlog")

	send := startReloadSender(t, port, 1000)
	joined1000 := func(x logLine) bool { return x.msg() == "address joined" && x.str("group") == "1000" }
	l.waitN(20*time.Second, 1000, "1000 joins", joined1000)

	// Reload 1: a second group and an eventlog output for it.
	extra := "  - kind: eventlog\n    spec:\n      only_groups: [2000]\n"
	writeConfig(t, dir, reloadConfig(port, true, extra))
	hup(t, l)
	l.waitLog(30*time.Second, "configuration reloaded", msgIs("configuration reloaded"))
	after := plugWaitPlugins(t, l, 20*time.Second, nil, "eventlog")
	if after["eventlog"].pid == 0 || !plugAlive(before["eventlog"]) {
		t.Errorf("the unchanged eventlog output's plugin %v did not survive the reload", before["eventlog"])
	}
	key2 := groupKey(t, reloadPSK2)
	// Each announcement is newer than the last: a repeated one is a replay.
	fresh := func() []byte {
		return key2.Append(nil, protocol.Announcement{Group: 2000, Timestamp: time.Now().UnixMicro(), Addr: netip.MustParseAddr("10.20.0.1")})
	}
	b := fresh()
	c := dialListener(t, port)
	var sent2000 atomic.Uint64
	stop2000 := make(chan struct{})
	var wg2000 sync.WaitGroup
	wg2000.Go(func() {
		for range 50 { // bounded: 5 s at most
			if _, err := c.Write(fresh()); err != nil {
				t.Errorf("send: %v", err)
				return
			}
			sent2000.Add(1)
			select {
			case <-stop2000:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	l.waitLog(20*time.Second, "group 2000's member joins through the new output", func(x logLine) bool {
		return x.msg() == "address joined" && x.str("group") == "2000" && x.str("output") == "1" && x.str("address") == "10.20.0.1"
	})
	close(stop2000)
	wg2000.Wait()

	// Reload 2: a broken file changes nothing.
	if err := os.WriteFile(filepath.Join(dir, "rgap.yaml"), []byte("listen: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup(t, l)
	l.waitLog(30*time.Second, "reload failed", msgIs("reload failed; still running the previous configuration"))

	// Reload 3: group 2000 and its output removed: its member leaves.
	writeConfig(t, dir, reloadConfig(port, false, ""))
	hup(t, l)
	l.waitN(30*time.Second, 2, "a second configuration reloaded", msgIs("configuration reloaded"))
	l.waitLog(time.Second, "group 2000 removed", func(x logLine) bool {
		return x.msg() == "groups reconfigured" && fmt.Sprint(x["removed"]) == "[2000]"
	})
	// Group 2000 is gone: its announcements are now unknown.
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}

	sent := send.halt()
	time.Sleep(200 * time.Millisecond) // the last datagrams in flight on loopback
	tot := totals(t, l)
	if got := tot.num("dropped_unknown_group"); got != 1 {
		t.Errorf("dropped_unknown_group = %d, want 1 (the announcement of removed group 2000)", got)
	}
	if got, want := tot.num("received"), sent+sent2000.Load()+1; got != want {
		t.Errorf("received %d datagrams of %d sent across three reloads", got, want)
	}
	if got, want := tot.num("accepted"), sent+sent2000.Load(); got != want {
		t.Errorf("accepted %d announcements of %d sent across three reloads", got, want)
	}
	// Group 1000's 1000 members joined once each and never left: no
	// spurious event from any reload.
	if n := l.count(joined1000); n != 1000 {
		t.Errorf("group 1000: %d joins logged, want 1000 (one per member)", n)
	}
	if n := l.count(func(x logLine) bool { return x.msg() == "address left" && x.str("group") == "1000" }); n != 0 {
		t.Errorf("group 1000: %d leaves logged across the reloads, want 0", n)
	}
	if n := l.count(func(x logLine) bool {
		return x.msg() == "output totals" && x.str("kind") == "eventlog" && x.num("starts") > 1 && x.str("output") == "0"
	}); n != 0 {
		t.Errorf("output 0 (eventlog) was restarted by a reload")
	}
	plugNoCrash(t, l)
}
