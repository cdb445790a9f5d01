package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxKeptLines bounds the output kept from one child. A listener that logs
// per datagram would otherwise fill memory; the overflow is counted.
const maxKeptLines = 10_000

// errChildExited is returned when a child ends while being waited on.
var errChildExited = errors.New("exited")

// lineLog is an io.Writer that keeps what a child prints, line by line,
// and wakes whoever waits for a line.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	lost    int           // complete lines beyond maxKeptLines
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

// snapshot returns the lines kept so far, and how many were not kept.
func (l *lineLog) snapshot() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines[:len(l.lines):len(l.lines)], l.lost
}

// tail returns the last n lines (and any unterminated rest) for an error
// message.
func (l *lineLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines[max(0, len(l.lines)-n):]
	s := strings.Join(lines, "\n")
	if len(l.partial) > 0 {
		s += "\n" + string(l.partial)
	}
	return s
}

// child is a process started by the orchestrator (a receiver or the
// sender), pinned to one CPU by taskset.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *lineLog // standard output
	errOut *lineLog // standard error
	exited chan struct{}
	err    error // valid once exited is closed
}

// startChild runs argv[0] with argv[1:] pinned to cpu. The child is killed
// when ctx ends, and by the kernel if the orchestrator dies first.
func startChild(ctx context.Context, name string, cpu int, argv []string) (*child, error) {
	args := append([]string{"-c", fmt.Sprint(cpu)}, argv...)
	cmd := exec.CommandContext(ctx, "taskset", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	c := &child{name: name, cmd: cmd, out: newLineLog(), errOut: newLineLog(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.errOut
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.stdin = stdin
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, strings.Join(cmd.Args, " "), err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// pid is the child's process id: taskset executes the command in place, so
// it is also the measured program's.
func (c *child) pid() int { return c.cmd.Process.Pid }

// waitLine waits until a line of log satisfies match and returns it. It
// fails when the child exits first, ctx ends or timeout passes.
func (c *child) waitLine(ctx context.Context, log *lineLog, timeout time.Duration, what string, match func(string) bool) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	seen := 0
	for {
		lines, _ := log.snapshot()
		for _, l := range lines[seen:] {
			if match(l) {
				return l, nil
			}
		}
		seen = len(lines)
		select {
		case <-log.notify:
		case <-c.exited:
			// Output may still have been arriving: look once more.
			lines, _ := log.snapshot()
			for _, l := range lines[seen:] {
				if match(l) {
					return l, nil
				}
			}
			return "", c.failure(fmt.Errorf("waiting for %s: %w (%v)", what, errChildExited, c.err))
		case <-ctx.Done():
			return "", c.failure(fmt.Errorf("waiting for %s: %w", what, ctx.Err()))
		case <-timer.C:
			return "", c.failure(fmt.Errorf("waiting for %s: no answer within %v", what, timeout))
		}
	}
}

// stop sends SIGTERM and waits up to timeout for the child to exit, then
// kills it. It returns the exit error, if any.
func (c *child) stop(timeout time.Duration) error {
	select {
	case <-c.exited:
		return c.err
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return c.err
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return c.failure(fmt.Errorf("did not exit within %v of SIGTERM; killed", timeout))
	}
}

// wait waits up to timeout for the child to exit by itself.
func (c *child) wait(timeout time.Duration) error {
	select {
	case <-c.exited:
		if c.err != nil {
			return c.failure(c.err)
		}
		return nil
	case <-time.After(timeout):
		return c.failure(fmt.Errorf("still running %v after it should have ended", timeout))
	}
}

// kill ends the child at once, if it still runs.
func (c *child) kill() {
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// failure wraps err with the child's name and the end of its standard
// error, where a child says what went wrong.
func (c *child) failure(err error) error {
	if t := c.errOut.tail(8); t != "" {
		return fmt.Errorf("%s: %w; its last output:\n%s", c.name, err, indent(t))
	}
	return fmt.Errorf("%s: %w", c.name, err)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// executable is the path this program was started from, for re-executing
// itself as a child.
func executable() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own executable: %w", err)
	}
	return p, nil
}
