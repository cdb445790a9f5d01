package main

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestTotals(t *testing.T) {
	line := `{"@level":"info","@message":"ingest totals","@module":"rgap","@timestamp":"2026-11-25T00:05:05.604919Z","accepted":21000,"dropped_bad_mac":1,"dropped_clock_skew":2,"dropped_length":3,"dropped_unknown_group":4,"dropped_version":5,"joined":20000,"received":21015,"refreshed":1000,"truncated":0}`
	ll, ok := parseLogLine(line)
	if !ok {
		t.Fatal("not parsed")
	}
	got, err := ll.totals()
	if err != nil {
		t.Fatal(err)
	}
	if want := (ingestTotals{Received: 21015, Accepted: 21000, Joined: 20000, Dropped: 15}); got != want {
		t.Errorf("totals = %+v, want %+v", got, want)
	}
	if ts := ll.timestamp(); !ts.Equal(time.Date(2026, 11, 25, 0, 5, 5, 604919000, time.UTC)) {
		t.Errorf("timestamp = %v", ts)
	}

	for name, bad := range map[string]string{
		"no joined":     `{"@message":"ingest totals","accepted":1,"received":1}`,
		"negative":      `{"@message":"ingest totals","accepted":-1,"joined":0,"received":1}`,
		"other message": `{"@message":"listening"}`,
	} {
		ll, ok := parseLogLine(bad)
		if !ok {
			t.Fatalf("%s: not parsed", name)
		}
		if _, err := ll.totals(); !errors.Is(err, errTotals) {
			t.Errorf("%s: totals() = %v, want errTotals", name, err)
		}
	}
}

func TestParseLogLineIgnoresOtherOutput(t *testing.T) {
	for _, l := range []string{"", "gc 1 @0.01s 2%: ...", "panic: boom", `{"no":"message"}`, `{"@message":3}`, `{broken`} {
		if _, ok := parseLogLine(l); ok {
			t.Errorf("parseLogLine(%q) accepted it", l)
		}
	}
}

func TestDuration(t *testing.T) {
	ll, _ := parseLogLine(`{"@message":"output plugin failed; restarting","backoff":"200ms","ns":400000000,"bad":"soon"}`)
	for key, want := range map[string]time.Duration{"backoff": 200 * time.Millisecond, "ns": 400 * time.Millisecond, "bad": 0, "absent": 0} {
		if got := ll.duration(key); got != want {
			t.Errorf("duration(%q) = %v, want %v", key, got, want)
		}
	}
}

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
