// Package child starts, pins, watches and stops the processes a benchmark
// tool under internal/bench runs (never the product): the rgap binary
// under test, load generators, and the tool re-executed in another role.
//
// The tools share the same needs and the same hazards, so they share this
// code: a child must never outlive the tool (the kernel kills it when the
// tool dies, and stopping or cancelling kills whatever it started too, so
// a listener's plugins go with it); its output must be kept line by line,
// bounded, for the tool to wait on a line such as "listening" and to quote
// in an error; and a measured child is pinned to one CPU with taskset,
// which executes the command in place, so the PID measured is the
// program's own.
package child

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

// MaxKeptLines bounds the lines kept of one output stream of a child; the
// overflow is counted. A listener that logs per datagram would otherwise
// fill memory.
const MaxKeptLines = 20_000

// waitDelay bounds the wait for a child's output to close once it was
// killed (a grandchild may hold it open).
const waitDelay = 5 * time.Second

// tailLines is how many of its last lines an error quotes from a child.
const tailLines = 8

// Bounds on waiting for a child, the same in every benchmark.
const (
	StartTimeout = 15 * time.Second // a server child is up (StartServer)
	StopTimeout  = 10 * time.Second // a child exits after SIGTERM (Stop)
)

// ErrExited is returned when a child ends while it is waited on, or
// before it is stopped.
var ErrExited = errors.New("exited")

// Lines is an io.Writer that keeps what a child prints, line by line, and
// wakes whoever waits for a line.
type Lines struct {
	drop func(string) bool

	mu      sync.Mutex
	partial []byte
	lines   []string
	lost    int           // complete lines not kept
	notify  chan struct{} // capacity 1: "something new"
}

// NewLines returns an empty Lines. Lines for which drop returns true are
// only counted (dnsperf prints one line per lost query); drop may be nil.
func NewLines(drop func(string) bool) *Lines {
	return &Lines{drop: drop, notify: make(chan struct{}, 1)}
}

// Write implements io.Writer.
func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if (l.drop != nil && l.drop(line)) || len(l.lines) >= MaxKeptLines {
			l.lost++
			continue
		}
		l.lines = append(l.lines, line)
	}
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Snapshot returns the complete lines kept so far (a shared, immutable
// prefix) and how many more were not kept.
func (l *Lines) Snapshot() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines[:len(l.lines):len(l.lines)], l.lost
}

// Tail returns the last n lines kept, and any unterminated rest, for an
// error message.
func (l *Lines) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
	if len(l.partial) > 0 {
		s += "\n" + string(l.partial)
	}
	return s
}

// Options say how to start a child.
type Options struct {
	// Name names the child in errors ("listener", "dnsperf").
	Name string
	// Argv is the command; Pinned prefixes it to pin it to a CPU.
	Argv []string
	// Dir is the working directory (empty: this program's).
	Dir string
	// DropStdout filters standard output: lines it returns true for are
	// only counted. Nil keeps everything.
	DropStdout func(string) bool
}

// Process is a running child.
type Process struct {
	name string
	cmd  *exec.Cmd
	// Stdout and Stderr keep what the child writes.
	Stdout, Stderr *Lines
	exited         chan struct{}
	err            error // valid once exited is closed
}

// Pinned returns argv run by taskset on CPU cpu; argv itself when cpu is
// negative.
func Pinned(cpu int, argv ...string) []string {
	if cpu < 0 {
		return argv
	}
	return append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
}

// Start runs o.Argv. The child and everything it started are killed when
// ctx ends, and the kernel kills the child if this program dies first.
func Start(ctx context.Context, o Options) (*Process, error) {
	if len(o.Argv) == 0 {
		return nil, fmt.Errorf("%s: no command", o.Name)
	}
	p := &Process{name: o.Name, Stdout: NewLines(o.DropStdout), Stderr: NewLines(nil), exited: make(chan struct{})}
	cmd := exec.CommandContext(ctx, o.Argv[0], o.Argv[1:]...) //nolint:gosec // running the command the benchmark tool was configured to run is this package's job
	cmd.Dir = o.Dir
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { KillTree(cmd.Process.Pid); return nil }
	cmd.WaitDelay = waitDelay
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", o.Name, strings.Join(o.Argv, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// StartServer starts argv, a server role of this program, and waits for
// the "ready ADDR ..." line it prints on standard output once it serves;
// it returns the process and ADDR.
func StartServer(ctx context.Context, name string, argv []string) (*Process, netip.AddrPort, error) {
	p, err := Start(ctx, Options{Name: name, Argv: argv})
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	line, err := p.WaitLine(ctx, p.Stdout, StartTimeout, "its ready line", func(l string) bool { return strings.HasPrefix(l, "ready ") })
	var addr netip.AddrPort
	if err == nil {
		f, _, _ := strings.Cut(strings.TrimPrefix(line, "ready "), " ")
		if addr, err = netip.ParseAddrPort(f); err != nil {
			err = p.Failure(fmt.Errorf("ready line %q: %w", line, err))
		}
	}
	if err != nil {
		p.Kill()
		return nil, addr, err
	}
	return p, addr, nil
}

// PID is the child's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// WaitLine waits until a line of lines (p.Stdout or p.Stderr) satisfies
// match and returns it. It fails when the child exits first, ctx ends or
// timeout passes.
func (p *Process) WaitLine(ctx context.Context, lines *Lines, timeout time.Duration, what string, match func(string) bool) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	seen := 0
	look := func() (string, bool) {
		ls, _ := lines.Snapshot()
		for _, l := range ls[seen:] {
			if match(l) {
				return l, true
			}
		}
		seen = len(ls)
		return "", false
	}
	for {
		if l, ok := look(); ok {
			return l, nil
		}
		select {
		case <-lines.notify:
		case <-p.exited:
			if l, ok := look(); ok { // output may still have been arriving
				return l, nil
			}
			return "", p.Failure(fmt.Errorf("waiting for %s: %w (%v)", what, ErrExited, p.err))
		case <-ctx.Done():
			return "", p.Failure(fmt.Errorf("waiting for %s: %w", what, ctx.Err()))
		case <-timer.C:
			return "", p.Failure(fmt.Errorf("waiting for %s: nothing within %v", what, timeout))
		}
	}
}

// Wait waits until the child exits by itself, at most timeout; an exit
// status other than 0 is an error.
func (p *Process) Wait(ctx context.Context, timeout time.Duration) error {
	select {
	case <-p.exited:
		if p.err != nil {
			return p.Failure(p.err)
		}
		return nil
	case <-ctx.Done():
		return p.Failure(ctx.Err())
	case <-time.After(timeout):
		return p.Failure(fmt.Errorf("still running %v after it should have ended", timeout))
	}
}

// Running returns an error if the child has exited.
func (p *Process) Running() error {
	select {
	case <-p.exited:
		return p.Failure(fmt.Errorf("%w early (%v)", ErrExited, p.err))
	default:
		return nil
	}
}

// Stop sends SIGTERM and waits up to timeout for the child to exit (a
// listener stops its plugins first), then kills it. Whatever it had
// started and still runs is killed after. It returns an error when the
// child had exited already, exited with a status other than 0, or had to
// be killed; calling it again only repeats that error.
func (p *Process) Stop(timeout time.Duration) error {
	kids := procfs.Descendants(p.PID())
	defer killAll(kids) // ESRCH: already gone, as they should be
	select {
	case <-p.exited:
		return p.Failure(fmt.Errorf("%w before it was stopped (%v)", ErrExited, p.err))
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			return p.Failure(fmt.Errorf("exit after SIGTERM: %w", p.err))
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return p.Failure(fmt.Errorf("did not exit within %v of SIGTERM; killed", timeout))
	}
}

// Kill ends the child and whatever it started at once, if it still runs.
func (p *Process) Kill() {
	select {
	case <-p.exited:
	default:
		KillTree(p.PID())
		<-p.exited
	}
}

// Failure wraps err with the child's name and the end of its standard
// error, where a child says what went wrong.
func (p *Process) Failure(err error) error {
	if t := p.Stderr.Tail(tailLines); strings.TrimSpace(t) != "" {
		return fmt.Errorf("%s: %w; its last output:\n%s", p.name, err, Indent(t))
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

// Indent indents every line of s by four spaces, for quoting output in an
// error.
func Indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// Subcommand is the benchmark this program runs, set by the bench tool's
// main; Self repeats it so that a child role runs in the same benchmark.
// Empty in a test binary, which handles the roles itself.
var Subcommand string

// Self returns the command that re-executes this program, in the same
// benchmark.
func Self() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	argv := []string{exe}
	if Subcommand != "" {
		argv = append(argv, Subcommand)
	}
	return argv, nil
}

// KillTree kills pid and every process below it; the descendants are
// listed first so that none is re-parented out of reach before it is seen.
func KillTree(pid int) {
	kids := procfs.Descendants(pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	killAll(kids)
}

func killAll(pids []int) {
	for _, k := range pids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
}

// Affinity returns the CPUs this process may run on.
func Affinity() (unix.CPUSet, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return set, fmt.Errorf("read CPU affinity: %w", err)
	}
	return set, nil
}

// SetAffinity restricts every thread of this process to set, so that the
// orchestrator's own timers and goroutines stay off the measured child's
// CPU. Threads started later inherit the mask of the thread that starts
// them.
func SetAffinity(set *unix.CPUSet) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("set CPU affinity: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread may have exited since the listing: ESRCH is fine.
		if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("set CPU affinity of thread %d: %w", tid, err)
		}
	}
	return nil
}

// PinSelf restricts this process to CPU cpu (SetAffinity) and returns
// what restores the CPUs it had.
func PinSelf(cpu int) (restore func() error, err error) {
	saved, err := Affinity()
	if err != nil {
		return nil, err
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := SetAffinity(&set); err != nil {
		return nil, fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	return func() error { return SetAffinity(&saved) }, nil
}

// ErrCPU marks a CPU this process may not run on.
var ErrCPU = errors.New("CPU not available")

// CheckCPUs returns an error wrapping ErrCPU unless this process may run
// on every one of cpus.
func CheckCPUs(cpus ...int) error {
	set, err := Affinity()
	if err != nil {
		return err
	}
	for _, c := range cpus {
		if c < 0 || c >= len(set)*64 || !set.IsSet(c) {
			return fmt.Errorf("%w: CPU %d is not available to this process (%d CPUs are)", ErrCPU, c, set.Count())
		}
	}
	return nil
}
