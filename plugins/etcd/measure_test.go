package etcd

import (
	"net/netip"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rgap-project/rgap/plugins/etcd/etcdtest"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// The figures of issue 12, measured against a real etcd on loopback. They
// are measurements, not assertions: skipped unless RGAP_MEASURE=1, they
// print min/median/max over their runs.
//
//	RGAP_MEASURE=1 go test -run TestMeasure -v -count=1 ./plugins/etcd/

func measure(t *testing.T) {
	if os.Getenv("RGAP_MEASURE") != "1" {
		t.Skip("a measurement: set RGAP_MEASURE=1 to run it")
	}
}

// nthAddr is the n-th address of 10.0.0.0/8 from 10.0.0.1 on.
func nthAddr(n int) netip.Addr {
	n++
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

func stats(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return "min " + s[0].Round(time.Millisecond).String() + " / median " + s[len(s)/2].Round(time.Millisecond).String() +
		" / max " + s[len(s)-1].Round(time.Millisecond).String()
}

// TestMeasureColdStart: 10,000 members of a ready group reach an output
// whose keys are not in etcd yet; how long until a watcher saw every key.
func TestMeasureColdStart(t *testing.T) {
	measure(t)
	f := newFixture(t)
	const n = 10000
	members := make([]sdk.Member, n)
	for i := range members {
		members[i] = sdk.Member{Addr: nthAddr(i), Expires: time.Now().Add(time.Hour)}
	}
	var took []time.Duration
	var txns []float64
	for run := range 5 {
		instance := "cold" + string(rune('a'+run))
		puts := etcdtest.WatchPuts(t, f.cli, "/rgap/groups/7/")
		h := f.start(t, instance, "", 7)
		h.Sync()
		time.Sleep(200 * time.Millisecond) // connected, lease granted, first (empty) reconcile done
		before := h.Metrics()[`requests_total{request="txn"}`]
		start := time.Now()
		h.Snapshot(sdktest.GroupState{ID: 7, Ready: true, Members: members})
		puts.WaitCount(t, n+1, 60*time.Second)
		d := time.Since(start)
		took = append(took, d)
		txns = append(txns, h.Metrics()[`requests_total{request="txn"}`]-before)
		h.Stop()
		t.Logf("run %d: %d keys visible to a watcher %v after the snapshot, %v transactions", run, n+1, d.Round(time.Millisecond), txns[run])
	}
	t.Logf("cold start, %d members: %s (goal ≤ 2s); transactions per run %v", n, stats(took), txns)
}

// TestMeasureJoinRate: joins at 1,000/s for 3 s; the requests per second the
// output sends, and the lag from the join reaching the plugin to a watcher
// seeing its key.
func TestMeasureJoinRate(t *testing.T) {
	measure(t)
	f := newFixture(t)
	const rate, secs = 1000, 3
	var p50s, p99s []time.Duration
	var reqRates, joinRates []float64
	for run := range 3 {
		instance := "rate" + string(rune('a'+run))
		prefix := "/rgap/groups/7/members/" + instance + "/"
		puts := etcdtest.WatchPuts(t, f.cli, prefix)
		h := f.start(t, instance, "", 7)
		h.Ready(7)
		h.Sync()
		time.Sleep(300 * time.Millisecond)
		m0 := h.Metrics()
		sent := make([]time.Time, rate*secs)
		start := time.Now()
		for i := range sent {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
				time.Sleep(d)
			}
			sent[i] = time.Now()
			h.Join(7, nthAddr(run*100000+i), time.Now().Add(time.Hour))
		}
		sendTook := time.Since(start)
		puts.WaitCount(t, len(sent), 30*time.Second)
		elapsed := time.Since(start)
		m1 := h.Metrics()
		var lags []time.Duration
		for i, at := range sent {
			seen, ok := puts.At(prefix + nthAddr(run*100000+i).String())
			if !ok {
				t.Fatalf("key of join %d never seen", i)
			}
			lags = append(lags, seen.Sub(at))
		}
		slices.Sort(lags)
		p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
		reqs := 0.0
		for _, k := range []string{"txn", "range", "grant"} {
			key := `requests_total{request="` + k + `"}`
			reqs += m1[key] - m0[key]
		}
		p50s, p99s = append(p50s, p50), append(p99s, p99)
		reqRates = append(reqRates, reqs/elapsed.Seconds())
		joinRates = append(joinRates, float64(len(sent))/sendTook.Seconds())
		h.Stop()
		t.Logf("run %d: %d joins at %.0f/s; %.0f requests/s to etcd; lag p50 %v p99 %v max %v", run, len(sent),
			joinRates[run], reqRates[run], p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), lags[len(lags)-1].Round(time.Millisecond))
	}
	t.Logf("1000 joins/s: requests/s %s; lag p50 %s; lag p99 %s", fstats(reqRates), stats(p50s), stats(p99s))
}

func fstats(v []float64) string {
	s := slices.Clone(v)
	slices.Sort(s)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) }
	return "min " + f(s[0]) + " / median " + f(s[len(s)/2]) + " / max " + f(s[len(s)-1])
}
