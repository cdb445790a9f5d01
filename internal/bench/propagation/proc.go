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

// maxKeptLines bounds the log lines kept from the listener; the rest are
// counted. A listener that logged per datagram would otherwise fill memory.
const maxKeptLines = 20_000

// errExited is returned when a child ends while being waited on.
var errExited = errors.New("exited")

// lineLog is an io.Writer that keeps a process's output line by line and
// wakes whoever waits for a line.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	lost    int
	notify  chan struct{} // capacity 1: "something new"
}

func newLineLog() *lineLog { return &lineLog{notify: make(chan struct{}, 1)} }

// Write implements io.Writer.
func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		if len(l.lines) < maxKeptLines {
			l.lines = append(l.lines, string(l.partial[:i]))
		} else {
			l.lost++
		}
		l.partial = l.partial[i+1:]
	}
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

// snapshot returns the complete lines so far (a shared, immutable prefix)
// and how many more were not kept.
func (l *lineLog) snapshot() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines[:len(l.lines):len(l.lines)], l.lost
}

// tail returns the last n lines, and any unterminated rest, for errors.
func (l *lineLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
	if len(l.partial) > 0 {
		s += "\n" + string(l.partial)
	}
	return s
}

// process is a child: an `rgap listener` run, which logs JSON on standard
// error, or the control receiver. Standard output and error are merged
// into one log.
type process struct {
	name   string
	cmd    *exec.Cmd
	log    *lineLog
	exited chan struct{}
	err    error // valid once exited is closed
}

// startProcess starts argv. The kernel kills the child if this process
// dies first (and a listener's plugins die with the listener), so nothing
// outlives the benchmark.
func startProcess(ctx context.Context, name string, argv []string, env ...string) (*process, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	p := &process{name: name, cmd: cmd, log: newLineLog(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, strings.Join(argv, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// waitLine waits until a line of output satisfies match and returns it.
// It fails when the process exits first, ctx ends or timeout passes.
func (p *process) waitLine(ctx context.Context, timeout time.Duration, what string, match func(string) bool) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	seen := 0
	look := func() (string, bool) {
		lines, _ := p.log.snapshot()
		for _, l := range lines[seen:] {
			if match(l) {
				return l, true
			}
		}
		seen = len(lines)
		return "", false
	}
	for {
		if l, ok := look(); ok {
			return l, nil
		}
		select {
		case <-p.log.notify:
		case <-p.exited:
			if l, ok := look(); ok { // output may still have been arriving
				return l, nil
			}
			return "", p.failure(fmt.Errorf("waiting for %s: %w (%v)", what, errExited, p.err))
		case <-ctx.Done():
			return "", p.failure(fmt.Errorf("waiting for %s: %w", what, ctx.Err()))
		case <-timer.C:
			return "", p.failure(fmt.Errorf("waiting for %s: nothing within %v", what, timeout))
		}
	}
}

// waitLog waits until a JSON log line satisfies match and returns it.
func (p *process) waitLog(ctx context.Context, timeout time.Duration, what string, match func(logLine) bool) (logLine, error) {
	var found logLine
	_, err := p.waitLine(ctx, timeout, what, func(l string) bool {
		ll, ok := parseLogLine(l)
		if ok && match(ll) {
			found = ll
			return true
		}
		return false
	})
	return found, err
}

// stop sends SIGTERM and waits up to timeout for the process to exit (a
// listener stops its plugins first), then kills it.
func (p *process) stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.failure(fmt.Errorf("%w before it was stopped (%v)", errExited, p.err))
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			return p.failure(fmt.Errorf("exit after SIGTERM: %w", p.err))
		}
		return nil
	case <-time.After(timeout):
		p.kill()
		return p.failure(fmt.Errorf("did not exit within %v of SIGTERM; killed", timeout))
	}
}

// kill ends the process at once if it still runs; a listener's plugins
// get SIGKILL from their parent-death signal.
func (p *process) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// failure wraps err with the process's name and the end of its log,
// where it says what went wrong.
func (p *process) failure(err error) error {
	if t := p.log.tail(8); t != "" {
		return fmt.Errorf("%s: %w; its last output:\n%s", p.name, err, indent(t))
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// errNotOurPlugin is returned when a PID named in a record no longer is
// the plugin child of our listener (it exited, or the PID was reused).
var errNotOurPlugin = errors.New("not the benchmark's plugin process")

// checkPluginProcess makes sure pid is a child of parent running the
// executable at path, before the orchestrator sends it SIGKILL.
func checkPluginProcess(pid, parent int, path string) error {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return fmt.Errorf("process %d: %w: %w", pid, errNotOurPlugin, err)
	}
	ppid, err := parentPID(status)
	if err != nil {
		return fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	if ppid != parent {
		return fmt.Errorf("process %d: %w: its parent is %d, not the listener %d", pid, errNotOurPlugin, ppid, parent)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return fmt.Errorf("process %d: %w: %w", pid, errNotOurPlugin, err)
	}
	if exe != path {
		return fmt.Errorf("process %d: %w: it runs %s, not %s", pid, errNotOurPlugin, exe, path)
	}
	return nil
}

// errProcFormat marks /proc content this tool cannot read.
var errProcFormat = errors.New("unexpected /proc format")

// parentPID reads the PPid line of /proc/<pid>/status.
func parentPID(status []byte) (int, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("PPid:"))
		if !ok {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(rest)))
		if err != nil {
			return 0, fmt.Errorf("%w: PPid: %w", errProcFormat, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%w: no PPid line", errProcFormat)
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat; Linux fixes it
// at 100 for user space.
const userHZ = 100

// processCPU returns the user plus system CPU time pid has used, counting
// all its threads, with /proc's 10 ms resolution.
func processCPU(pid int) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("%s: %w: no ')' closing the command name", path, errProcFormat)
	}
	f := bytes.Fields(b[end+1:])
	const utime, stime = 14 - 3, 15 - 3 // fields 14 and 15, counted after the command name
	if len(f) <= stime {
		return 0, fmt.Errorf("%s: %w: %d fields", path, errProcFormat, len(f))
	}
	u, err1 := strconv.ParseUint(string(f[utime]), 10, 64)
	s, err2 := strconv.ParseUint(string(f[stime]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%s: %w: %w", path, errProcFormat, err)
	}
	return time.Duration(u+s) * time.Second / userHZ, nil
}

// machineBusy returns the busy and total CPU time of all CPUs, in clock
// ticks, from the first line of /proc/stat.
func machineBusy() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: %w: first line %q", errProcFormat, line)
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w: %w", errProcFormat, err)
		}
		if i >= 8 { // guest times are already counted in user and nice
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// usage samples the machine and some processes to tell, over a span, how
// busy the machine was and how much of that was ours.
type usage struct {
	busy, total uint64
	cpu         time.Duration
	pids        []int
}

// sampleUsage reads the machine's CPU counters and the CPU time of pids.
func sampleUsage(pids ...int) (usage, error) {
	u := usage{pids: pids}
	var err error
	if u.busy, u.total, err = machineBusy(); err != nil {
		return u, err
	}
	for _, pid := range pids {
		c, err := processCPU(pid)
		if err != nil {
			return u, err
		}
		u.cpu += c
	}
	return u, nil
}

// since returns, over the span from u0 to now, the share of all CPUs that
// was busy and the CPU time pids used.
func (u0 usage) since() (busyShare float64, cpu time.Duration, err error) {
	u1, err := sampleUsage(u0.pids...)
	if err != nil {
		return 0, 0, err
	}
	if u1.total > u0.total {
		busyShare = float64(u1.busy-u0.busy) / float64(u1.total-u0.total)
	}
	return busyShare, u1.cpu - u0.cpu, nil
}
