package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// stateConfig is a listener with a dns output and a state file; the dns
// output picks a free port, logged as "dns server listening".
func stateConfig(lport int, delay string) string {
	return fmt.Sprintf(`listen:
  - 127.0.0.1:%d
state_file: rgap.state
groups:
  - id: 1000
    psk: %s
    expire: 5s
    readiness_delay: %s
outputs:
  - kind: dns
    spec:
      bind_address: 127.0.0.1:0
      mappings:
        app.test:
          group: 1000
`, lport, psk1, delay)
}

// stateQuery asks the dns output at addr for app.test A: the rcode name
// and the sorted addresses.
func stateQuery(addr string) (string, []string, error) {
	r, err := dnsQuery(addr, "app.test", dns.TypeA, time.Second)
	if err != nil {
		return "", nil, err
	}
	addrs, _ := dnsA(r) // app.test has A records only
	return dns.RcodeToString[r.Rcode], addrs, nil
}

// stateWaitAnswer polls addr until it answers NOERROR with want, failing
// after bound; it returns every distinct answer seen before.
func stateWaitAnswer(t *testing.T, addr string, want []string, bound time.Duration) []string {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(bound)
	for {
		rcode, got, err := stateQuery(addr)
		desc := fmt.Sprintf("%s %v", rcode, got)
		if err != nil {
			desc = err.Error()
		}
		if rcode == "NOERROR" && slices.Equal(got, want) {
			return seen
		}
		if len(seen) == 0 || seen[len(seen)-1] != desc {
			seen = append(seen, desc)
		}
		if time.Now().After(deadline) {
			t.Fatalf("dns output did not answer %v within %v; answers seen: %q", want, bound, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStateFileRestart: with members announcing every second and
// readiness_delay 30s, a restarted listener's dns output answers the full
// member set at once from the state file, instead of SERVFAIL for 30s.
func TestStateFileRestart(t *testing.T) {
	dir := t.TempDir()
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	members := []string{"127.0.0.31", "127.0.0.32", "127.0.0.33"}

	// The first run stands for a listener that has been up longer than
	// its readiness delay: it gets a short one so the test need not wait
	// 30s. The restart then runs with 30s.
	cfgPath := writeConfig(t, dir, stateConfig(lport, "1s"))
	l1 := start(t, dir, nil, "listener", "-c", cfgPath)
	dns1 := l1.waitLog(20*time.Second, `"dns server listening"`, msgIs("dns server listening")).str("udp")
	l1.waitLog(20*time.Second, `"no state file yet"`, msgIs("no state file yet; groups start empty"))
	for _, m := range members {
		start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "-g", "1000", "-a", m,
			"-i", "1s", "-d", fmt.Sprintf("127.0.0.1:%d", lport))
	}
	stateWaitAnswer(t, dns1, members, 20*time.Second)

	writeConfig(t, dir, stateConfig(lport, "30s"))
	l1.stop(10 * time.Second)
	if fi, err := os.Stat(filepath.Join(dir, "rgap.state")); err != nil || fi.Size() == 0 {
		t.Fatalf("no state file after a clean stop: %v", err)
	}

	started := time.Now()
	l2 := start(t, dir, nil, "listener", "-c", cfgPath)
	restored := l2.waitLog(20*time.Second, `"state restored"`, msgIs("state restored"))
	if n := restored.num("members"); n != uint64(len(members)) {
		t.Errorf("state restored %d members, want %d: %v", n, len(members), restored)
	}
	if g := restored.str("ready_groups"); g != "[1000]" {
		t.Errorf("ready_groups %q, want [1000]", g)
	}
	dns2 := l2.waitLog(20*time.Second, `"dns server listening"`, msgIs("dns server listening")).str("udp")
	listening := time.Now()
	// Well within the 30s readiness delay: an answer here comes from the
	// state file. The bound is generous for a loaded machine; the times
	// are logged.
	before := stateWaitAnswer(t, dns2, members, 10*time.Second)
	t.Logf("full answer %v after the restart, %v after the dns output listened; answers before: %q",
		time.Since(started).Round(time.Millisecond), time.Since(listening).Round(time.Millisecond), before)
	for _, a := range before {
		if strings.HasPrefix(a, "SERVFAIL") {
			t.Errorf("dns output answered %s after the restart although the group was restored ready", a)
		}
	}
	l2.stop(10 * time.Second)
}

// TestStateFileCorrupt: a corrupt state file is reported and ignored, and
// the listener starts as without one (the group waits for its delay).
func TestStateFileCorrupt(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "rgap.state")
	if err := os.WriteFile(statePath, []byte("RGAPST\x00\x01 this is not what rgap wrote\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	l := start(t, dir, nil, "listener", "-c", writeConfig(t, dir, stateConfig(lport, "30s")))
	w := l.waitLog(20*time.Second, `"state file ignored"`, msgIs("state file ignored; groups start empty"))
	if w.str("@level") != "warn" || !strings.Contains(w.str("reason"), "checksum mismatch") || !strings.Contains(w.str("reason"), statePath) {
		t.Errorf("warning %v, want level warn and a reason naming the file and the checksum", w)
	}
	dnsAddr := l.waitLog(20*time.Second, `"dns server listening"`, msgIs("dns server listening")).str("udp")
	l.waitLog(10*time.Second, `"listening"`, msgIs("listening"))
	if rcode, got, err := stateQuery(dnsAddr); err != nil || rcode != "SERVFAIL" {
		t.Errorf("dns output during the readiness delay: %s %v %v, want SERVFAIL as after a start without a state file", rcode, got, err)
	}
	l.stop(10 * time.Second)
	// The clean stop replaced the corrupt file with a valid one (the
	// group was not ready yet, so it holds no group).
	b, err := os.ReadFile(statePath)
	if err != nil || strings.Contains(string(b), "not what rgap wrote") {
		t.Errorf("state file after the stop: %q, %v; want it rewritten", b, err)
	}
}
