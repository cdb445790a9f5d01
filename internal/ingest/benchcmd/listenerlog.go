package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Messages of the listener's JSON log (go-hclog: "@message" holds the
// message, the key/value pairs are top-level keys) that the orchestrator
// reads.
const (
	msgListening    = "listening"
	msgIngestTotals = "ingest totals"
)

// errTotals marks an "ingest totals" line that lacks a counter or holds
// one that is not an unsigned integer.
var errTotals = errors.New("malformed ingest totals")

// dropReasons are the listener's drop counters, in the order of its checks;
// each is logged as "dropped_" + reason.
var dropReasons = []string{"length", "version", "unknown_group", "bad_mac", "clock_skew"}

// ingestTotals are the listener's counters, logged once at shutdown.
type ingestTotals struct {
	// Received is datagrams read from its sockets.
	Received uint64
	// Accepted is announcements that passed every check.
	Accepted uint64
	// Dropped holds the datagrams refused, by reason, in dropReasons order.
	Dropped []uint64
}

// droppedTotal adds up the drop counters.
func (t ingestTotals) droppedTotal() uint64 {
	var sum uint64
	for _, d := range t.Dropped {
		sum += d
	}
	return sum
}

// logLine is one decoded JSON log line.
type logLine struct {
	Message string
	Fields  map[string]json.RawMessage
}

// parseLogLine decodes a JSON log line; ok is false for anything else (a
// text line, a panic trace), which the caller keeps only for diagnostics.
func parseLogLine(line []byte) (logLine, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return logLine{}, false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return logLine{}, false
	}
	var msg string
	if raw, ok := fields["@message"]; !ok || json.Unmarshal(raw, &msg) != nil {
		return logLine{}, false
	}
	return logLine{Message: msg, Fields: fields}, true
}

// totals reads the counters of an "ingest totals" line.
func (l logLine) totals() (ingestTotals, error) {
	if l.Message != msgIngestTotals {
		return ingestTotals{}, fmt.Errorf("%w: message is %q, want %q", errTotals, l.Message, msgIngestTotals)
	}
	var t ingestTotals
	var err error
	if t.Received, err = l.uint("received"); err != nil {
		return ingestTotals{}, err
	}
	if t.Accepted, err = l.uint("accepted"); err != nil {
		return ingestTotals{}, err
	}
	t.Dropped = make([]uint64, len(dropReasons))
	for i, r := range dropReasons {
		if t.Dropped[i], err = l.uint("dropped_" + r); err != nil {
			return ingestTotals{}, err
		}
	}
	return t, nil
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

// str returns the string logged under key, or "" when there is none.
func (l logLine) str(key string) string {
	var s string
	if raw, ok := l.Fields[key]; ok {
		_ = json.Unmarshal(raw, &s) // a non-string leaves s empty
	}
	return s
}

// listenerConfig is the configuration the orchestrator gives the listener:
// the bench group on 127.0.0.1:port, no outputs, and a receive buffer large
// enough to ride out scheduling hiccups at full rate.
func listenerConfig(port uint16) string {
	return fmt.Sprintf(`# Written by internal/ingest/benchcmd for one measurement.
listen:
  - 127.0.0.1:%d
groups:
  - id: %d
    psk: %s
    expire: %s
receive_buffer: %d
`, port, benchGroup, benchPSK, benchExpire, listenerReceiveBuffer)
}
