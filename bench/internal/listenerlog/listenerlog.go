// Package listenerlog reads the JSON log of `rgap listener --log-format
// json` for the benchmark tools under internal/bench (never the product).
//
// The tools run the real binary and learn what it did only from its log:
// the "listening" line says the sockets are bound, and the "ingest totals"
// line at shutdown holds the counters the drop goals are judged on. The
// log is go-hclog's JSON: "@message" holds the message and the key/value
// pairs are top-level keys. Anything else on the stream (a text line, a
// panic trace, the Go runtime's gctrace) is not a Line and is kept by the
// caller only for diagnostics.
package listenerlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Messages of the listener's log that the tools read.
const (
	// MsgListening is logged once per bound socket, with "address".
	MsgListening = "listening"
	// MsgIngestTotals is logged once at shutdown with the counters of
	// Totals.
	MsgIngestTotals = "ingest totals"
)

// ErrMalformed marks a line that lacks a value the caller asked for, or
// holds one of the wrong type.
var ErrMalformed = errors.New("malformed log line")

// dropPrefix starts the key of every drop counter: "dropped_" + reason.
const dropPrefix = "dropped_"

// Line is one decoded JSON log line.
type Line struct {
	// Message is the "@message" value.
	Message string
	// Fields holds every key, "@message" included, undecoded.
	Fields map[string]json.RawMessage
}

// Parse decodes a JSON log line; ok is false for anything else.
func Parse(line string) (Line, bool) {
	b := bytes.TrimSpace([]byte(line))
	if len(b) == 0 || b[0] != '{' {
		return Line{}, false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return Line{}, false
	}
	var msg string
	if raw, ok := fields["@message"]; !ok || json.Unmarshal(raw, &msg) != nil {
		return Line{}, false
	}
	return Line{Message: msg, Fields: fields}, true
}

// Matching turns a test on decoded lines into one on raw lines, as
// child.Process.WaitLine takes it; lines that are not JSON log lines do
// not match.
func Matching(match func(Line) bool) func(string) bool {
	return func(s string) bool {
		l, ok := Parse(s)
		return ok && match(l)
	}
}

// Str returns the string logged under key, or "" when there is none.
func (l Line) Str(key string) string {
	var s string
	if raw, ok := l.Fields[key]; ok {
		_ = json.Unmarshal(raw, &s) // a non-string leaves s empty
	}
	return s
}

// Uint returns the unsigned integer logged under key.
func (l Line) Uint(key string) (uint64, error) {
	raw, ok := l.Fields[key]
	if !ok {
		return 0, fmt.Errorf("%w: %q: no key %q", ErrMalformed, l.Message, key)
	}
	var v uint64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("%w: %q: key %q: want an unsigned integer, got %s", ErrMalformed, l.Message, key, raw)
	}
	return v, nil
}

// Totals are the listener's counters, logged once at shutdown.
type Totals struct {
	// Received is datagrams read from its sockets.
	Received uint64
	// Accepted is announcements that passed every check; Joined of them
	// added a member, the rest refreshed one.
	Accepted, Joined uint64
	// Dropped holds the datagrams refused, by reason: every counter the
	// line has, whatever reasons the listener knows (replay, unknown_key
	// and bad_address came with protocol v2).
	Dropped map[string]uint64
}

// DroppedTotal adds up the drop counters.
func (t Totals) DroppedTotal() uint64 {
	var sum uint64
	for _, d := range t.Dropped {
		sum += d
	}
	return sum
}

// Totals reads the counters of an "ingest totals" line.
func (l Line) Totals() (Totals, error) {
	if l.Message != MsgIngestTotals {
		return Totals{}, fmt.Errorf("%w: message is %q, want %q", ErrMalformed, l.Message, MsgIngestTotals)
	}
	var t Totals
	var err error
	for _, f := range []struct {
		key string
		dst *uint64
	}{{"received", &t.Received}, {"accepted", &t.Accepted}, {"joined", &t.Joined}} {
		if *f.dst, err = l.Uint(f.key); err != nil {
			return Totals{}, err
		}
	}
	t.Dropped = map[string]uint64{}
	for k := range l.Fields {
		if r, ok := strings.CutPrefix(k, dropPrefix); ok {
			if t.Dropped[r], err = l.Uint(k); err != nil {
				return Totals{}, err
			}
		}
	}
	if len(t.Dropped) == 0 {
		return Totals{}, fmt.Errorf("%w: %q: no %s* counter", ErrMalformed, l.Message, dropPrefix)
	}
	return t, nil
}
