package dns

import (
	"net/netip"
	"testing"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/rgap-project/rgap/sdk"
)

// TestMetricsCountQueries: the series the output exports on the listener's
// /metrics count each query once, by response code, and count the UDP
// answers that could not hold every member.
func TestMetricsCountQueries(t *testing.T) {
	h, addr := startPlugin(t, appSpec, sdk.GroupInfo{ID: 7, Expire: time.Minute})
	askServer(t, "udp", addr, "app.example.com.", miekg.TypeA) // not ready: SERVFAIL
	h.Ready(7)
	for i := range 300 { // more A records than a 1232-byte answer holds
		h.Join(7, netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), time.Now().Add(time.Minute))
	}
	h.Sync()
	for range 3 {
		askServer(t, "udp", addr, "app.example.com.", miekg.TypeA)
	}
	askServer(t, "tcp", addr, "app.example.com.", miekg.TypeA) // the full set: not truncated
	askServer(t, "udp", addr, "other.example.com.", miekg.TypeA)

	want := map[string]float64{
		`queries_total{rcode="NOERROR"}`:               4,
		`queries_total{rcode="SERVFAIL"}`:              1,
		`queries_total{rcode="REFUSED"}`:               1,
		`queries_total{rcode="FORMERR"}`:               0,
		`queries_unanswered_total{reason="malformed"}`: 0,
		`truncated_answers_total`:                      3,
	}
	// A query is counted just after its response is sent, so the client
	// may read its answer a moment before the counter moves.
	var got map[string]float64
	matches := func() bool {
		got = h.Metrics()
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); !matches() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
