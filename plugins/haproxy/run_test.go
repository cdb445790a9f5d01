package haproxy

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// far is an expiry that never comes during a test.
var far = time.Now().Add(time.Hour)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// golden compares lines with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, lines []string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	got := strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("transcript differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// startOutput runs the output against f (the spec's socket) with the rest
// of spec, in a listener that has group 1.
func (f *fakeHAP) startOutput(t *testing.T, spec string) *sdktest.Harness {
	t.Helper()
	return sdktest.Start(t, Plugin, "socket: "+f.path+"\n"+spec, sdk.GroupInfo{ID: 1, Expire: time.Minute})
}

// join joins members with the given addresses to group 1 and waits until
// the output has handled them.
func join(h *sdktest.Harness, addrs ...string) {
	for _, a := range addrs {
		h.Join(1, ip(a), far)
	}
	h.Sync()
}

// joinReady is join with group 1 made ready before the wait.
func joinReady(h *sdktest.Harness, addrs ...string) {
	for _, a := range addrs {
		h.Join(1, ip(a), far)
	}
	h.Ready(1)
	h.Sync()
}

// waitServers waits until the fake's backend has exactly want.
func waitServers(t *testing.T, f *fakeHAP, backend string, want ...string) {
	t.Helper()
	sdktest.Eventually(t, "backend "+backend+" = "+strings.Join(want, ", "), func() bool {
		return slices.Equal(f.servers(backend), want)
	})
}

func countLogs(h *sdktest.Harness, msg string) int {
	n := 0
	for _, e := range h.Logs() {
		if e.Message == msg {
			n++
		}
	}
	return n
}

// TestSlotsTranscript: in slots mode the template's servers are filled once
// the group is ready (not before), a leave puts the slot in maintenance at
// once, a member beyond the slots waits (logged and counted) and takes the
// first slot that frees up, and a member that returns gets its old slot back.
// The operator's own server in the backend is never touched.
func TestSlotsTranscript(t *testing.T) {
	f := newFakeHAP(t)
	f.template("be", "rgap", 2)
	f.static("be", "static1", "127.0.0.9", 80)
	f.up(t)
	h := f.startOutput(t, "reconcile_interval: 1h\nmappings:\n  - group: 1\n    backend: be\n    port: 8080\n")
	join(h, "127.0.0.21", "127.0.0.22")
	h.Ready(1)
	h.Sync()
	waitServers(t, f, "be", "rgap1 127.0.0.21:8080 ready 1", "rgap2 127.0.0.22:8080 ready 1", "static1 127.0.0.9:80 ready 1")

	join(h, "127.0.0.23")
	sdktest.Eventually(t, "one member waiting", func() bool {
		return h.Metrics()["members_waiting"] == 1 && h.Metrics()["member_waits_total"] == 1
	})
	if n := countLogs(h, "more members than server-template slots: the extra members wait for a free slot"); n != 1 {
		t.Errorf("waiting logged %d times, want 1", n)
	}

	h.Leave(1, ip("127.0.0.21"))
	h.Sync()
	waitServers(t, f, "be", "rgap1 127.0.0.23:8080 ready 1", "rgap2 127.0.0.22:8080 ready 1", "static1 127.0.0.9:80 ready 1")
	sdktest.Eventually(t, "nobody waiting", func() bool { return h.Metrics()["members_waiting"] == 0 })

	h.Leave(1, ip("127.0.0.22"))
	h.Sync()
	waitServers(t, f, "be", "rgap1 127.0.0.23:8080 ready 1", "rgap2 127.0.0.22:8080 maint 1", "static1 127.0.0.9:80 ready 1")
	join(h, "127.0.0.22")
	waitServers(t, f, "be", "rgap1 127.0.0.23:8080 ready 1", "rgap2 127.0.0.22:8080 ready 1", "static1 127.0.0.9:80 ready 1")
	golden(t, "slots.golden", f.transcript())
	if h.Metrics()[`commands_total{result="error"}`] != 0 {
		t.Errorf("commands_total{error} = %v, want 0", h.Metrics()[`commands_total{result="error"}`])
	}
}

// TestDynamicTranscript: in dynamic mode a member becomes an added and
// enabled server named after its address and port; a leave puts it in
// maintenance and deletes it. Servers without the prefix stay.
func TestDynamicTranscript(t *testing.T) {
	f := newFakeHAP(t)
	f.static("dyn", "static1", "127.0.0.9", 80)
	f.static("dyn", "rgapx", "127.0.0.8", 80) // no "rgap_": not the output's
	f.up(t)
	h := f.startOutput(t, "reconcile_interval: 1h\nmappings:\n  - group: 1\n    backend: dyn\n    mode: dynamic\n    port: 8080\n    check: true\n")
	h.Ready(1)
	join(h, "127.0.0.21")
	waitServers(t, f, "dyn", "static1 127.0.0.9:80 ready 1", "rgapx 127.0.0.8:80 ready 1", "rgap_127.0.0.21_8080 127.0.0.21:8080 ready 1")
	join(h, "2001:db8::1")
	waitServers(t, f, "dyn", "static1 127.0.0.9:80 ready 1", "rgapx 127.0.0.8:80 ready 1", "rgap_127.0.0.21_8080 127.0.0.21:8080 ready 1",
		"rgap_2001:db8::1_8080 2001:db8::1:8080 ready 1")
	h.Leave(1, ip("127.0.0.21"))
	h.Sync()
	waitServers(t, f, "dyn", "static1 127.0.0.9:80 ready 1", "rgapx 127.0.0.8:80 ready 1", "rgap_2001:db8::1_8080 2001:db8::1:8080 ready 1")
	golden(t, "dynamic.golden", f.transcript())
}

// TestRestartRepaired: HAProxy restarted (its runtime changes lost) is
// repaired within reconcile_interval, and the repair is logged.
func TestRestartRepaired(t *testing.T) {
	f := newFakeHAP(t)
	setup := func() { f.template("be", "rgap", 3) }
	setup()
	f.up(t)
	h := f.startOutput(t, "reconcile_interval: 200ms\nmappings:\n  - group: 1\n    backend: be\n")
	joinReady(h, "127.0.0.21")
	filled := []string{"rgap1 127.0.0.21:80 ready 1", "rgap2 0.0.0.0:80 maint 1", "rgap3 0.0.0.0:80 maint 1"}
	waitServers(t, f, "be", filled...)
	f.down()
	f.restart(setup)
	f.up(t)
	waitServers(t, f, "be", filled...)
	sdktest.Eventually(t, "the repair logged", func() bool { return countLogs(h, "correcting backend") >= 1 })
}

// TestSocketAbsentAtStart: with no socket at start the output retries,
// logs the outage once however many retries fail, and fills HAProxy once it
// appears.
func TestSocketAbsentAtStart(t *testing.T) {
	f := newFakeHAP(t)
	f.template("be", "rgap", 1)
	h := f.startOutput(t, "mappings:\n  - group: 1\n    backend: be\n    port: 81\n")
	joinReady(h, "127.0.0.21")
	sdktest.Eventually(t, "three failed attempts", func() bool { return h.Metrics()["connect_failures_total"] >= 3 })
	f.up(t)
	waitServers(t, f, "be", "rgap1 127.0.0.21:81 ready 1")
	if n := countLogs(h, "cannot reach HAProxy, retrying with backoff"); n != 1 {
		t.Errorf("outage logged %d times at warn, want once per streak", n)
	}
	sdktest.Eventually(t, "the end of the outage logged", func() bool { return countLogs(h, "HAProxy reachable again") == 1 })
}

// TestRefusedCommandLogged: an answer HAProxy gives as an error is logged
// with the command and the answer, once while it repeats, and counted.
func TestRefusedCommandLogged(t *testing.T) {
	f := newFakeHAP(t)
	f.up(t)
	h := f.startOutput(t, "reconcile_interval: 100ms\nmappings:\n  - group: 1\n    backend: nosuch\n")
	h.Ready(1)
	h.Sync()
	sdktest.Eventually(t, "three refusals counted", func() bool { return h.Metrics()[`commands_total{result="error"}`] >= 3 })
	var found []sdktest.LogEntry
	for _, e := range h.Logs() {
		if e.Message == "cannot read the backend's servers" && e.Level == hclog.Error {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("refusal logged %d times at error level, want once: %v", len(found), h.Logs())
	}
	if found[0].Arg("command") != "show servers state nosuch" || found[0].Arg("answer") != "Can't find backend." {
		t.Errorf("refusal logged with %v, want the command and HAProxy's answer", found[0])
	}
}

// TestDynamicDeleteWaitsForConnections: a server of a member that left but
// still has connections stays in maintenance and is deleted at a later
// reconcile; HAProxy's answer is no error.
func TestDynamicDeleteWaitsForConnections(t *testing.T) {
	f := newFakeHAP(t)
	f.static("dyn", "static1", "127.0.0.9", 80)
	f.up(t)
	h := f.startOutput(t, "reconcile_interval: 100ms\nmappings:\n  - group: 1\n    backend: dyn\n    mode: dynamic\n    port: 8080\n")
	h.Ready(1)
	join(h, "127.0.0.21")
	waitServers(t, f, "dyn", "static1 127.0.0.9:80 ready 1", "rgap_127.0.0.21_8080 127.0.0.21:8080 ready 1")
	f.setBusy("dyn", "rgap_127.0.0.21_8080", true)
	h.Leave(1, ip("127.0.0.21"))
	h.Sync()
	waitServers(t, f, "dyn", "static1 127.0.0.9:80 ready 1", "rgap_127.0.0.21_8080 127.0.0.21:8080 maint 1")
	sdktest.Eventually(t, "a refused deletion", func() bool {
		n := 0
		for _, l := range f.transcript() {
			if strings.HasPrefix(l, "< Server still has connections") {
				n++
			}
		}
		return n >= 1
	})
	f.setBusy("dyn", "rgap_127.0.0.21_8080", false)
	waitServers(t, f, "dyn", "static1 127.0.0.9:80 ready 1")
	if got := h.Metrics()[`commands_total{result="error"}`]; got != 0 {
		t.Errorf("commands_total{error} = %v, want 0: a busy server is no error", got)
	}
}

// TestTCPSocket: the Runtime API may be a TCP host:port.
func TestTCPSocket(t *testing.T) {
	f := newFakeHAP(t)
	f.network, f.path = "tcp", "127.0.0.1:0"
	f.template("be", "rgap", 1)
	f.up(t)
	h := f.startOutput(t, "mappings:\n  - group: 1\n    backend: be\n    port: 81\n")
	joinReady(h, "127.0.0.21")
	waitServers(t, f, "be", "rgap1 127.0.0.21:81 ready 1")
}
