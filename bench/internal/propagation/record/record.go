// Package record is the file format between the propagation benchmark's
// plugin (benchplugin, running inside the listener's plugin subprocess) and
// its orchestrator.
//
// Why files, and why these two shapes: the plugin is started by the
// listener, not by the orchestrator, so it has no pipe to the orchestrator;
// its log goes through the listener, which would add a logging path to the
// very latency being measured. A file it writes itself costs nothing on the
// measured path.
//
//   - Join records are collected in memory while events arrive (one slice
//     append per join, no I/O) and written once, at shutdown, in a compact
//     fixed-width binary form: 20,000 joins are 480 KB.
//   - Snapshot records are a handful per process (its first snapshot, the
//     moment it held every expected member), appended as text lines while
//     the plugin runs, because the orchestrator reads them while the plugin
//     lives and then SIGKILLs it: a record must be complete on disk the
//     moment it matters. A line is written with one write(2) on an O_APPEND
//     file, and readers ignore an unterminated last line.
//
// The orchestrator trusts neither format blindly: both parsers reject
// malformed input with an error naming the offset or line.
package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrFormat marks input that is not a well-formed record file.
var ErrFormat = errors.New("malformed record file")

// joinMagic starts a join record file; the digit is the format version.
const joinMagic = "RGAPJOIN1\n"

// JoinSize is the encoded size of one Join: a 16-byte address (IPv4 as
// IPv4-mapped) and a big-endian int64.
const JoinSize = 16 + 8

// Join is one EventJoin as the plugin saw it.
type Join struct {
	// Addr is the member that joined (IPv4 members are plain 4-byte
	// addresses, as the SDK hands them out).
	Addr netip.Addr
	// At is when HandleEvent was called for it, in Unix nanoseconds.
	At int64
}

// AppendJoins appends the encoded file holding js to dst.
func AppendJoins(dst []byte, js []Join) []byte {
	dst = append(dst, joinMagic...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(js)))
	for _, j := range js {
		a := j.Addr.As16()
		dst = append(dst, a[:]...)
		dst = binary.BigEndian.AppendUint64(dst, uint64(j.At))
	}
	return dst
}

// ParseJoins decodes a file written by AppendJoins.
func ParseJoins(b []byte) ([]Join, error) {
	if !bytes.HasPrefix(b, []byte(joinMagic)) {
		return nil, fmt.Errorf("%w: join records: missing the %q header", ErrFormat, strings.TrimSpace(joinMagic))
	}
	b = b[len(joinMagic):]
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: join records: truncated count", ErrFormat)
	}
	n := binary.BigEndian.Uint64(b)
	b = b[8:]
	if n > uint64(len(b))/JoinSize || uint64(len(b)) != n*JoinSize {
		return nil, fmt.Errorf("%w: join records: header says %d records of %d bytes, body has %d bytes", ErrFormat, n, JoinSize, len(b))
	}
	js := make([]Join, n)
	for i := range js {
		rec := b[i*JoinSize : (i+1)*JoinSize]
		js[i] = Join{
			Addr: netip.AddrFrom16([16]byte(rec[:16])).Unmap(),
			At:   int64(binary.BigEndian.Uint64(rec[16:])),
		}
	}
	return js, nil
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

// Snapshot is one milestone of one plugin process, with the times of its
// earlier milestones, all in Unix nanoseconds.
type Snapshot struct {
	Kind SnapshotKind
	// PID is the plugin process.
	PID int
	// Forked is when the kernel created the process, from
	// /proc/self/stat; its resolution is the kernel's clock tick (10 ms).
	// Zero when it could not be read.
	Forked int64
	// Init is when the plugin's Go code first ran (package
	// initialisation), after the Go runtime started.
	Init int64
	// Configured is when the host's Configure call reached Plugin.New
	// (the handshake and GetInfo are done by then).
	Configured int64
	// At is the moment this record marks.
	At int64
	// Members is how many members the mirror held at that moment.
	Members int
	// ViaSnapshot is true when the moment was the end of a snapshot
	// (EventResync) and false when it was a join event. A resync after
	// the first delivers its joins as events before EventResync, so a
	// count reached during a later resync reads false; the first
	// snapshot of a process, which is what a restart measures, reads
	// true.
	ViaSnapshot bool
	// CPU is the user plus system CPU time the process had used by At,
	// in nanoseconds.
	CPU int64
	// GCs is the garbage collections the process had run by At.
	GCs int
	// Heap is the live Go heap (HeapAlloc just after a forced garbage
	// collection) at At, in bytes; 0 when the plugin was not asked to
	// measure it (spec key heap).
	Heap int64
}

// snapshotFields are the keys of a snapshot line, in order.
var snapshotFields = []string{"kind", "pid", "forked", "init", "configured", "at", "members", "cpu", "gcs", "heap", "via_snapshot"}

// AppendSnapshot appends s as one text line (with its newline) to dst.
func AppendSnapshot(dst []byte, s Snapshot) []byte {
	dst = append(dst, "kind="...)
	dst = append(dst, s.Kind...)
	dst = append(dst, " pid="...)
	dst = strconv.AppendInt(dst, int64(s.PID), 10)
	for _, kv := range []struct {
		k string
		v int64
	}{{"forked", s.Forked}, {"init", s.Init}, {"configured", s.Configured}, {"at", s.At}, {"members", int64(s.Members)}, {"cpu", s.CPU}, {"gcs", int64(s.GCs)}, {"heap", s.Heap}} {
		dst = append(dst, ' ')
		dst = append(dst, kv.k...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, kv.v, 10)
	}
	dst = append(dst, " via_snapshot="...)
	dst = strconv.AppendBool(dst, s.ViaSnapshot)
	return append(dst, '\n')
}

// ParseSnapshots decodes every complete line of a snapshot record file; an
// unterminated last line is a record still being written and is ignored.
func ParseSnapshots(b []byte) ([]Snapshot, error) {
	b = b[:bytes.LastIndexByte(b, '\n')+1] // -1+1: no complete line
	var out []Snapshot
	n := 0
	for line := range bytes.Lines(b) {
		n++
		s, err := parseSnapshotLine(string(bytes.TrimSuffix(line, []byte("\n"))))
		if err != nil {
			return nil, fmt.Errorf("%w: snapshot records: line %d: %w", ErrFormat, n, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSnapshotLine(line string) (Snapshot, error) {
	f := strings.Fields(line)
	if len(f) != len(snapshotFields) {
		return Snapshot{}, fmt.Errorf("%d fields, want %d (%s)", len(f), len(snapshotFields), strings.Join(snapshotFields, " "))
	}
	vals := make([]string, len(f))
	for i, kv := range f {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k != snapshotFields[i] {
			return Snapshot{}, fmt.Errorf("field %d is %q, want %s=VALUE", i+1, kv, snapshotFields[i])
		}
		vals[i] = v
	}
	var s Snapshot
	switch SnapshotKind(vals[0]) {
	case FirstSnapshot, Complete:
		s.Kind = SnapshotKind(vals[0])
	default:
		return Snapshot{}, fmt.Errorf("kind %q: want %s or %s", vals[0], FirstSnapshot, Complete)
	}
	ints := make([]int64, 9)
	for i := range ints {
		v, err := strconv.ParseInt(vals[i+1], 10, 64)
		if err != nil {
			return Snapshot{}, fmt.Errorf("%s: %w", snapshotFields[i+1], err)
		}
		if v < 0 {
			return Snapshot{}, fmt.Errorf("%s: %d is negative", snapshotFields[i+1], v)
		}
		ints[i] = v
	}
	const maxInt32 = 1<<31 - 1
	if ints[0] == 0 || ints[0] > maxInt32 || ints[5] > maxInt32 || ints[7] > maxInt32 {
		return Snapshot{}, fmt.Errorf("pid %d, members %d or gcs %d out of range", ints[0], ints[5], ints[7])
	}
	s.PID, s.Forked, s.Init, s.Configured, s.At = int(ints[0]), ints[1], ints[2], ints[3], ints[4]
	s.Members, s.CPU, s.GCs, s.Heap = int(ints[5]), ints[6], int(ints[7]), ints[8]
	via, err := strconv.ParseBool(vals[10])
	if err != nil {
		return Snapshot{}, fmt.Errorf("via_snapshot: %w", err)
	}
	s.ViaSnapshot = via
	return s, nil
}
