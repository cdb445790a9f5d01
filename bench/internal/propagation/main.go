// Command propagation measures how fast group state reaches an output
// plugin through the real binaries (`make bench-propagation`):
//
//  1. Propagation: a datagram announcing a new address -> the plugin's join
//     handler called, p50/p90/p99/max at 10,000 events/s. Goal: p99 <= 2 ms.
//  2. Snapshot: a group of 100,000 members reaches a newly started plugin
//     as its first snapshot within 250 ms of the plugin's process start,
//     with no gRPC message-size error anywhere in the listener's log.
//
// # How, and why this way
//
// Everything runs as in production: `rgap listener` (the -rgap binary)
// with one group on a 127.0.0.1 port and one out-of-tree output, the
// benchmark's own plugin (package benchplugin), which this tool builds into
// a temporary plugins directory as rgap-plugin-benchjoin. The plugin is
// written on the public SDK like any third-party plugin, so the path
// measured is the whole one: socket, verification, group state, the plugin
// host's feed and pump, gRPC, the SDK's mirror and the handler.
//
// The plugin cannot talk back to this tool except through the listener,
// whose logging would add to what is measured, so it writes record files
// (package record) and this tool reads them: join times, collected in
// memory and written when the listener stops the plugin; and snapshot
// milestones, written as they happen.
//
// Propagation: the tool sends signed announcements of distinct new
// addresses itself, paced to the target rate in a burst every 1 ms tick
// (one sendmmsg), and notes each burst's send time just before its write. Latency is the
// plugin's time of the join minus that send time; both are read from the
// same host clock, and the loopback hop they include takes microseconds.
// Each round is a fresh listener, so every address is new to it. On a
// shared machine most of a latency tail is waiting for a CPU, so the report
// also shows how busy the machine was and the CPU time of the listener and
// the plugin.
//
// Snapshot: a plugin cannot be started on demand with the real binaries,
// but the plugin host restarts a plugin that died, with a fresh snapshot.
// So the tool fills the group while a first plugin runs, then SIGKILLs the
// plugin (after checking from /proc that the PID is the listener's child
// running the plugin file) and times the replacement: the plugin records
// the moments of its fork (from /proc), its Go init, Configure, and its
// first snapshot, complete when it holds every member.
//
// The verdicts use medians over rounds, since the machine is shared; every
// round is shown. The exit status is 0 whenever the measurement completed,
// whatever the verdict, unless -strict.
//
// To find where the time goes, the Benchmark functions of this package
// reproduce the SDK's part in one process, and `perf record -g -p PID`
// works on the listener and the plugin (Go keeps frame pointers).
package propagation

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// The propagation sender's pacing tick, and the wait after its last
// datagram before the listener is stopped.
const (
	tick   = time.Millisecond
	settle = 500 * time.Millisecond
)

// measure returns a Measure that installs the plugin in the run's
// directory and runs m with it.
func measure(m func(ctx context.Context, b *bench, c harness.Common, out io.Writer) (bool, error)) func(context.Context, harness.Common, io.Writer) (bool, error) {
	return func(ctx context.Context, c harness.Common, out io.Writer) (bool, error) {
		b, err := newBench(ctx, c.RGAP, c.Dir, c.Progress)
		if err != nil {
			return false, err
		}
		return m(ctx, b, c, out)
	}
}

// Run is the propagation subcommand; its exit status is harness.Bench.Run's.
func Run(args []string, stdout, stderr io.Writer) int {
	var j joinOptions
	var s snapshotOptions
	return harness.Bench{
		Name: "propagation", Summary: "Measures how fast group state reaches an rgap output plugin (listener -> plugin host -> gRPC -> SDK).",
		Rounds: 3, Timeout: 3 * time.Minute,
		Flags: func(fs *flag.FlagSet) {
			fs.IntVar(&j.events, "events", 20_000, "propagation: measured new addresses per round")
			fs.IntVar(&j.warmup, "warmup", 1_000, "propagation: new addresses sent first in each round and not measured")
			fs.IntVar(&j.rate, "rate", 10_000, "propagation: announcements per second")
			fs.IntVar(&s.members, "members", 100_000, "snapshot: members of the group")
			fs.IntVar(&s.rounds, "snapshot-rounds", 5, "snapshot: plugin restarts timed")
			fs.IntVar(&s.fillRate, "fill-rate", 50_000, "snapshot: announcements per second while filling the group")
		},
		Check: func(c harness.Common) error {
			if s.rounds < 1 || j.rate < 1 || s.fillRate < 1 {
				return fmt.Errorf("-snapshot-rounds, -rate and -fill-rate must be positive")
			}
			j.rounds = c.Rounds
			return nil
		},
		Measure: measure(func(ctx context.Context, b *bench, c harness.Common, stdout io.Writer) (bool, error) {
			rs, err := measureJoins(ctx, b, j)
			if err != nil {
				return false, err
			}
			jv := evaluateJoins(rs)
			if err := writeJoinReport(stdout, c.RGAP, j, rs, jv); err != nil {
				return false, fmt.Errorf("writing the report: %w", err)
			}
			sr, err := measureSnapshots(ctx, b, s)
			if err != nil {
				return false, err
			}
			sv := evaluateSnapshots(sr)
			_, _ = fmt.Fprintln(stdout) // between the reports; a failing stdout fails the next one
			if err := writeSnapshotReport(stdout, c.RGAP, s, sr, sv); err != nil {
				return false, fmt.Errorf("writing the report: %w", err)
			}
			return jv.pass() && sv.pass(), nil
		}),
	}.Run(args, stdout, stderr)
}
