package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// execute runs the program once with addrs on its standard input and
// forwards its output to log. It returns nil when the program exited with
// status 0.
func (o *output) execute(ctx context.Context, addrs []netip.Addr, log hclog.Logger) error {
	argv := o.settings.argv
	var input []byte
	for _, a := range addrs {
		input = append(a.AppendTo(input), '\n')
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(input)
	stdout := &lineLogger{log: log.With("stream", "stdout"), level: hclog.Info}
	stderr := &lineLogger{log: log.With("stream", "stderr"), level: hclog.Warn}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so that a kill reaches the children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = o.settings.waitDelay
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	log.Debug("command started", "pid", cmd.Process.Pid, "addresses", len(addrs))

	exited := make(chan struct{})
	killed := make(chan error, 1)
	go o.watch(ctx, cmd.Process.Pid, exited, killed)
	err := cmd.Wait()
	close(exited)
	reason := <-killed
	stdout.flush()
	stderr.flush()

	switch {
	case reason != nil:
		return reason
	case errors.Is(err, exec.ErrWaitDelay):
		// The program itself succeeded; something it started kept the
		// output open. Its remaining output is lost, not the run.
		log.Warn("command exited but its output stayed open longer than wait_delay; stopped reading it",
			"wait_delay", o.settings.waitDelay)
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return nil
}

// errTimedOut and errShutdownKill are the reasons watch kills a program.
var (
	errTimedOut     = errors.New("timed out")
	errShutdownKill = errors.New("still running at the end of the shutdown grace period")
)

// watch kills the process group pgid when the timeout expires or, for a
// program without a timeout, when the shutdown grace period that starts with
// ctx's cancellation ends. It sends the reason of a kill, or nil once exited
// is closed, on killed. The watch lasts until Wait returned, not just until
// the program's own exit: children still holding its output open are
// bounded by the timeout too.
func (o *output) watch(ctx context.Context, pgid int, exited <-chan struct{}, killed chan<- error) {
	var timeout, grace <-chan time.Time
	shutdown := ctx.Done()
	if o.settings.timeout > 0 {
		t := time.NewTimer(o.settings.timeout)
		defer t.Stop()
		timeout = t.C
		shutdown = nil // the timeout also bounds the shutdown
	}
	for {
		select {
		case <-exited:
			killed <- nil
			return
		case <-timeout:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			killed <- fmt.Errorf("%w after %v; process group killed", errTimedOut, o.settings.timeout)
			return
		case <-shutdown:
			shutdown = nil
			t := time.NewTimer(o.shutdownGrace)
			defer t.Stop()
			grace = t.C
		case <-grace:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			killed <- fmt.Errorf("%w (%v); process group killed", errShutdownKill, o.shutdownGrace)
			return
		}
	}
}

// exitCode returns the exit status of a program that exited on its own.
func exitCode(err error) (int, bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return ee.ExitCode(), true
	}
	return 0, false
}
