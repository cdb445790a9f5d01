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
