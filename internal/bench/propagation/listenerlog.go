package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Messages of the listener's JSON log (go-hclog: "@message" holds the
// message, key/value pairs are top-level keys) that the orchestrator reads.
const (
	msgListening    = "listening"
	msgIngestTotals = "ingest totals"
	// msgPluginRunning is logged once by benchplugin's Run, re-emitted by
	// the listener: the plugin applied its first snapshot.
	msgPluginRunning = "bench plugin running"
	// msgJoinsWritten is logged by benchplugin in join mode when it
	// stopped, with its garbage collection counters.
	msgJoinsWritten = "bench plugin wrote its join records"
)

// gcTraceLines counts the Go runtime's GODEBUG=gctrace=1 lines ("gc 12
// @3.1s 2%: ...") among lines, one per garbage collection.
func gcTraceLines(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "gc ") && strings.Contains(l, " @") {
			n++
		}
	}
	return n
}

// errTotals marks an "ingest totals" line that lacks a counter or holds
// one that is not an unsigned integer.
var errTotals = errors.New("malformed ingest totals")

// logLine is one decoded JSON log line.
type logLine struct {
	Message string
	Fields  map[string]json.RawMessage
}

// parseLogLine decodes a JSON log line; ok is false for anything else (a
// text line, a panic trace).
func parseLogLine(line string) (logLine, bool) {
	b := bytes.TrimSpace([]byte(line))
	if len(b) == 0 || b[0] != '{' {
		return logLine{}, false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return logLine{}, false
	}
	var msg string
	if raw, ok := fields["@message"]; !ok || json.Unmarshal(raw, &msg) != nil {
		return logLine{}, false
	}
	return logLine{Message: msg, Fields: fields}, true
}

// str returns the string logged under key, or "" when there is none.
func (l logLine) str(key string) string {
	var s string
	if raw, ok := l.Fields[key]; ok {
		_ = json.Unmarshal(raw, &s) // a non-string leaves s empty
	}
	return s
}

// uint returns the unsigned integer logged under key.
func (l logLine) uint(key string) (uint64, error) {
	raw, ok := l.Fields[key]
	if !ok {
		return 0, fmt.Errorf("%w: no key %q", errTotals, key)
	}
	var v uint64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("%w: key %q: want an unsigned integer, got %s", errTotals, key, raw)
	}
	return v, nil
}

// ingestTotals are the listener's counters, logged once at shutdown.
type ingestTotals struct {
	// Received is datagrams read from the sockets.
	Received uint64
	// Accepted is announcements that passed every check; Joined of them
	// added a member, the rest refreshed one.
	Accepted, Joined uint64
	// Dropped adds up every drop reason.
	Dropped uint64
}

// dropReasons are the listener's drop counters, each logged as
// "dropped_" + reason.
var dropReasons = []string{"length", "version", "unknown_group", "bad_mac", "clock_skew"}

// totals reads the counters of an "ingest totals" line.
func (l logLine) totals() (ingestTotals, error) {
	if l.Message != msgIngestTotals {
		return ingestTotals{}, fmt.Errorf("%w: message is %q, want %q", errTotals, l.Message, msgIngestTotals)
	}
	var t ingestTotals
	var err error
	for _, f := range []struct {
		key string
		dst *uint64
	}{{"received", &t.Received}, {"accepted", &t.Accepted}, {"joined", &t.Joined}} {
		if *f.dst, err = l.uint(f.key); err != nil {
			return ingestTotals{}, err
		}
	}
	for _, r := range dropReasons {
		d, err := l.uint("dropped_" + r)
		if err != nil {
			return ingestTotals{}, err
		}
		t.Dropped += d
	}
	return t, nil
}

// messageSizeMarkers are what gRPC says when a message exceeds a size
// limit: the status code name, and the texts of grpc-go's "received
// message larger than max (N vs. M)" and "trying to send message larger
// than max".
var messageSizeMarkers = []string{"ResourceExhausted", "larger than max", "message too large"}

// messageSizeErrors returns the log lines that report a gRPC message-size
// error, whatever their level or shape (JSON or not).
func messageSizeErrors(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, m := range messageSizeMarkers {
			if strings.Contains(l, m) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}
