package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestV2HealthFlapAndDrainThroughListener: a v2 agent whose HTTP check
// flaps, seen through the listener's dns output (expire 30s): it is not
// answered while unhealthy at start, is answered once --rise rounds pass,
// leaves the answer as soon as --fall rounds fail (long before its expiry),
// and comes back with the server; the drain file takes it out and back the
// same way.
func TestV2HealthFlapAndDrainThroughListener(t *testing.T) {
	const checkInterval = 150 * time.Millisecond
	l := startV2Listener(t, "    psk: "+psk1+"\n")
	srv := newHealthServer(t)
	srv.stop() // unhealthy at start
	drain := filepath.Join(t.TempDir(), "drain")
	a := startV2Agent(t, psk1, "0", "127.1.2.3", l.dst(),
		"--check-http", srv.url(), "--check-interval", checkInterval.String(), "--check-timeout", "100ms",
		"--rise", "2", "--fall", "3", "--drain-file", drain)
	a.waitLog(5*time.Second, "a first check round", func(x logLine) bool { return x.msg() == "drained: not announcing" })
	time.Sleep(4 * checkInterval)
	if got, err := plugQueryA(l.dnsPort); err != nil || len(got) != 0 {
		t.Fatalf("unhealthy at start, yet answered: %v (%v)", got, err)
	}

	srv.start()
	plugWaitDNS(t, l.dnsPort, 5*time.Second, "127.1.2.3")
	srv.stop()
	stopped := time.Now()
	waitGone(t, l.dnsPort, "127.1.2.3", stopped, 5*time.Second)
	if d, least := time.Since(stopped), 2*checkInterval-50*time.Millisecond; d < least {
		t.Errorf("gone %v after the server stopped, before 3 failing rounds could pass (%v)", d, least)
	}
	srv.start()
	plugWaitDNS(t, l.dnsPort, 5*time.Second, "127.1.2.3")

	if err := os.WriteFile(drain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitGone(t, l.dnsPort, "127.1.2.3", time.Now(), 2*time.Second)
	if err := os.Remove(drain); err != nil {
		t.Fatal(err)
	}
	plugWaitDNS(t, l.dnsPort, 2*time.Second, "127.1.2.3")
	sigterm(t, a)
	waitExit(t, a)
}
