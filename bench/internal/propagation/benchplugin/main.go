// Command benchplugin is the output plugin of the propagation benchmark
// (internal/bench/propagation), installed by it as rgap-plugin-benchjoin in
// a temporary plugins directory. It is an out-of-tree plugin built on the
// public SDK exactly as a third party's would be, so the measured path is
// the real one: listener, plugin host, gRPC stream, SDK mirror, handler.
//
// It has two modes, chosen by its spec:
//
//   - join (default) records, for every EventJoin, the address and the
//     moment HandleEvent was called. The work per event is one uncontended
//     mutex and one append to a slice preallocated from `capacity`: no
//     logging, no I/O, nothing that would count as plugin cost in a
//     latency measurement. The records are written to `out` when the host
//     stops the plugin (record.Append), before the log line that tells the
//     orchestrator to read them.
//
//   - snapshot logs a record (record.MsgSnapshot) when the process applied
//     its first snapshot, and when its mirror first held `expect` members.
//     Each record carries the process's fork time (from /proc, 10 ms
//     resolution), the start of the goal's measure. Records are logged as
//     they happen because the orchestrator SIGKILLs the process to make the
//     host start a fresh one; the listener relays them to its own log.
//
// Example spec:
//
//	outputs:
//	  - kind: benchjoin
//	    spec:
//	      mode: join        # or snapshot
//	      out: /tmp/joins.bin # join mode: the records file
//	      capacity: 65536   # join mode: records preallocated
//	      expect: 100000    # snapshot mode: members that make a snapshot complete
//	      heap: true        # snapshot mode: note the live heap in each record (scale)
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/rgap-project/rgap/bench/internal/propagation/record"
	"github.com/rgap-project/rgap/sdk"
)

// Kind is the output kind, and the plugin file's suffix.
const Kind = "benchjoin"

// Modes of the spec's `mode` key.
const (
	modeJoin     = "join"
	modeSnapshot = "snapshot"
)

// defaultCapacity is the join records preallocated when the spec sets none.
const defaultCapacity = 1 << 16

// maxCapacity bounds `capacity` (24 MB of records) so a typo cannot make
// the plugin allocate gigabytes.
const maxCapacity = 1 << 20

// spec is the output's configuration.
type spec struct {
	// Out is the file the join records go to (join mode, required there).
	Out string `yaml:"out"`
	// Mode is join or snapshot (default join).
	Mode string `yaml:"mode"`
	// Capacity is the join records preallocated (join mode).
	Capacity int `yaml:"capacity"`
	// Expect is the member count that makes the mirror complete (snapshot
	// mode, required there).
	Expect int `yaml:"expect"`
	// Heap, when true, has snapshot mode force a garbage collection at
	// each record and note the live heap in it (after the record's time
	// and CPU figures are taken, so they do not include it).
	Heap bool `yaml:"heap"`
}

// New checks the spec.
func New(cfg *sdk.Config) (sdk.Output, error) {
	s := spec{Mode: modeJoin, Capacity: defaultCapacity}
	if err := cfg.Decode(&s); err != nil {
		return nil, err
	}
	if s.Mode != modeJoin && s.Mode != modeSnapshot {
		return nil, cfg.Errorf("mode", "%q: want %s or %s", s.Mode, modeJoin, modeSnapshot)
	}
	if s.Mode == modeSnapshot {
		if s.Expect < 1 {
			return nil, cfg.Errorf("expect", "required in snapshot mode: the member count of a complete snapshot (at least 1)")
		}
		if s.Out != "" {
			return nil, cfg.Errorf("out", "join mode only: snapshot mode logs its records")
		}
		return &snapshotOutput{log: cfg.Log(), expect: s.Expect, heap: s.Heap, pid: os.Getpid(), forked: forkedNanos()}, nil
	}
	if s.Out == "" {
		return nil, cfg.Errorf("out", "required: the file the records are written to")
	}
	if !filepath.IsAbs(s.Out) {
		return nil, cfg.Errorf("out", "%q is not an absolute path", s.Out)
	}
	if s.Capacity < 0 || s.Capacity > maxCapacity {
		return nil, cfg.Errorf("capacity", "%d is out of range 0..%d", s.Capacity, maxCapacity)
	}
	return &joinOutput{out: s.Out, joins: make([]record.Join, 0, s.Capacity)}, nil
}

// joinOutput is join mode.
type joinOutput struct {
	out   string
	mu    sync.Mutex // HandleEvent (stream goroutine) vs the final write
	joins []record.Join
}

// HandleEvent records a join. It must stay this cheap: it runs on the
// SDK's stream goroutine, inside the latency being measured.
func (o *joinOutput) HandleEvent(e sdk.Event) {
	if e.Kind != sdk.EventJoin {
		return
	}
	now := time.Now().UnixNano()
	o.mu.Lock()
	o.joins = append(o.joins, record.Join{Addr: e.Member.Addr, At: now})
	o.mu.Unlock()
}

// Run waits for the host to stop the plugin, then writes the records.
func (o *joinOutput) Run(ctx context.Context, env *sdk.Env) error {
	env.Log.Info("bench plugin running", "mode", modeJoin, "pid", os.Getpid())
	<-ctx.Done()
	o.mu.Lock()
	b := record.Append(nil, o.joins...)
	n := len(o.joins)
	o.mu.Unlock()
	if err := os.WriteFile(o.out, b, 0o600); err != nil {
		return fmt.Errorf("write join records: %w", err)
	}
	env.Log.Info("bench plugin wrote its join records", "file", o.out, "joins", n)
	return nil
}

// snapshotOutput is snapshot mode. Its fields other than log, expect, pid
// and forked are touched only by the SDK's stream goroutine.
type snapshotOutput struct {
	log    hclog.Logger
	expect int
	heap   bool
	pid    int
	forked int64

	members  int // the mirror's member count, from the events
	synced   bool
	complete bool
}

// HandleEvent tracks the member count. During a resync the SDK delivers
// the snapshot's joins and leaves first, then EventResync.
func (o *snapshotOutput) HandleEvent(e sdk.Event) {
	switch e.Kind {
	case sdk.EventJoin:
		o.members++
		if o.synced && !o.complete && o.members >= o.expect {
			o.mark(record.Complete, false)
		}
	case sdk.EventLeave:
		o.members--
	case sdk.EventResync:
		if !o.synced {
			o.synced = true
			o.mark(record.FirstSnapshot, true)
		}
		if !o.complete && o.members >= o.expect {
			o.mark(record.Complete, true)
		}
	}
}

// mark logs one record, timestamped now.
func (o *snapshotOutput) mark(kind record.SnapshotKind, viaSnapshot bool) {
	now := time.Now().UnixNano()
	o.complete = o.complete || kind == record.Complete
	rec := record.Snapshot{Kind: kind, PID: o.pid, Forked: o.forked, At: now, Members: o.members, ViaSnapshot: viaSnapshot}
	if o.heap {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rec.Heap = int64(ms.HeapAlloc) //nolint:gosec // a heap size fits in int64
	}
	o.log.Info(record.MsgSnapshot, "record", strings.TrimSpace(string(record.Append(nil, rec))))
}

// Run waits to be stopped.
func (o *snapshotOutput) Run(ctx context.Context, env *sdk.Env) error {
	env.Log.Info("bench plugin running", "mode", modeSnapshot, "pid", o.pid)
	<-ctx.Done()
	return nil
}

// forkedNanos returns when the kernel created this process, in Unix
// nanoseconds, or 0 when /proc cannot tell. /proc/self/stat gives the
// start in clock ticks (USER_HZ, 100 on Linux) since boot; the boot clock
// read now converts it to wall time.
func forkedNanos() int64 {
	const userHZ = 100
	p, err := procfs.Self()
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	var boot unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		return 0
	}
	sinceStart := boot.Nano() - int64(st.Starttime)*int64(time.Second)/userHZ //nolint:gosec // ticks since boot fit in int64
	return time.Now().UnixNano() - sinceStart
}

func main() {
	sdk.Serve(sdk.Plugin{Name: Kind, Version: "bench", New: New})
}
