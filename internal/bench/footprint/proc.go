package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on waiting for a process.
const (
	startTimeout = 20 * time.Second // the listener has all its plugins up
	stopTimeout  = 10 * time.Second // a process exits after SIGTERM
)

// tailBuf keeps the last lines a process wrote, for error messages.
type tailBuf struct {
	mu    sync.Mutex
	lines []string
	part  []byte
}

const keptLines = 12

// Write implements io.Writer.
func (t *tailBuf) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.part[:i]))
		if len(t.lines) > keptLines {
			t.lines = t.lines[1:]
		}
		t.part = t.part[i+1:]
	}
	return len(p), nil
}

func (t *tailBuf) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(append(t.lines[:len(t.lines):len(t.lines)], string(t.part)), "\n")
}

// proc is a process this program started.
type proc struct {
	name   string
	argv   []string
	cmd    *exec.Cmd
	stdout *lineWaiter
	stderr tailBuf
	exited chan struct{}
	err    error // valid once exited is closed
}

// startProc runs argv in dir with env added to this program's environment.
// The process and everything it started are killed when ctx ends, and the
// kernel kills the process if this program dies first.
func startProc(ctx context.Context, name, dir string, env []string, argv []string) (*proc, error) {
	p := &proc{name: name, argv: argv, stdout: newLineWaiter(), exited: make(chan struct{})}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = p.stdout, &p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { killTree(cmd.Process.Pid); return nil }
	cmd.WaitDelay = stopTimeout
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

func (p *proc) pid() int { return p.cmd.Process.Pid }

// running reports an error if the process has exited.
func (p *proc) running() error {
	select {
	case <-p.exited:
		return p.failure(fmt.Errorf("exited early (%v)", p.err))
	default:
		return nil
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
	if t := strings.TrimSpace(p.stderr.String()); t != "" {
		return fmt.Errorf("%s: %w; its last output:\n    %s", p.name, err, strings.ReplaceAll(t, "\n", "\n    "))
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

// lineWaiter keeps the first line written to it and lets a caller wait
// for it: a plugin's go-plugin handshake.
type lineWaiter struct {
	mu    sync.Mutex
	buf   []byte
	first chan string
	sent  bool
}

func newLineWaiter() *lineWaiter { return &lineWaiter{first: make(chan string, 1)} }

// Write implements io.Writer.
func (l *lineWaiter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.sent {
		l.buf = append(l.buf, p...)
		if i := bytes.IndexByte(l.buf, '\n'); i >= 0 {
			l.first <- string(l.buf[:i])
			l.sent = true
			l.buf = nil
		}
	}
	return len(p), nil
}

// killTree kills pid and every process below it.
func killTree(pid int) {
	kids := descendants(pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
}

// children returns the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	for child, parent := range processParents() {
		if parent == pid {
			out = append(out, child)
		}
	}
	return out
}

// descendants returns every process below pid.
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
		if pp, err := parsePPID(b); err == nil {
			m[pid] = pp
		}
	}
	return m
}

// parsePPID reads the parent pid (field 4) from /proc/PID/stat. The
// command name (field 2) is in parentheses and may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parsePPID(b []byte) (int, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("%w: no ')' closing the command name", errProcFormat)
	}
	f := bytes.Fields(b[end+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("%w: %d fields after the command name, want at least 2", errProcFormat, len(f))
	}
	pp, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, fmt.Errorf("%w: ppid: %w", errProcFormat, err)
	}
	return pp, nil
}

// threads returns the number of threads of pid.
func threads(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// environHas reports which of keys are set in pid's environment.
func environHas(pid int, keys []string) (map[string]bool, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, kv := range splitCmdline(b) {
		k, _, _ := strings.Cut(kv, "=")
		for _, want := range keys {
			if k == want {
				set[k] = true
			}
		}
	}
	return set, nil
}
