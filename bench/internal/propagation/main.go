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
// addresses itself, paced by a 1 ms ticker to the target rate, and notes
// each datagram's send time just before its write. Latency is the
// plugin's time of the join minus that send time; both are read from the
// same host clock, and the loopback hop they include takes microseconds.
// Each round is a fresh listener, so every address is new to it. Before
// the listener, a bare control receiver (this program, -mode control) gets
// the same traffic: on a shared machine most of a latency tail is waiting
// for a CPU, and the control shows what the machine allows at that moment.
// The report also shows how busy the machine was and the CPU time and
// garbage collections of the listener and the plugin.
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
// To find where the time goes: -plugin-cpuprofile profiles the plugin
// process, -series writes each event's latency over time, -gomaxprocs and
// -rt change the processes' scheduling as experiments, and the Benchmark
// functions of this package reproduce the SDK's part in one process. The
// listener itself takes no profiling flag; `perf record -g -p PID` works
// on it (Go keeps frame pointers).
package propagation

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// Defaults of the measurements; each has a flag.
const (
	defaultRounds         = 3
	defaultEvents         = 20_000
	defaultWarmup         = 1_000
	defaultRate           = 10_000
	defaultTick           = time.Millisecond
	defaultSettle         = 500 * time.Millisecond
	defaultMembers        = 100_000
	defaultSnapshotRounds = 5
	defaultFillRate       = 50_000
	defaultTimeout        = 3 * time.Minute
)

// Run parses the command line and runs the measurements. It returns the
// exit status: 0 on completed measurements (whatever their verdict, unless
// -strict), 1 when one failed or -strict saw a FAIL, 2 on bad usage.
func Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("propagation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		rgap      = fs.String("rgap", "../bin/rgap", "path of the rgap binary whose listener is measured")
		goTool    = fs.String("go", "go", "go command that builds the bench plugin (run from inside the rgap module)")
		prebuilt  = fs.String("plugin", "", "use this prebuilt benchplugin executable instead of building it")
		only      = fs.String("only", "all", "which measurement: join, snapshot or all")
		rounds    = fs.Int("rounds", defaultRounds, "propagation: rounds, each with a fresh listener")
		events    = fs.Int("events", defaultEvents, "propagation: measured new addresses per round")
		warmup    = fs.Int("warmup", defaultWarmup, "propagation: new addresses sent first in each round and not measured")
		rate      = fs.Int("rate", defaultRate, "propagation: announcements per second")
		tick      = fs.Duration("tick", defaultTick, "propagation: the sender's pacing interval")
		settle    = fs.Duration("settle", defaultSettle, "propagation: wait after the last datagram before stopping the listener")
		members   = fs.Int("members", defaultMembers, "snapshot: members of the group")
		snapshots = fs.Int("snapshot-rounds", defaultSnapshotRounds, "snapshot: plugin restarts timed")
		fillRate  = fs.Int("fill-rate", defaultFillRate, "snapshot: announcements per second while filling the group")
		timeout   = fs.Duration("timeout", defaultTimeout, "bound on the whole run")
		strict    = fs.Bool("strict", false, "exit 1 when a goal is missed")
		control   = fs.Bool("control", true, "propagation: also time the bare control receiver each round, the floor of this machine")
		verbose   = fs.Bool("v", false, "narrate each step on stderr")
		series    = fs.String("series", "", "propagation: write each round's latency over time as DIR/latency-<round>-<receiver>.csv")
		maxprocs  = fs.Int("gomaxprocs", 0, "experiment: GOMAXPROCS of the listener and the plugin (0: the Go default, one per CPU)")
		realtime  = fs.Bool("rt", false, "diagnostic: run the listener (and its plugin) and the control receiver under SCHED_FIFO (chrt), to tell CPU contention from the code path")
		pprofOut  = fs.String("plugin-cpuprofile", "", "profile the plugin's CPU into PREFIX-join-<round>.<pid> and PREFIX-snapshot.<pid> (pid as in the snapshot table)")
		mode      = fs.String("mode", "orchestrate", "orchestrate; or control (the control receiver, started by the orchestrator)")
		out       = fs.String("out", "", "control mode: the file its records are written to")
	)
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: go run . propagation [flags]   (in bench/)\n\nMeasures how fast group state reaches an rgap output plugin (listener -> plugin host -> gRPC -> SDK).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "propagation: unexpected arguments %q\n", fs.Args())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch *mode {
	case "orchestrate":
	case "control":
		if err := runControl(ctx, *out, stdout); err != nil {
			_, _ = fmt.Fprintf(stderr, "propagation control: %v\n", err)
			return 1
		}
		return 0
	default:
		_, _ = fmt.Fprintf(stderr, "propagation: -mode %q: want orchestrate or control\n", *mode)
		return 2
	}
	doJoin, doSnapshot := *only == "all" || *only == "join", *only == "all" || *only == "snapshot"
	if !doJoin && !doSnapshot {
		_, _ = fmt.Fprintf(stderr, "propagation: -only %q: want join, snapshot or all\n", *only)
		return 2
	}
	if *rounds < 1 || *snapshots < 1 || *rate < 1 || *fillRate < 1 || *tick <= 0 {
		_, _ = fmt.Fprintln(stderr, "propagation: -rounds, -snapshot-rounds, -rate, -fill-rate and -tick must be positive")
		return 2
	}
	progress := io.Discard
	if *verbose {
		progress = stderr
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	b, err := newBench(ctx, *rgap, *goTool, *prebuilt, progress)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "propagation: %v\n", err)
		return 1
	}
	defer b.close()
	b.realtime, b.gomaxprocs = *realtime, *maxprocs
	if *pprofOut != "" {
		if b.pluginProfile, err = filepath.Abs(*pprofOut); err != nil {
			_, _ = fmt.Fprintf(stderr, "propagation: -plugin-cpuprofile: %v\n", err)
			return 1
		}
	}

	pass := true
	if doJoin {
		opts := joinOptions{rounds: *rounds, events: *events, warmup: *warmup, rate: *rate, tick: *tick, settle: *settle, control: *control}
		rs, err := measureJoins(ctx, b, opts)
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "propagation: %v\n", err)
			return 1
		}
		if *series != "" {
			if err := writeSeries(*series, rs); err != nil {
				_, _ = fmt.Fprintf(stderr, "propagation: %v\n", err)
				return 1
			}
		}
		v := evaluateJoins(rs)
		if err := writeJoinReport(stdout, *rgap, opts, rs, v); err != nil {
			_, _ = fmt.Fprintf(stderr, "propagation: writing the report: %v\n", err)
			return 1
		}
		pass = pass && v.pass()
	}
	if doSnapshot {
		if doJoin {
			if _, err := fmt.Fprintln(stdout); err != nil {
				_, _ = fmt.Fprintf(stderr, "propagation: writing the report: %v\n", err)
				return 1
			}
		}
		opts := snapshotOptions{rounds: *snapshots, members: *members, fillRate: *fillRate}
		sr, err := measureSnapshots(ctx, b, opts)
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "propagation: %v\n", err)
			return 1
		}
		v := evaluateSnapshots(sr)
		if err := writeSnapshotReport(stdout, *rgap, opts, sr, v); err != nil {
			_, _ = fmt.Fprintf(stderr, "propagation: writing the report: %v\n", err)
			return 1
		}
		pass = pass && v.pass()
	}
	if *strict && !pass {
		return 1
	}
	return 0
}
