package e2e

import (
	"testing"
	"time"
)

// keyTotalsPSK is a third group key, which no agent uses.
const keyTotalsPSK = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"

// TestIngestTotalsCountPerKey: the listener's "ingest totals" line at
// shutdown counts the announcements each key of a group verified, as
// /metrics does: a v1 agent on the group's psk (key 0) and a v2 agent on
// key 1 both show, and a key nobody uses shows 0.
func TestIngestTotalsCountPerKey(t *testing.T) {
	l := startV2Listener(t, "    psk: "+psk1+"\n    keys:\n      - id: 1\n        psk: "+psk2+"\n      - id: 2\n        psk: "+keyTotalsPSK+"\n")
	v1 := start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1}, "agent", "-g", "1000", "-a", "127.1.0.1", "-i", "100ms", "-d", l.dst())
	v2 := startV2Agent(t, psk2, "1", "127.1.0.2", l.dst())
	plugWaitDNS(t, l.dnsPort, 20*time.Second, "127.1.0.1", "127.1.0.2")
	v1.stop(5 * time.Second)
	v2.stop(5 * time.Second)
	want := map[string]uint64{}
	for _, k := range []string{"0", "1", "2"} {
		want[k] = uint64(l.metric(t, `rgap_announcements_accepted_by_key_total{group="1000",key="`+k+`"}`))
	}
	if want["0"] == 0 || want["1"] == 0 || want["2"] != 0 {
		t.Fatalf("/metrics per key %v, want keys 0 and 1 used, 2 not", want)
	}
	l.stop(10 * time.Second)
	tot := l.waitLog(time.Second, "ingest totals", msgIs("ingest totals"))
	for k, n := range want {
		field := "accepted_group_1000_key_" + k
		if _, ok := tot[field]; !ok || tot.num(field) != n {
			t.Errorf("ingest totals %s = %v, want %d (as /metrics)", field, tot[field], n)
		}
	}
}
