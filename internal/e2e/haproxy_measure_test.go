package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

// TestHAProxyJoinLatencyMeasure measures, for 50 joins, the time from an
// announcement leaving the test to HAProxy routing a request to the new
// backend, through the haproxy output (push) and, in the same run and the
// same HAProxy, through the dns output and HAProxy's resolvers (hold valid
// 1s). It prints min/median/p99/max and asserts nothing about time; it runs
// only with RGAP_MEASURE=1.
//
// Each join is a fresh address, announced once (v1) at the same moment to
// two groups: group 1000 (expire 500ms) feeds the haproxy output, group 1001
// (expire 3s: live across at least two resolutions) the dns output. Joins
// are at least 600 ms apart, so the push backend has only the new member
// and the first request it routes there counts; the dns backend may still
// have one or two earlier members, which round robin costs a request or two
// (well under a millisecond each on loopback). A random pause between joins
// makes them fall at random phases of the resolvers' period.
func TestHAProxyJoinLatencyMeasure(t *testing.T) {
	measureOnly(t)
	bin := hapBinary(t)
	const joins = 50
	var addrs []string
	for i := 1; i <= joins; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.3.%d", i))
	}
	bport := hapStartBackends(t, addrs)
	dir := t.TempDir()
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	sock := filepath.Join(dir, "admin.sock")
	l := start(t, dir, nil, "listener", "-c", writeConfig(t, dir, fmt.Sprintf(`listen:
  - 127.0.0.1:%d
groups:
  - id: 1000
    psk: %s
    expire: 500ms
    readiness_delay: 0s
  - id: 1001
    psk: %s
    expire: 3s
    readiness_delay: 0s
outputs:
  - kind: haproxy
    spec:
      socket: %s
      mappings:
        - group: 1000
          backend: be
          port: %d
  - kind: dns
    spec:
      bind_address: 127.0.0.1:0
      mappings:
        %s:
          group: 1001
`, lport, psk1, psk1, sock, bport, hapName)))
	dnsAddr := hapDNSAddr(t, l)
	fpush, fdns := freeTCPPort(t), freeTCPPort(t)
	cfg := writeFile(t, dir, "haproxy.cfg", hapConfig("    stats socket "+sock+" mode 600 level admin\n",
		hapResolvers(dnsAddr, "1s", ""),
		hapProxy("fe", "be", fpush, fmt.Sprintf("    server-template rgap 1-8 0.0.0.0:%d disabled\n", bport)),
		hapProxy("fe_dns", "be_dns", fdns, fmt.Sprintf("    server-template dns 1-8 %s:%d resolvers rgap init-addr none\n", hapName, bport))))
	hpxStart(t, bin, cfg, fpush, nil)
	l.waitLog(10*time.Second, "the output reached HAProxy", msgIs("HAProxy reachable again"))

	key := groupKey(t, psk1)
	conn := dialListener(t, lport)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	// reach polls front until the backend addr answers and returns how long
	// after t0 that was; -1 after 10 s.
	reach := func(front, addr string, t0 time.Time) time.Duration {
		for time.Since(t0) < 10*time.Second {
			if name, err := hapGet(client, front); err == nil && name == addr {
				return time.Since(t0)
			}
		}
		return -1
	}
	var push, viaDNS []time.Duration
	for _, a := range addrs {
		now := time.Now().UnixMicro()
		toPush := key.Append(nil, protocol.Announcement{Group: 1000, Timestamp: now, Addr: netip.MustParseAddr(a)})
		toDNS := key.Append(nil, protocol.Announcement{Group: 1001, Timestamp: now, Addr: netip.MustParseAddr(a)})
		var dp, dd time.Duration
		var wg sync.WaitGroup
		t0 := time.Now()
		if _, err := conn.Write(toPush); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(toDNS); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { dp = reach(fmt.Sprintf("http://127.0.0.1:%d/", fpush), a, t0) })
		wg.Go(func() { dd = reach(fmt.Sprintf("http://127.0.0.1:%d/", fdns), a, t0) })
		wg.Wait()
		if dp < 0 || dd < 0 {
			t.Fatalf("%s not reached within 10s (push %v, dns %v)", a, dp, dd)
		}
		push, viaDNS = append(push, dp), append(viaDNS, dd)
		// The push member expires meanwhile; the random part spreads the
		// joins over the phases of HAProxy's 1 s resolution period.
		time.Sleep(600*time.Millisecond + rand.N(time.Second))
	}
	for _, r := range []struct {
		name string
		d    []time.Duration
	}{{"haproxy output (push)", push}, {"dns output + resolvers (hold valid 1s)", viaDNS}} {
		s := spreadOf(r.d)
		t.Logf("announcement -> HAProxy routes to the new backend, %s, %d joins: min %v median %v p99 %v max %v",
			r.name, len(r.d), s.min, s.median, s.p99, s.max)
	}
	l.stop(10 * time.Second)
}
