package propagation

import (
	"slices"
	"testing"
)

func TestMessageSizeErrors(t *testing.T) {
	lines := []string{
		`{"@level":"info","@message":"listening"}`,
		`{"@level":"error","@message":"output plugin failed; restarting","error":"rpc error: code = ResourceExhausted desc = grpc: received message larger than max (5000000 vs. 4194304)"}`,
		`grpc: trying to send message larger than max`,
		`{"@level":"error","@message":"output plugin failed; restarting","error":"stream ended: EOF"}`,
	}
	if got, want := messageSizeErrors(lines), []string{lines[1], lines[2]}; !slices.Equal(got, want) {
		t.Errorf("messageSizeErrors = %q, want %q", got, want)
	}
}

func TestGCTraceLines(t *testing.T) {
	lines := []string{
		"gc 1 @0.012s 2%: 0.011+0.5+0.003 ms clock, 0.022+0/0.4/0.1+0.006 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P",
		`{"@message":"gc 2 @ is not a trace line"}`,
		"gc 2 @1.5s 1%: ...",
		"gcx 3 @2s",
	}
	if got := gcTraceLines(lines); got != 2 {
		t.Errorf("gcTraceLines = %d, want 2", got)
	}
}

func TestOutputTotals(t *testing.T) {
	lines := []string{
		`{"@level":"info","@message":"ingest totals","received":5}`,
		`{"@level":"info","@message":"output totals","output":0,"kind":"benchjoin","events":21000,"messages":4100,"heartbeats":0}`,
	}
	if got := outputTotals(lines); got != (streamTotals{Events: 21000, Messages: 4100}) {
		t.Errorf("outputTotals = %+v, want 21000 events in 4100 messages", got)
	}
	if got := outputTotals(lines[:1]); got != (streamTotals{}) {
		t.Errorf("outputTotals without the line = %+v, want zero", got)
	}
	bad := []string{`{"@message":"output totals","events":"many","messages":3}`}
	if got := outputTotals(bad); got != (streamTotals{}) {
		t.Errorf("outputTotals of a malformed line = %+v, want zero", got)
	}
}
