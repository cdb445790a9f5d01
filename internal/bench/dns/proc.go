package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on waiting for a child.
const (
	startTimeout = 15 * time.Second // a server is up
	stopTimeout  = 10 * time.Second // a child exits after SIGTERM
)

// maxKeptLines bounds what is kept of one child's output; the rest is
// counted.
const maxKeptLines = 20_000

// errExited is returned when a child ends while it is waited on.
var errExited = errors.New("exited")

// lineBuf is an io.Writer that keeps a child's output line by line and
// wakes whoever waits for a line. Lines for which drop returns true are
// only counted: dnsperf prints one line per lost query.
type lineBuf struct {
	drop func(string) bool

	mu      sync.Mutex
	partial []byte
	lines   []string
	dropped int
	notify  chan struct{} // capacity 1: "something new"
}

func newLineBuf(drop func(string) bool) *lineBuf {
	return &lineBuf{drop: drop, notify: make(chan struct{}, 1)}
}

// Write implements io.Writer.
func (l *lineBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if (l.drop != nil && l.drop(line)) || len(l.lines) >= maxKeptLines {
			l.dropped++
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

// snapshot returns the lines kept so far and how many were not kept.
func (l *lineBuf) snapshot() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines[:len(l.lines):len(l.lines)], l.dropped
}

// tail returns the last n lines, for an error message.
func (l *lineBuf) tail(n int) string {
	lines, _ := l.snapshot()
	s := strings.Join(lines[max(0, len(lines)-n):], "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		s += "\n" + string(l.partial)
	}
	return s
}

// proc is a process this program started.
type proc struct {
	name   string
	argv   []string // as executed, for the report
	cmd    *exec.Cmd
	out    *lineBuf // standard output
	errOut *lineBuf // standard error
	exited chan struct{}
	err    error // valid once exited is closed
}

// startProc runs argv, pinned to cpu with taskset unless cpu is negative.
// dropOut filters its standard output (nil keeps everything). The process
// and everything it started are killed when ctx ends, and the kernel kills
// the process if this program dies first.
func startProc(ctx context.Context, name string, cpu int, dropOut func(string) bool, argv []string) (*proc, error) {
	if cpu >= 0 {
		argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	}
	p := &proc{name: name, argv: argv, out: newLineBuf(dropOut), errOut: newLineBuf(nil), exited: make(chan struct{})}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { killTree(cmd.Process.Pid); return nil }
	cmd.WaitDelay = stopTimeout
	cmd.Stdout, cmd.Stderr = p.out, p.errOut
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, strings.Join(argv, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// pid is the process id; taskset executes the command in place, so it is
// the measured program's.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// commandLine is argv as a shell would show it.
func (p *proc) commandLine() string { return strings.Join(p.argv, " ") }

// waitLine waits until a line of buf satisfies match and returns it. It
// fails when the process exits first, ctx ends or timeout passes.
func (p *proc) waitLine(ctx context.Context, buf *lineBuf, timeout time.Duration, what string, match func(string) bool) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	seen := 0
	for {
		lines, _ := buf.snapshot()
		for _, l := range lines[seen:] {
			if match(l) {
				return l, nil
			}
		}
		seen = len(lines)
		select {
		case <-buf.notify:
		case <-p.exited:
			lines, _ := buf.snapshot()
			for _, l := range lines[seen:] {
				if match(l) {
					return l, nil
				}
			}
			return "", p.failure(fmt.Errorf("waiting for %s: %w (%v)", what, errExited, p.err))
		case <-ctx.Done():
			return "", p.failure(fmt.Errorf("waiting for %s: %w", what, ctx.Err()))
		case <-timer.C:
			return "", p.failure(fmt.Errorf("waiting for %s: nothing within %v", what, timeout))
		}
	}
}

// wait waits until the process exits by itself, at most timeout.
func (p *proc) wait(ctx context.Context, timeout time.Duration) error {
	select {
	case <-p.exited:
		if p.err != nil {
			return p.failure(p.err)
		}
		return nil
	case <-ctx.Done():
		return p.failure(ctx.Err())
	case <-time.After(timeout):
		return p.failure(fmt.Errorf("still running %v after it should have ended", timeout))
	}
}

// stop sends SIGTERM, waits up to stopTimeout, then kills the process and
// whatever it started that still runs. Safe to call more than once.
func (p *proc) stop() {
	kids := descendants(p.pid())
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL) // ESRCH: already gone, as it should be
	}
}

// failure wraps err with the process name and the end of its standard
// error.
func (p *proc) failure(err error) error {
	if t := p.errOut.tail(8); t != "" {
		return fmt.Errorf("%s: %w; its last output:\n    %s", p.name, err,
			strings.ReplaceAll(strings.TrimRight(t, "\n"), "\n", "\n    "))
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

// killTree kills pid and every process below it, children first listed so
// that none is re-parented out of reach before it is seen.
func killTree(pid int) {
	kids := descendants(pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
}

// descendants returns the processes below pid, from /proc.
func descendants(pid int) []int {
	parents := processParents()
	var out []int
	frontier := []int{pid}
	for len(frontier) > 0 {
		next := frontier[0]
		frontier = frontier[1:]
		for child, parent := range parents {
			if parent == next {
				out = append(out, child)
				frontier = append(frontier, child)
			}
		}
	}
	return out
}

// processParents maps every process id to its parent's; processes that
// vanish while being read are left out.
func processParents() map[int]int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	m := make(map[int]int, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st, err := parseStat(b)
		if err != nil {
			continue
		}
		m[pid] = st.ppid
	}
	return m
}

// userHZ is the unit of CPU times in /proc/<pid>/stat and /proc/stat;
// Linux fixes it at 100 for user space.
const userHZ = 100

// errProcFormat marks /proc content this program cannot read.
var errProcFormat = errors.New("unexpected /proc format")

// stat is what this program reads of /proc/<pid>/stat.
type stat struct {
	ppid int
	cpu  time.Duration // utime + stime
}

// parseStat reads /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may hold spaces and parentheses, so fields are counted
// from the last ')': state is field 3, ppid 4, utime 14, stime 15.
func parseStat(b []byte) (stat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return stat{}, fmt.Errorf("%w: no ')' closing the command name", errProcFormat)
	}
	f := bytes.Fields(b[end+1:])
	const ppid, utime, stime = 4 - 3, 14 - 3, 15 - 3
	if len(f) <= stime {
		return stat{}, fmt.Errorf("%w: %d fields after the command name, want at least %d", errProcFormat, len(f), stime+1)
	}
	pp, err1 := strconv.Atoi(string(f[ppid]))
	u, err2 := strconv.ParseUint(string(f[utime]), 10, 64)
	s, err3 := strconv.ParseUint(string(f[stime]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return stat{}, fmt.Errorf("%w: %w", errProcFormat, err)
	}
	return stat{ppid: pp, cpu: time.Duration(u+s) * time.Second / userHZ}, nil
}

// treeCPU returns the CPU time used so far by pid and every process below
// it that still runs.
func treeCPU(pid int) (time.Duration, error) {
	var total time.Duration
	for i, p := range append([]int{pid}, descendants(pid)...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			if i == 0 {
				return 0, err
			}
			continue // a child that just ended
		}
		st, err := parseStat(b)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", p, err)
		}
		total += st.cpu
	}
	return total, nil
}

// cpuBusy returns the time CPU cpu has spent not idle since boot.
func cpuBusy(cpu int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	ticks, err := parseProcStatBusy(b, cpu)
	if err != nil {
		return 0, fmt.Errorf("/proc/stat: %w", err)
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseProcStatBusy reads the line "cpuN user nice system idle iowait irq
// softirq steal ..." of /proc/stat and returns user+nice+system+irq+
// softirq+steal in ticks (guest time is inside user already).
func parseProcStatBusy(b []byte, cpu int) (uint64, error) {
	name := []byte("cpu" + strconv.Itoa(cpu))
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) == 0 || !bytes.Equal(f[0], name) {
			continue
		}
		if len(f) < 9 {
			return 0, fmt.Errorf("%w: %s has %d values, want at least 8", errProcFormat, name, len(f)-1)
		}
		var busy uint64
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			v, err := strconv.ParseUint(string(f[i]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: %s value %d: %w", errProcFormat, name, i, err)
			}
			busy += v
		}
		return busy, nil
	}
	return 0, fmt.Errorf("%w: no line for %s", errProcFormat, name)
}
