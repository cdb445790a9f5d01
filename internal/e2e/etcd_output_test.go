package e2e

// End-to-end tests of the etcd output: the real listener, the
// rgap-plugin-etcd executable built from plugins/etcd/cmd found in a plugins
// directory, agents announcing, and a real etcd server (Debian's etcd-server;
// the tests are skipped, saying so, when it is not installed).

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
	"github.com/rgap-project/rgap/plugins/etcd/etcdtest"
)

// etcdPluginDir builds rgap-plugin-etcd into a new plugins directory.
func etcdPluginDir(t *testing.T) string {
	t.Helper()
	dir := plugDir(t)
	plugBuild(t, "github.com/rgap-project/rgap/plugins/etcd/cmd/rgap-plugin-etcd", filepath.Join(dir, "rgap-plugin-etcd"))
	return dir
}

// etcdOutput configures an etcd output for instance with lease_ttl ttl.
func etcdOutput(endpoint, instance, ttl string) string {
	return fmt.Sprintf("  - kind: etcd\n    spec:\n      endpoints: [%s]\n      instance: %s\n      lease_ttl: %s\n", endpoint, instance, ttl)
}

// etcdWaitKeys waits until the keys under prefix are exactly want (sorted,
// one per line), returning how long that took.
func etcdWaitKeys(t *testing.T, srv *etcdtest.Server, prefix, want string, timeout time.Duration) time.Duration {
	t.Helper()
	cli := srv.Client()
	start := time.Now()
	var got string
	for time.Since(start) < timeout {
		got = strings.Join(etcdtest.Keys(t, cli, prefix), "\n")
		if got == want {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("keys under %s after %v:\n%s\nwant:\n%s", prefix, timeout, got, want)
	return 0
}

// TestEtcdOutputSIGKILL: the keys of a listener killed with SIGKILL vanish
// within lease_ttl + 1 s, whether its etcd plugin process gets the chance to
// revoke its lease (only the listener killed: the plugin sees its parent
// gone and stops) or not (the plugin killed too, at the same moment: only
// the lease's expiry removes them).
func TestEtcdOutputSIGKILL(t *testing.T) {
	srv := etcdtest.Start(t)
	dir := etcdPluginDir(t)
	for _, killPlugin := range []bool{false, true} {
		t.Run(fmt.Sprintf("plugin_killed=%v", killPlugin), func(t *testing.T) {
			port := freeUDPPort(t, "udp4", "127.0.0.1")
			l := plugListener(t, plugConfig(port, "5s", "", etcdOutput(srv.Endpoint(), "lb1", "2s")), nil, "--plugins-dir", dir)
			running := plugWaitPlugins(t, l, 15*time.Second, nil, "etcd")
			plugKillOnCleanup(t, running["etcd"])
			plugAgent(t, port, "127.0.0.11")
			plugAgent(t, port, "127.0.0.12")
			etcdWaitKeys(t, srv, "/rgap/", "/rgap/groups/1000/members/lb1/127.0.0.11\n/rgap/groups/1000/members/lb1/127.0.0.12\n/rgap/groups/1000/ready/lb1", 15*time.Second)

			if err := l.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if killPlugin {
				if err := syscall.Kill(running["etcd"].pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			took := etcdWaitKeys(t, srv, "/rgap/", "", 3*time.Second) // lease_ttl + 1s
			t.Logf("keys gone %v after the SIGKILL", took.Round(time.Millisecond))
		})
	}
}

// TestEtcdOutputTwoListeners: two listeners with different instances
// publish the same group side by side; stopping one removes only its keys.
func TestEtcdOutputTwoListeners(t *testing.T) {
	srv := etcdtest.Start(t)
	dir := etcdPluginDir(t)
	port1 := freeUDPPort(t, "udp4", "127.0.0.1")
	port2 := freeUDPPort(t, "udp4", "127.0.0.1")
	l1 := plugListener(t, plugConfig(port1, "5s", "", etcdOutput(srv.Endpoint(), "lb1", "10s")), nil, "--plugins-dir", dir)
	l2 := plugListener(t, plugConfig(port2, "5s", "", etcdOutput(srv.Endpoint(), "lb2", "10s")), nil, "--plugins-dir", dir)
	plugAgent(t, port1, "127.0.0.21")
	plugAgent(t, port2, "127.0.0.22")
	plugAgent(t, port2, "127.0.0.23")
	etcdWaitKeys(t, srv, "/rgap/", strings.Join([]string{
		"/rgap/groups/1000/members/lb1/127.0.0.21",
		"/rgap/groups/1000/members/lb2/127.0.0.22",
		"/rgap/groups/1000/members/lb2/127.0.0.23",
		"/rgap/groups/1000/ready/lb1",
		"/rgap/groups/1000/ready/lb2",
	}, "\n"), 15*time.Second)
	l2.stop(10 * time.Second)
	etcdWaitKeys(t, srv, "/rgap/", "/rgap/groups/1000/members/lb1/127.0.0.21\n/rgap/groups/1000/ready/lb1", 5*time.Second)
	l1.stop(10 * time.Second)
	plugNoCrash(t, l1)
	plugNoCrash(t, l2)
}

// etcdMeasureListener starts a listener with group 1000 (psk1, expire 10m,
// readiness_delay ready), an etcd output (instance lb1) as output 0 and
// metrics, and returns it, the UDP socket to announce on and the metrics
// URL.
func etcdMeasureListener(t *testing.T, srv *etcdtest.Server, ready string) (*proc, net.Conn, string) {
	t.Helper()
	dir := etcdPluginDir(t)
	lport := freeUDPPort(t, "udp4", "127.0.0.1")
	hport := freeTCPPort(t)
	l := plugListener(t, fmt.Sprintf(`listen: [127.0.0.1:%d]
http_listen: 127.0.0.1:%d
groups:
  - id: 1000
    psk: %s
    expire: 10m
    readiness_delay: %s
outputs:
`, lport, hport, psk1, ready)+etcdOutput(srv.Endpoint(), "lb1", "10s"), nil, "--plugins-dir", dir)
	return l, dialListener(t, lport), fmt.Sprintf("http://127.0.0.1:%d/metrics", hport)
}

// etcdSigner signs protocol-2 announcements for group 1000 with psk1.
func etcdSigner(t *testing.T) func(dst []byte, addr netip.Addr) []byte {
	t.Helper()
	key := groupKey(t, psk1)
	return func(dst []byte, addr netip.Addr) []byte {
		return key.Append(dst[:0], protocol.Announcement{Version: protocol.VersionV2, Group: 1000,
			Timestamp: time.Now().UnixMicro(), Addr: addr, Port: 8080, Weight: 1})
	}
}

// etcdNthAddr is the n-th address of 10.0.0.0/8 from 10.0.0.1 on.
func etcdNthAddr(n int) netip.Addr {
	n++
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// etcdRequests sums the etcd output's requests_total series (txn, range,
// grant, revoke) in the listener's /metrics.
func etcdRequests(t *testing.T, url string) float64 {
	t.Helper()
	body := metricsPoll(t, url, 10*time.Second, "the etcd output's series", func(code int, body string) bool {
		return code == http.StatusOK && strings.Contains(body, `rgap_output_etcd_requests_total{`)
	})
	sum := 0.0
	for _, r := range []string{"txn", "range", "grant", "revoke"} {
		sum += metricsValue(t, body, fmt.Sprintf(`rgap_output_etcd_requests_total{kind="etcd",output="0",request=%q}`, r))
	}
	return sum
}

// etcdDurStats is "min X / median Y / max Z" of ds.
func etcdDurStats(ds []time.Duration) string {
	s := spreadOf(ds)
	r := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	return "min " + r(s.min) + " / median " + r(s.median) + " / max " + r(s.max)
}

// TestEtcdOutputJoinRateMeasure: through the real listener and the
// rgap-plugin-etcd executable, signed protocol-2 announcements of new
// members at 1,000 per second for 3 s (three runs); the requests per second
// the etcd output sends (its requests_total on the listener's /metrics) and
// the lag from a datagram's send to a watcher seeing its key. It prints
// min/median/max over the runs and asserts nothing about time; it runs only
// with RGAP_MEASURE=1:
//
//	RGAP_MEASURE=1 go test -count=1 -run TestEtcdOutputJoinRateMeasure -v ./internal/e2e/
func TestEtcdOutputJoinRateMeasure(t *testing.T) {
	measureOnly(t)
	srv := etcdtest.Start(t)
	const prefix = "/rgap/groups/1000/members/lb1/"
	puts := etcdtest.WatchPuts(t, srv.Client(), prefix)
	l, conn, metrics := etcdMeasureListener(t, srv, "0s")
	sign := etcdSigner(t)
	etcdWaitKeys(t, srv, "/rgap/", "/rgap/groups/1000/ready/lb1", 20*time.Second)

	const rate, secs, runs = 1000, 3, 3
	var p50s, p99s, maxes []time.Duration
	var reqRates []float64
	var buf []byte
	total := 0
	for run := range runs {
		r0 := etcdRequests(t, metrics)
		sent := make([]time.Time, rate*secs)
		start := time.Now()
		for i := range sent {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
				time.Sleep(d)
			}
			buf = sign(buf, etcdNthAddr(run*100000+i))
			sent[i] = time.Now()
			if _, err := conn.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		sendTook := time.Since(start)
		total += len(sent)
		puts.WaitCount(t, total, 30*time.Second)
		elapsed := time.Since(start)
		reqs := etcdRequests(t, metrics) - r0
		lags := make([]time.Duration, 0, len(sent))
		for i, at := range sent {
			seen, ok := puts.At(prefix + etcdNthAddr(run*100000+i).String() + ":8080")
			if !ok {
				t.Fatalf("run %d: the key of join %d was never seen", run, i)
			}
			lags = append(lags, seen.Sub(at))
		}
		lag := spreadOf(lags)
		p50, p99, mx := lag.median, lag.p99, lag.max
		p50s, p99s, maxes = append(p50s, p50), append(p99s, p99), append(maxes, mx)
		reqRates = append(reqRates, reqs/elapsed.Seconds())
		t.Logf("run %d: %d joins in %v (%.0f/s); %.0f requests to etcd (%.0f/s); lag p50 %v p99 %v max %v", run, len(sent),
			sendTook.Round(time.Millisecond), float64(len(sent))/sendTook.Seconds(), reqs, reqRates[run],
			p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), mx.Round(100*time.Microsecond))
	}
	s := spreadOf(reqRates)
	t.Logf("1000 joins/s through the listener, %d runs: etcd requests/s min %.0f / median %.0f / max %.0f; lag p50 %s; lag p99 %s; lag max %s",
		runs, s.min, s.median, s.max, etcdDurStats(p50s), etcdDurStats(p99s), etcdDurStats(maxes))
	l.stop(10 * time.Second)
	plugNoCrash(t, l)
}

// TestEtcdOutputColdStartMeasure: 10,000 members announced (signed
// protocol-2 datagrams, 10,000/s) to a listener during its group's 3 s
// readiness delay; the time from the group becoming ready (the listener's
// "group ready" log line, as the test reads it) to a watcher having seen
// all 10,000 member keys and the ready key, and the transactions the output
// sent. Three runs, each with a fresh etcd and listener. Only with
// RGAP_MEASURE=1:
//
//	RGAP_MEASURE=1 go test -count=1 -run TestEtcdOutputColdStartMeasure -v ./internal/e2e/
func TestEtcdOutputColdStartMeasure(t *testing.T) {
	measureOnly(t)
	const n, runs = 10000, 3
	var took []time.Duration
	for run := range runs {
		srv := etcdtest.Start(t)
		puts := etcdtest.WatchPuts(t, srv.Client(), "/rgap/groups/1000/")
		l, conn, metrics := etcdMeasureListener(t, srv, "3s")
		sign := etcdSigner(t)
		var buf []byte
		start := time.Now()
		for i := range n {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / 10000)); d > 0 {
				time.Sleep(d)
			}
			buf = sign(buf, etcdNthAddr(i))
			if _, err := conn.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		if puts.Count() != 0 {
			t.Fatalf("run %d: %d keys before the group is ready", run, puts.Count())
		}
		l.waitLog(10*time.Second, "the group ready", msgIs("group ready"))
		ready := time.Now()
		puts.WaitCount(t, n+1, 60*time.Second)
		d := time.Since(ready)
		took = append(took, d)
		body := metricsPoll(t, metrics, 10*time.Second, "metrics", func(code int, _ string) bool { return code == http.StatusOK })
		txns := metricsValue(t, body, `rgap_output_etcd_requests_total{kind="etcd",output="0",request="txn"}`)
		t.Logf("run %d: %d member keys and the ready key seen %v after the group became ready; %.0f transactions", run, n,
			d.Round(time.Millisecond), txns)
		l.stop(10 * time.Second)
		plugNoCrash(t, l)
		srv.Stop()
	}
	t.Logf("cold start through the listener, %d members, %d runs: %s (goal ≤ 2s)", n, runs, etcdDurStats(took))
}

// TestEtcdOutputV2LeaveAndWeight: protocol-2 agents through the real
// listener: each key names the member's port and its value carries the
// announced port and weight; an agent replaced (SIGKILL, no leave) by one
// announcing another weight gets its value rewritten; an agent stopped with
// SIGTERM (a leave) loses its key at once, while the group's expire is 30 s.
func TestEtcdOutputV2LeaveAndWeight(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client()
	dir := etcdPluginDir(t)
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	l := plugListener(t, plugConfig(port, "30s", "", etcdOutput(srv.Endpoint(), "lb1", "10s")), nil, "--plugins-dir", dir)
	a := plugV2Agent(t, port, "127.0.0.31", 8080, 10, "200ms")
	b := plugV2Agent(t, port, "127.0.0.32", 8080, 20, "200ms")
	const keyA, keyB = "/rgap/groups/1000/members/lb1/127.0.0.31:8080", "/rgap/groups/1000/members/lb1/127.0.0.32:8080"
	etcdWaitKeys(t, srv, "/rgap/", keyA+"\n"+keyB+"\n/rgap/groups/1000/ready/lb1", 15*time.Second)
	weightOf := func(key string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := cli.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) == 0 {
			return "absent"
		}
		v := string(resp.Kvs[0].Value)
		if !strings.Contains(v, `"port":8080,`) {
			t.Errorf("%s = %s, want port 8080", key, v)
		}
		_, w, _ := strings.Cut(v, `"weight":`)
		w, _, _ = strings.Cut(w, ",")
		return w
	}
	if wa, wb := weightOf(keyA), weightOf(keyB); wa != "10" || wb != "20" {
		t.Fatalf("weights %s, %s; want the agents' 10 and 20", wa, wb)
	}

	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-b.done
	b = plugV2Agent(t, port, "127.0.0.32", 8080, 30, "200ms")
	deadline := time.Now().Add(5 * time.Second)
	for weightOf(keyB) != "30" {
		if time.Now().After(deadline) {
			t.Fatalf("%s has weight %s 5s after its agent announced 30", keyB, weightOf(keyB))
		}
		time.Sleep(20 * time.Millisecond)
	}

	sent := sigterm(t, a)
	etcdWaitKeys(t, srv, "/rgap/", keyB+"\n/rgap/groups/1000/ready/lb1", 2*time.Second)
	t.Logf("SIGTERM -> key gone within %v", time.Since(sent).Round(time.Millisecond))
	waitExit(t, a)
	b.stop(5 * time.Second)
	l.stop(10 * time.Second)
	plugNoCrash(t, l)
}
