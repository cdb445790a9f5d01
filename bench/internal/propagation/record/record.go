// Package record is what the propagation benchmark's plugin (benchplugin,
// running inside the listener's plugin subprocess) tells its orchestrator:
// JSON records, one a line.
//
//   - Join records are collected in memory while events arrive (one slice
//     append per join, no I/O) and written once, at shutdown, to a file:
//     the plugin is started by the listener, not by the orchestrator, so
//     it has no pipe to the orchestrator, and logging them would add the
//     listener's log relay to the very latency being measured.
//   - Snapshot records are a handful per process (its first snapshot, the
//     moment it held every expected member), logged as they happen with
//     the message MsgSnapshot, and relayed by the listener to its log,
//     where the orchestrator reads them while the plugin lives and then
//     SIGKILLs it. A record carries the times it reports, so the relay
//     adds nothing to them.
package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
)

// MsgSnapshot is the plugin's log message of a snapshot record, which it
// holds as one line under the key "record".
const MsgSnapshot = "bench plugin snapshot record"

// ErrFormat marks input that is not a well-formed record file.
var ErrFormat = errors.New("malformed record file")

// Join is one EventJoin as the plugin saw it.
type Join struct {
	// Addr is the member that joined (IPv4 members are plain 4-byte
	// addresses, as the SDK hands them out).
	Addr netip.Addr `json:"addr"`
	// At is when HandleEvent was called for it, in Unix nanoseconds.
	At int64 `json:"at"`
}

// SnapshotKind says which moment a Snapshot record marks.
type SnapshotKind string

const (
	// FirstSnapshot: the process applied its first complete snapshot.
	FirstSnapshot SnapshotKind = "first"
	// Complete: the process's mirror held the expected member count for
	// the first time (through a snapshot or through events).
	Complete SnapshotKind = "complete"
)

// Snapshot is one milestone of one plugin process, with its start; times
// are Unix nanoseconds.
type Snapshot struct {
	Kind SnapshotKind `json:"kind"`
	// PID is the plugin process.
	PID int `json:"pid"`
	// Forked is when the kernel created the process, from
	// /proc/self/stat; its resolution is the kernel's clock tick (10 ms).
	// Zero when it could not be read.
	Forked int64 `json:"forked"`
	// At is the moment this record marks.
	At int64 `json:"at"`
	// Members is how many members the mirror held at that moment.
	Members int `json:"members"`
	// ViaSnapshot is true when the moment was the end of a snapshot
	// (EventResync) and false when it was a join event. A resync after
	// the first delivers its joins as events before EventResync, so a
	// count reached during a later resync reads false; the first
	// snapshot of a process, which is what a restart measures, reads
	// true.
	ViaSnapshot bool `json:"via_snapshot"`
	// Heap is the live Go heap (HeapAlloc just after a forced garbage
	// collection) at At, in bytes; 0 when the plugin was not asked to
	// measure it (spec key heap).
	Heap int64 `json:"heap"`
}

// Append appends each of recs as one JSON line to dst.
func Append[R Join | Snapshot](dst []byte, recs ...R) []byte {
	for _, r := range recs {
		b, _ := json.Marshal(r) // plain fields: cannot fail
		dst = append(append(dst, b...), '\n')
	}
	return dst
}

// Parse decodes every complete line of b; an unterminated last line is a
// record still being written and is ignored. A snapshot record must name
// its kind and process.
func Parse[R Join | Snapshot](b []byte) ([]R, error) {
	b = b[:bytes.LastIndexByte(b, '\n')+1] // -1+1: no complete line
	var out []R
	n := 0
	for line := range bytes.Lines(b) {
		n++
		var r R
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		err := dec.Decode(&r)
		if s, ok := any(r).(Snapshot); ok && err == nil && (s.PID <= 0 || s.Kind != FirstSnapshot && s.Kind != Complete) {
			err = fmt.Errorf("kind %q, pid %d: want %s or %s of a process", s.Kind, s.PID, FirstSnapshot, Complete)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrFormat, n, err)
		}
		out = append(out, r)
	}
	return out, nil
}
