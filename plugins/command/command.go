// Package command is the "command" output: it runs an external program
// every time the membership of a redundancy group changes, with the group's
// current addresses on its standard input, one per line. It is the glue for
// anything the other outputs do not cover: reloading a load balancer,
// updating a cloud API, pushing to a service registry.
//
// Design decisions:
//
//   - The program is executed directly from its argv list, never through a
//     shell: addresses and arguments cannot be misread as shell syntax. Users
//     who want a pipeline write `command: [sh, -c, "..."]` themselves.
//   - At most one instance runs at a time. Changes that arrive while it runs
//     collapse into a single further run with the membership current at that
//     point (the mirror's Changed channel holds at most one pending signal),
//     so a slow program cannot build up a backlog of stale runs. A wake-up
//     that finds the same addresses as the last successful run does not run
//     the program again.
//   - Each attempt runs the program through a guard process (guard.go) that
//     puts it in its own process group and stops everything it started when
//     the attempt ends, times out or is stopped, and when the plugin goes
//     away, even by SIGKILL: nothing a run started outlives it. The guard
//     also serialises runs of the same group and command across plugin
//     restarts.
//   - A failed attempt (non-zero exit, timeout, program not found) is retried
//     after a short pause until `retries` attempts in total were made; each
//     attempt is given the membership current when it starts.
//   - Shutting down does not kill a running program at once: it gets until
//     its timeout to finish, at most the stop grace period, since killing a
//     half-done reconfiguration is usually worse than waiting for it. No new
//     attempt starts once shutdown began.
package command

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk"
)

// Plugin is the "command" output, ready for sdk.Serve.
//
// It asks for expiry updates so that the `expires` of the json format is
// the member's current expiry; an expiry update alone never starts a run.
var Plugin = sdk.Plugin{Name: "command", Version: "1.0.0", New: New, ExpiryUpdates: true}

const (
	// retryPause is the pause between a failed attempt and the next one.
	retryPause = time.Second
	// shutdownGrace is how long a running program may keep running after
	// shutdown began (less when its timeout comes first). With the stop
	// itself (SIGTERM, at most maxKillDelay, SIGKILL) the output stops
	// within 11s, inside the host's stop timeout.
	shutdownGrace = 10 * time.Second
)

// New decodes and validates the output's spec and subscribes to its group.
// It runs nothing: the program is only started by Run.
func New(cfg *sdk.Config) (sdk.Output, error) {
	s, err := sdk.DecodeSpec(cfg, (*spec).validate)
	if err != nil {
		return nil, err
	}
	cfg.Subscribe(s.group)
	return newOutput(s), nil
}

func newOutput(s *settings) *output {
	return &output{settings: s, retryPause: retryPause, shutdownGrace: shutdownGrace,
		guardExe: guardExe(), lockDir: defaultLockDir()}
}

// output is a configured command runner.
type output struct {
	settings      *settings
	retryPause    time.Duration
	shutdownGrace time.Duration
	guardExe      string // the executable run as the guard
	lockDir       string // where the guards' lock files are
	// runs and runSeconds are exported on the listener's /metrics; nil in
	// tests that call run directly.
	runs, runSeconds *sdk.Counter
}

// groupSource is the part of *sdk.Mirror the runner uses; tests provide a
// fake.
type groupSource interface {
	Members(group uint64) []sdk.Member
	Ready(group uint64) bool
	Changed(groups ...uint64) <-chan struct{}
}

// Run runs the program after the group became ready and after every change,
// until ctx is cancelled.
func (o *output) Run(ctx context.Context, env *sdk.Env) error {
	var err error
	if o.runs, err = env.Metrics.Counter("runs_total",
		"Runs of the program (each attempt), by result: success (exit 0), failure (non-zero exit) or error (not started, killed by a signal or the timeout).",
		"result"); err != nil {
		return err
	}
	if o.runSeconds, err = env.Metrics.Counter("run_duration_seconds_total",
		"Time spent running the program, over all runs; divided by runs_total it is the mean run time."); err != nil {
		return err
	}
	return o.run(ctx, env.Groups, env.Log)
}

func (o *output) run(ctx context.Context, groups groupSource, log hclog.Logger) error {
	log = log.With("command", o.settings.argv[0], "group", o.settings.group)
	// Subscribe before the first look at the group, so no change is missed.
	changed := groups.Changed(o.settings.group)
	var last []entry // input of the last successful run
	succeeded, waiting := false, false
	for {
		// What is read below reflects every change signalled so far, so a
		// pending signal is dropped; one arriving from now on means a
		// change during the run, which earns exactly one more look.
		select {
		case <-changed:
		default:
		}
		if !groups.Ready(o.settings.group) {
			if !waiting {
				log.Info("waiting for group to become ready")
				waiting = true
			}
		} else {
			waiting = false
			current := entries(groups.Members(o.settings.group), o.settings.format)
			if !succeeded || !slices.EqualFunc(current, last, entry.same) {
				last, succeeded = o.runWithRetries(ctx, groups, log)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			// select picks at random among ready cases: a pending change
			// must not start a run once shutdown began.
			if ctx.Err() != nil {
				return nil
			}
		}
	}
}

// runWithRetries makes up to settings.attempts attempts and returns the
// members given to the one that succeeded.
func (o *output) runWithRetries(ctx context.Context, groups groupSource, log hclog.Logger) ([]entry, bool) {
	for attempt := 1; ; attempt++ {
		members := entries(groups.Members(o.settings.group), o.settings.format)
		start := time.Now()
		err := o.execute(ctx, render(members, o.settings.format), len(members), log)
		o.count(err, time.Since(start))
		if err == nil {
			log.Info("command succeeded", "addresses", len(members), "attempt", attempt, "duration", time.Since(start))
			return members, true
		}
		failed := []any{"attempts", attempt, "error", err}
		if code, ok := exitCode(err); ok {
			failed = append(failed, "exit_code", code)
		}
		if attempt >= o.settings.attempts || ctx.Err() != nil {
			log.Error("command failed", failed...)
			return nil, false
		}
		log.Warn("command failed, retrying", "attempt", attempt, "max_attempts", o.settings.attempts, "error", err)
		select {
		case <-ctx.Done():
			log.Error("command failed", failed...)
			return nil, false
		case <-time.After(o.retryPause):
		}
	}
}

// count records one run's result and duration.
func (o *output) count(err error, took time.Duration) {
	if o.runs == nil {
		return
	}
	result := "error"
	if err == nil {
		result = "success"
	} else if _, ok := exitCode(err); ok {
		result = "failure"
	}
	o.runs.Add(1, result)
	o.runSeconds.Add(took.Seconds())
}
