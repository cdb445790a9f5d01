package propagation

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/rgap-project/rgap/bench/internal/listenerlog"
	"github.com/rgap-project/rgap/bench/internal/propagation/record"
	"github.com/rgap-project/rgap/bench/internal/traffic"
	"github.com/rgap-project/rgap/internal/golden"
)

func TestListenerConfigGolden(t *testing.T) {
	cfg := listenerConfig(1, `out: "/tmp/x/joins-1.bin"`, "mode: join", "capacity: 22024")
	cfg.Listen = netip.MustParseAddrPort("127.0.0.1:28417") // listener.Start sets it
	golden.Check(t, filepath.Join("testdata", "listener.yaml.golden"), "listener.yaml.golden", cfg.YAML("propagation"))
}

func TestPair(t *testing.T) {
	a, b, c := traffic.Addr(0), traffic.Addr(1), traffic.Addr(2)
	w := traffic.Addr(warmupBase)
	stranger := netip.MustParseAddr("192.0.2.1")
	recs := []record.Join{
		{Addr: w, At: 5},         // warm-up: ignored
		{Addr: b, At: 1_300},     // 300 ns after it was sent
		{Addr: a, At: 1_900},     // 1,000 ns
		{Addr: b, At: 9_000},     // a second join of b: duplicate
		{Addr: stranger, At: 10}, // never sent
	}
	var r joinRound
	r.pair(recs, []netip.Addr{a, b, c}, []int64{900, 1_000, 1_100}, []netip.Addr{w})
	if r.Seen != 2 || r.Duplicates != 1 || r.Unknown != 1 {
		t.Errorf("seen %d, duplicates %d, unknown %d; want 2, 1, 1 (c never arrived)", r.Seen, r.Duplicates, r.Unknown)
	}
	if want := []time.Duration{300, 1_000}; len(r.Latencies) != 2 || r.Latencies[0] != want[0] || r.Latencies[1] != want[1] {
		t.Errorf("latencies %v, want sorted %v", r.Latencies, want)
	}
}

// fakeJoinRounds are two rounds of the listener with known latencies.
func fakeJoinRounds(listenerP99 time.Duration, seen int) []joinRound {
	lat := func(p99 time.Duration) []time.Duration {
		out := make([]time.Duration, 100)
		for i := range out {
			out[i] = time.Duration(i+1) * time.Microsecond
		}
		out[98], out[99] = p99, p99+time.Millisecond
		return out
	}
	var rs []joinRound
	for round := 1; round <= 2; round++ {
		rs = append(rs,
			joinRound{Round: round, Path: pathListener, Sent: 100, Seen: seen, Latencies: lat(listenerP99 * time.Duration(round)),
				SendTime: time.Second, OtherCPU: 150 * time.Millisecond,
				Totals: listenerlog.Totals{Received: 110, Accepted: 110, Joined: 110}},
		)
	}
	return rs
}

func TestEvaluateJoins(t *testing.T) {
	tests := []struct {
		name           string
		p99            time.Duration
		seen           int
		latency, count bool
	}{
		{"fast and complete", 900 * time.Microsecond, 100, true, true},
		{"slow", 2 * time.Millisecond, 100, false, true}, // rounds of 2 and 4 ms: median 3 ms
		{"lost joins", 900 * time.Microsecond, 99, true, false},
	}
	for _, tt := range tests {
		v := evaluateJoins(fakeJoinRounds(tt.p99, tt.seen))
		if v.latencyPass != tt.latency || v.countPass != tt.count || v.pass() != (tt.latency && tt.count) {
			t.Errorf("%s: latency %v count %v, want %v %v (%+v)", tt.name, v.latencyPass, v.countPass, tt.latency, tt.count, v)
		}
	}
}

func TestJoinReportGolden(t *testing.T) {
	rs := fakeJoinRounds(3*time.Millisecond, 100)
	opts := joinOptions{rounds: 2, events: 100, warmup: 10, rate: 10_000}
	var buf bytes.Buffer
	if err := writeJoinReport(&buf, "bin/rgap", opts, rs, evaluateJoins(rs)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "join-report.golden"), "join-report.golden", buf.Bytes())
}

func fakeSnapshotRun(startToComplete time.Duration, sizeErrors []string) snapshotRun {
	run := snapshotRun{Members: 100_000, FillPasses: 1, FillTime: 2 * time.Second, SizeErrors: sizeErrors,
		Totals: listenerlog.Totals{Received: 100_000, Accepted: 100_000, Joined: 100_000}}
	for i := range 3 {
		run.Rounds = append(run.Rounds, snapshotRound{
			Round: i + 1, PID: 1000 + i, Members: 100_000,
			Backoff: 100 * time.Millisecond << i, Fork: 110 * time.Millisecond << i,
			Start: startToComplete + time.Duration(i)*time.Millisecond,
		})
	}
	return run
}

func TestEvaluateSnapshots(t *testing.T) {
	tests := []struct {
		name        string
		start       time.Duration
		sizeErrors  []string
		joined      uint64
		timeOK, ok  bool
		sizeOK, fOK bool
	}{
		{"fast", 200 * time.Millisecond, nil, 100_000, true, true, true, true},
		{"slow", 600 * time.Millisecond, nil, 100_000, false, false, true, true},
		{"size error", 200 * time.Millisecond, []string{"ResourceExhausted"}, 100_000, true, false, false, true},
		{"short fill", 200 * time.Millisecond, nil, 99_999, true, false, true, false},
	}
	for _, tt := range tests {
		run := fakeSnapshotRun(tt.start, tt.sizeErrors)
		run.Totals.Joined = tt.joined
		v := evaluateSnapshots(run)
		if v.timePass != tt.timeOK || v.sizePass != tt.sizeOK || v.fillPass != tt.fOK || v.pass() != tt.ok {
			t.Errorf("%s: time %v size %v fill %v pass %v; want %v %v %v %v", tt.name,
				v.timePass, v.sizePass, v.fillPass, v.pass(), tt.timeOK, tt.sizeOK, tt.fOK, tt.ok)
		}
	}
}

func TestSnapshotReportGolden(t *testing.T) {
	run := fakeSnapshotRun(600*time.Millisecond, []string{`{"@message":"output plugin failed; restarting","error":"ResourceExhausted"}`})
	opts := snapshotOptions{rounds: 3, members: 100_000, fillRate: 50_000}
	var buf bytes.Buffer
	if err := writeSnapshotReport(&buf, "bin/rgap", opts, run, evaluateSnapshots(run)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "snapshot-report.golden"), "snapshot-report.golden", buf.Bytes())
}
