package command

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/sdk"
)

// execute runs the program once, through a guard (see GuardCommand), with
// input (lines members) on its standard input and its output forwarded to
// log. It returns nil when the program exited with status 0.
func (o *output) execute(ctx context.Context, input []byte, lines int, log hclog.Logger) error {
	argv := o.settings.argv
	lock, err := lockPath(o.lockDir, o.settings)
	if err != nil {
		return err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("status pipe: %w", err)
	}
	defer func() { _ = statusR.Close() }() // the read end; read to EOF below
	args := guardArgs(o.settings.waitDelay, min(o.settings.waitDelay, maxKillDelay), lock, argv)
	cmd := &exec.Cmd{
		Path: o.guardExe,
		Args: append([]string{"rgap", GuardCommand, "--"}, args...),
		Env:  sdk.ProgramEnv(),
		// The guard's own process group and parent-death signal.
		SysProcAttr: guardSysProcAttr(),
		ExtraFiles:  []*os.File{statusW},
		Stdin:       bytes.NewReader(input),
		// Only a guard killed from outside can leave the program holding
		// the output open; do not wait for it then.
		WaitDelay: time.Second,
	}
	stdout := &lineLogger{log: log.With("stream", "stdout"), level: hclog.Info}
	stderr := &lineLogger{log: log.With("stream", "stderr"), level: hclog.Warn}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = spawn(cmd.Start)
	_ = statusW.Close() // our copy of the write end, closed so that EOF comes when the guard's is; a pipe's close loses nothing
	if err != nil {
		return fmt.Errorf("start the guard process %s for %s: %w", o.guardExe, argv[0], err)
	}
	status := make(chan guardStatus, 1)
	go func() { status <- readStatus(statusR, log, cmd.Process.Pid, lines) }()

	exited := make(chan struct{})
	killed := make(chan error, 1)
	go o.watch(ctx, cmd.Process.Pid, exited, killed)
	waitErr := cmd.Wait()
	close(exited)
	reason := <-killed
	st := <-status
	stdout.flush()
	stderr.flush()

	switch {
	case st.startErr != "":
		return fmt.Errorf("start %s: %s", argv[0], st.startErr)
	case reason != nil:
		return reason
	case !st.done:
		return fmt.Errorf("%s: the guard process ended without reporting how the program ended: %w", argv[0], waitErr)
	}
	if st.leftovers {
		log.Warn("command exited but processes it started still ran after wait_delay; they were stopped",
			"wait_delay", o.settings.waitDelay)
	}
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		log.Warn("command output stayed open after the guard process ended; stopped reading it")
	}
	if st.exit != nil {
		return fmt.Errorf("%s: %w", argv[0], st.exit)
	}
	return nil
}

// guardStatus is what the guard reported.
type guardStatus struct {
	startErr  string
	leftovers bool
	done      bool         // the program's end was reported
	exit      *programExit // nil: exit status 0
}

// programExit is a program that exited with a non-zero status or was
// killed by a signal.
type programExit struct {
	code   int
	signal syscall.Signal // 0: exited with code
}

func (e *programExit) Error() string {
	if e.signal != 0 {
		return "signal: " + e.signal.String()
	}
	return "exit status " + strconv.Itoa(e.code)
}

// readStatus reads the guard's status lines until it exits.
func readStatus(r io.Reader, log hclog.Logger, guardPID, addrs int) guardStatus {
	var st guardStatus
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		kind, arg, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case statusWaiting:
			log.Warn("a previous run of this command is still being stopped; waiting for it to end")
		case statusStarted:
			log.Debug("command started", "pid", arg, "guard_pid", guardPID, "addresses", addrs)
		case statusError:
			st.startErr = arg
		case statusLeftovers:
			st.leftovers = true
		case statusExit, statusSignal:
			n, err := strconv.Atoi(arg)
			if err != nil {
				continue
			}
			st.done = true
			switch {
			case kind == statusSignal:
				st.exit = &programExit{code: -1, signal: syscall.Signal(n)}
			case n != 0:
				st.exit = &programExit{code: n}
			}
		}
	}
	return st
}

// maxKillDelay bounds the time between SIGTERM and SIGKILL when a run is
// stopped, so that stopping the output stays bounded whatever wait_delay is.
const maxKillDelay = time.Second

// errTimedOut and errShutdownKill are the reasons watch stops a program.
var (
	errTimedOut     = errors.New("timed out")
	errShutdownKill = errors.New("still running at the end of the stop grace period")
)

// watch stops the run (SIGTERM to the guard, which stops the program's
// process group) when the timeout expires or when the stop grace period
// that starts with ctx's cancellation ends, whichever comes first. It sends
// the reason of a stop, or nil once exited is closed, on killed.
func (o *output) watch(ctx context.Context, guardPID int, exited <-chan struct{}, killed chan<- error) {
	var timeout, grace <-chan time.Time
	if o.settings.timeout > 0 {
		t := time.NewTimer(o.settings.timeout)
		defer t.Stop()
		timeout = t.C
	}
	shutdown := ctx.Done()
	var reason error
	for {
		select {
		case <-exited:
			killed <- reason
			return
		case <-timeout:
			timeout, grace = nil, nil
			if reason == nil {
				reason = fmt.Errorf("%w after %v; process group stopped", errTimedOut, o.settings.timeout)
				_ = syscall.Kill(guardPID, syscall.SIGTERM)
			}
		case <-shutdown:
			shutdown = nil
			t := time.NewTimer(o.shutdownGrace)
			defer t.Stop()
			grace = t.C
		case <-grace:
			grace, timeout = nil, nil
			if reason == nil {
				reason = fmt.Errorf("%w (%v); process group stopped", errShutdownKill, o.shutdownGrace)
				_ = syscall.Kill(guardPID, syscall.SIGTERM)
			}
		}
	}
}

// exitCode returns the exit status of a program that exited on its own.
func exitCode(err error) (int, bool) {
	var pe *programExit
	if errors.As(err, &pe) && pe.signal == 0 {
		return pe.code, true
	}
	return 0, false
}

// lockPath returns the lock file of the guard for s in dir (created, mode
// 0700, when missing): one per group and command line, so that two runs of
// the same output never overlap, even across plugin restarts.
func lockPath(dir string, s *settings) (string, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("lock directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("lock directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || (ok && int(st.Uid) != os.Geteuid()) {
		return "", fmt.Errorf("lock directory %s: must be a directory of user %d with mode 0700, is %v", dir, os.Geteuid(), fi.Mode())
	}
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, s.group)
	for _, a := range s.argv {
		h.Write([]byte(a))
		h.Write([]byte{0})
	}
	return filepath.Join(dir, hex.EncodeToString(h.Sum(nil)[:16])+".lock"), nil
}

// defaultLockDir is where the guards' lock files live.
func defaultLockDir() string {
	return filepath.Join(os.TempDir(), "rgap-command-"+strconv.Itoa(os.Geteuid()))
}

var (
	spawnOnce sync.Once
	spawnCh   chan func()
)

// spawn runs start on a goroutine locked to its OS thread for the life of
// the process: the guard's parent-death signal fires when the thread that
// forked it exits, and Go may otherwise retire a thread at any time.
func spawn(start func() error) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must not exit
			for fn := range spawnCh {
				fn()
			}
		}()
	})
	done := make(chan error, 1)
	spawnCh <- func() { done <- start() }
	return <-done
}
