// Package harness is what every benchmark of the bench tool shares: the
// command line (the common flags, child roles, the run's bound, exit
// statuses), the spread of repeated measurements (min, median, max), the
// machine-noise check, and the report (tables, "goal ...: PASS|FAIL").
//
// The benchmarks run on shared machines, so every verdict is taken on a
// median over rounds and every report shows the spread and how busy the
// machine was next to it.
package harness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rgap-project/rgap/bench/internal/child"
)

// Common are the flags every benchmark has.
type Common struct {
	// RGAP is the rgap binary measured (-rgap).
	RGAP string
	// Rounds is how many times the measurement is repeated (-rounds).
	Rounds int
	// Progress receives the narration of the steps (-v), else nothing.
	Progress io.Writer
	// Dir is a temporary directory for the run's files (configurations,
	// records), removed when it ends.
	Dir string
}

// Bench is one benchmark: its flags, its measurement and its child roles.
type Bench struct {
	// Name is the subcommand; Summary the line its usage shows.
	Name, Summary string
	// Rounds and Timeout are the defaults of -rounds and -timeout.
	Rounds  int
	Timeout time.Duration
	// Flags adds the benchmark's own flags; it may be nil.
	Flags func(fs *flag.FlagSet)
	// Check validates the flags once parsed (an error is bad usage); it
	// may be nil.
	Check func(c Common) error
	// Measure runs the measurement, prints the report to out (after the
	// command line, which Run prints) and says whether every goal passed.
	Measure func(ctx context.Context, c Common, out io.Writer) (pass bool, err error)
	// Roles are the child roles (-mode NAME) the measurement re-executes
	// this program in (child.Self), with the same bound.
	Roles map[string]Role
}

// Role is a child role: it runs until done or ctx ends, and says what the
// orchestrator needs on stdout.
type Role func(ctx context.Context, c Common, stdout io.Writer) error

// ErrEnvironment marks a machine or setup on which nothing can be measured
// (a missing tool or binary, too few CPUs, no root).
var ErrEnvironment = errors.New("cannot measure here")

// CheckBinary reports an rgap binary that is missing or not executable.
func CheckBinary(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: rgap binary: %w (build it with `make build`)", ErrEnvironment, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%w: rgap binary %s is not an executable file", ErrEnvironment, path)
	}
	return nil
}

// CheckPinning reports what makes pinning two processes to their own CPUs
// (flag names the flag that chose each) impossible here: no taskset, one
// CPU for both, or a CPU this process may not run on.
func CheckPinning(flagA string, a int, flagB string, b int) error {
	if _, err := exec.LookPath("taskset"); err != nil {
		return fmt.Errorf("%w: taskset not found; it pins the measured processes to their cores (apt-get install util-linux): %w", ErrEnvironment, err)
	}
	if a == b {
		return fmt.Errorf("%w: -%s and -%s are both %d", ErrEnvironment, flagA, flagB, a)
	}
	if err := child.CheckCPUs(a, b); err != nil {
		return fmt.Errorf("%w: %w; each needs one", ErrEnvironment, err)
	}
	return nil
}

// Run parses args and runs the measurement or the child role -mode names.
// It returns the exit status: 0 on a completed measurement (whatever its
// verdict, unless -strict), 1 when it failed or -strict saw a FAIL, 2 on bad
// usage.
func (b Bench) Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(b.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Common
	fs.StringVar(&c.RGAP, "rgap", "../bin/rgap", "path of the rgap binary measured")
	fs.IntVar(&c.Rounds, "rounds", b.Rounds, "rounds; the verdicts use the median over them")
	timeout := fs.Duration("timeout", b.Timeout, "bound on the whole run")
	strict := fs.Bool("strict", false, "exit 1 when a goal is missed")
	verbose := fs.Bool("v", false, "narrate each step on stderr")
	mode := fs.String("mode", "", "a child role the benchmark starts itself in (internal)")
	if b.Flags != nil {
		b.Flags(fs)
	}
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: go run . %s [flags]   (in bench/)\n\n%s\n\n", b.Name, b.Summary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		_, _ = fmt.Fprintf(stderr, "bench %s: "+format+"\n", append([]any{b.Name}, a...)...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected arguments %q", fs.Args())
	}
	if c.Rounds < 1 || *timeout <= 0 {
		return fail(2, "-rounds and -timeout must be positive")
	}
	c.Progress = io.Discard
	if *verbose {
		c.Progress = stderr
	}
	var err error
	if c.Dir, err = os.MkdirTemp("", "rgap-bench-"+b.Name+"-"); err != nil {
		return fail(1, "%v", err)
	}
	defer func() { _ = os.RemoveAll(c.Dir) }()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var pass bool
	if *mode != "" {
		role, ok := b.Roles[*mode]
		if !ok {
			return fail(2, "unknown -mode %q", *mode)
		}
		pass, err = true, role(ctx, c, stdout)
	} else {
		if b.Check != nil {
			if err := b.Check(c); err != nil {
				return fail(2, "%v", err)
			}
		}
		if _, err := fmt.Fprintf(stdout, "command: go run . %s\n", strings.Join(append([]string{b.Name}, args...), " ")); err != nil {
			return fail(1, "writing the report: %v", err)
		}
		pass, err = b.Measure(ctx, c, stdout)
	}
	switch {
	case err != nil:
		return fail(1, "%v", err)
	case *strict && !pass:
		return 1
	}
	return 0
}

// Rounds runs measure for each kind in each round, in the order of kinds
// in odd rounds and the reverse in even ones, so that a machine that warms
// up or gets busier over the run favours no kind; it narrates each run to
// progress and returns the runs in the order they ran.
func Rounds[M any](ctx context.Context, rounds int, kinds []string, progress io.Writer, measure func(round int, kind string) (M, error)) ([]M, error) {
	var ms []M
	for round := 1; round <= rounds; round++ {
		order := slices.Clone(kinds)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, kind := range order {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			start := time.Now()
			_, _ = fmt.Fprintf(progress, "round %d, %s ...\n", round, kind)
			m, err := measure(round, kind)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", round, kind, err)
			}
			_, _ = fmt.Fprintf(progress, "round %d, %s: done in %v\n", round, kind, time.Since(start).Round(time.Millisecond))
			ms = append(ms, m)
		}
	}
	return ms, nil
}
