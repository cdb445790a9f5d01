package ingest

import (
	"bytes"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/internal/golden"
)

// sampleRuns are two rounds as the orchestrator records them: round 2 runs
// the listener first, and its listener loses datagrams.
func sampleRuns() []measurement {
	return []measurement{
		{Round: 1, Receiver: kindBare, Sent: 2_000_000, SendElapsed: 2 * time.Second, Received: 2_000_000, CPU: 1000 * time.Millisecond, OtherCPU: 50 * time.Millisecond, Drained: true},
		{Round: 1, Receiver: kindListener, Sent: 2_000_000, SendElapsed: 2 * time.Second, Received: 2_000_000, CPU: 1200 * time.Millisecond, Drained: true},
		{Round: 2, Receiver: kindListener, Sent: 2_000_000, SendElapsed: 2500 * time.Millisecond, Received: 1_999_000, Refused: 10, CPU: 1500 * time.Millisecond, OtherCPU: 300 * time.Millisecond, Drained: true},
		{Round: 2, Receiver: kindBare, Sent: 2_000_000, SendElapsed: 2 * time.Second, Received: 1_999_500, CPU: 1100 * time.Millisecond, Drained: false},
	}
}

// sampleRunsV2 are sampleRuns with a listener fed v2 traffic each round.
func sampleRunsV2() []measurement {
	ms := sampleRuns()
	return append(ms[:2:2],
		measurement{Round: 1, Receiver: listenerKind(2), Sent: 2_000_000, SendElapsed: 2 * time.Second, Received: 2_000_000, CPU: 1250 * time.Millisecond, Drained: true},
		ms[2],
		measurement{Round: 2, Receiver: listenerKind(2), Sent: 2_000_000, SendElapsed: 2 * time.Second, Received: 2_000_000, CPU: 1400 * time.Millisecond, Drained: true},
		ms[3])
}

func TestEvaluate(t *testing.T) {
	v := evaluate(sampleRuns())
	// Round 1: 600 ns / 500 ns; round 2: 1500/1.999 ns / 1100/1.9995 ns.
	want1, want2 := 1.2, (1.5e9/1_999_000)/(1.1e9/1_999_500)
	r := v.Ratios[kindListener]
	if len(v.Ratios) != 1 || len(r) != 2 || math.Abs(r[1]-want1) > 1e-9 || math.Abs(r[2]-want2) > 1e-9 {
		t.Fatalf("ratios = %v, want {listener: {1: %v, 2: %v}}", v.Ratios, want1, want2)
	}
	if math.Abs(v.Ratio[kindListener].Median-(want1+want2)/2) > 1e-9 {
		t.Errorf("median ratio = %v, want %v", v.Ratio[kindListener].Median, (want1+want2)/2)
	}
	if !math.IsNaN(v.V2.Median) {
		t.Errorf("v2/v1 = %v without v2 traffic, want NaN", v.V2)
	}
	if v.ListenerSent != 4_000_000 || v.ListenerDropped != 1000 || v.ListenerRefused != 10 || v.Undrained != 1 || v.Shared != 1 || v.BareDropped != 500 {
		t.Errorf("verdict = %+v; want 4M sent, 1000 dropped, 10 refused, 1 undrained, 1 shared (20%% other work; 5%% is not over the threshold), 500 bare drops", v)
	}
	if v.cpuPass() || v.dropPass() || v.pass() {
		t.Errorf("cpuPass %v dropPass %v, want both false (median ratio %v, drops)", v.cpuPass(), v.dropPass(), v.Ratio)
	}

	// With v2 traffic: each listener against the same round's bare
	// receiver, and v2 against v1 round by round.
	v = evaluate(sampleRunsV2())
	if got := v.Listeners; !slices.Equal(got, []string{"listener", "listener v2"}) {
		t.Fatalf("listeners %q, want listener and listener v2", got)
	}
	want2v2 := (1.4e9 / 2_000_000) / (1.1e9 / 1_999_500)
	if r := v.Ratios[listenerKind(2)]; math.Abs(r[1]-1.25) > 1e-9 || math.Abs(r[2]-want2v2) > 1e-9 {
		t.Errorf("v2 ratios = %v, want {1: 1.25, 2: %v}", r, want2v2)
	}
	if want := (1.25/want1 + want2v2/want2) / 2; math.Abs(v.V2.Median-want) > 1e-9 {
		t.Errorf("v2/v1 median = %v, want %v", v.V2.Median, want)
	}

	good := sampleRuns()[:2]
	v = evaluate(good)
	if !v.cpuPass() || !v.dropPass() || !v.pass() {
		t.Errorf("round 1 alone: cpuPass %v dropPass %v, want both true", v.cpuPass(), v.dropPass())
	}
	// Refused datagrams fail the drop goal even when none was lost.
	good[1].Refused = 1
	if evaluate(good).dropPass() {
		t.Error("dropPass with a refused datagram, want false")
	}
	// No listener run at all is no evidence of zero drops.
	if evaluate(good[:1]).dropPass() {
		t.Error("dropPass without a listener run, want false")
	}
}

func TestMeasurementRates(t *testing.T) {
	m := measurement{Sent: 1000, Received: 800, CPU: 400 * time.Microsecond, SendElapsed: time.Millisecond}
	if m.Dropped() != 200 || m.NsPerDatagram() != 500 || m.SendRate() != 1e6 {
		t.Errorf("dropped %d ns/dgram %v send rate %v; want 200, 500, 1e6",
			m.Dropped(), m.NsPerDatagram(), m.SendRate())
	}
	var zero measurement
	if zero.Dropped() != 0 || !math.IsNaN(zero.NsPerDatagram()) || !math.IsNaN(zero.SendRate()) {
		t.Errorf("zero measurement: %d %v %v; want 0 and NaNs", zero.Dropped(), zero.NsPerDatagram(), zero.SendRate())
	}
}

// TestReportGolden pins the report's layout: per-run rows, the spread per
// receiver, the per-round ratio and the verdict lines.
func TestReportGolden(t *testing.T) {
	ms := sampleRunsV2()
	var buf bytes.Buffer
	if err := writeReport(&buf, orchestrateOptions{Common: harness.Common{RGAP: "bin/rgap", Rounds: 2}, datagrams: 2_000_000, batch: 64, senderCPU: 0, receiverCPU: 1, protocols: []int{1, 2}}, ms, evaluate(ms)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "report.golden"), "report", buf.Bytes())
}
