package dns

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/internal/golden"
)

// testRuns are two rounds: rgap at 0.95 then 0.85 of bare.
func testRuns() []perfRun {
	run := func(round int, server string, qps float64, lost uint64, codes map[string]uint64, cpu, other time.Duration) perfRun {
		return perfRun{Round: round, Server: server, Wall: 10 * time.Second, ServerCPU: cpu, OtherCPU: other,
			perfResult: perfResult{QPS: qps, Sent: uint64(qps * 10), Lost: lost,
				Codes: codes}}
	}
	return []perfRun{
		run(1, kindBare, 100_000, 0, map[string]uint64{"NOERROR": 1_000_000}, 9900*time.Millisecond, 0),
		run(1, kindRGAP, 95_000, 3, map[string]uint64{"NOERROR": 949_997}, 9950*time.Millisecond, 100*time.Millisecond),
		run(2, kindRGAP, 68_000, 0, map[string]uint64{"NOERROR": 680_000}, 7*time.Second, 2*time.Second),
		run(2, kindBare, 80_000, 1, map[string]uint64{"NOERROR": 799_999}, 9900*time.Millisecond, 0),
	}
}

func TestEvaluateThroughput(t *testing.T) {
	v := evaluateThroughput(testRuns())
	if math.Abs(v.Ratios[1]-0.95) > 1e-9 || math.Abs(v.Ratios[2]-0.85) > 1e-9 {
		t.Errorf("ratios = %v, want round 1: 0.95, round 2: 0.85", v.Ratios)
	}
	// Medians: bare 90,000, rgap 81,500.
	if math.Abs(v.Ratio-81_500.0/90_000) > 1e-9 || !v.pass() {
		t.Errorf("ratio = %v pass %v, want %v and PASS", v.Ratio, v.pass(), 81_500.0/90_000)
	}
	if v.Shared != 1 {
		t.Errorf("shared %d, want 1", v.Shared)
	}

	slow := testRuns()
	slow[2].QPS = 40_000
	if v := evaluateThroughput(slow); v.pass() {
		t.Errorf("rgap median 67,500 vs bare 90,000 passed with ratio %v", v.Ratio)
	}
	wrong := testRuns()
	wrong[1].Codes = map[string]uint64{"NOERROR": 900_000, "SERVFAIL": 49_997}
	if v := evaluateThroughput(wrong); v.pass() || v.NotNoError[kindRGAP] != 49_997 {
		t.Errorf("SERVFAIL answers passed (not_noerror %v)", v.NotNoError)
	}
}

func TestEvaluateLatency(t *testing.T) {
	var samples []sample
	for i := range 99 {
		samples = append(samples, sample{Latency: time.Duration(i+1) * 10 * time.Microsecond})
	}
	samples = append(samples, sample{Lost: true})
	v := evaluateLatency(samples)
	if v.N != 100 || v.Lost != 1 || v.P50 != 500*time.Microsecond || v.P99 != 990*time.Microsecond || v.Max != lostLatency {
		t.Errorf("got %+v; want p50 0.5ms, p99 0.99ms, max = lost", v)
	}
	if !v.pass() {
		t.Errorf("pass %v; want PASS (one lost sample in 100 is beyond p99)", v.pass())
	}
	v = evaluateLatency(append(samples, sample{Lost: true}))
	if v.P99 != lostLatency || v.pass() {
		t.Errorf("two lost samples in 101: p99 %v pass %v, want lost and FAIL", v.P99, v.pass())
	}
	if v := evaluateLatency(nil); v.pass() {
		t.Error("no samples passed")
	}
}

func TestReports(t *testing.T) {
	var b bytes.Buffer
	runs := testRuns()
	if err := writeThroughputReport(&b, options{Common: harness.Common{Rounds: 2}, duration: 10 * time.Second, outstanding: 200, clientCPU: 0, serverCPU: 1}, runs, evaluateThroughput(runs)); err != nil {
		t.Fatal(err)
	}
	var samples []sample
	for i := range 200 {
		samples = append(samples, sample{Latency: time.Duration(200+i*i) * time.Microsecond})
	}
	if err := writeLatencyReport(&b, options{samples: 200, warmup: 10}, 5, evaluateLatency(samples)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "report.golden"), "report.golden", b.Bytes())
}
