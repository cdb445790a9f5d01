package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestMeasureReloadLoss is issue 10's figure "datagrams lost during 20
// reloads under 10k announcements/s": a listener with an eventlog output
// takes SIGHUP 20 times while signed announcements flow; every datagram
// sent must be received and accepted. Skipped unless RGAP_MEASURE=1 (it
// takes about half a minute and loads the machine).
func TestMeasureReloadLoss(t *testing.T) {
	measureOnly(t)
	const reloads, rate = 20, 10000
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	dir := t.TempDir()
	path := writeConfig(t, dir, reloadConfig(port, false, ""))
	l := start(t, dir, nil, "listener", "-c", path)
	l.waitLog(20*time.Second, "listening", msgIs("listening"))
	plugWaitPlugins(t, l, 20*time.Second, nil, "eventlog")

	began := time.Now()
	send := startReloadSender(t, port, rate)
	for i := range reloads {
		time.Sleep(500 * time.Millisecond)
		// Alternate between two files so that every reload has a change
		// to apply (an output is added, then removed again).
		extra := ""
		if i%2 == 0 {
			extra = "  - kind: noop\n"
		}
		writeConfig(t, dir, reloadConfig(port, false, extra))
		hup(t, l)
		l.waitN(30*time.Second, i+1, fmt.Sprintf("reload %d", i+1), msgIs("configuration reloaded"))
	}
	sent := send.halt()
	took := time.Since(began)
	time.Sleep(300 * time.Millisecond) // the last datagrams in flight on loopback
	tot := totals(t, l)
	received, accepted := tot.num("received"), tot.num("accepted")
	t.Logf("%d reloads in %v; sent %d (%.0f/s), received %d, accepted %d: lost %d, not accepted %d",
		reloads, took.Round(time.Millisecond), sent, float64(sent)/took.Seconds(), received, accepted,
		int64(sent)-int64(received), int64(sent)-int64(accepted))
	if received != sent || accepted != sent {
		t.Errorf("datagrams lost across %d reloads: sent %d, received %d, accepted %d", reloads, sent, received, accepted)
	}
}
