package command

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// GuardCommand is the hidden subcommand of the binary serving this plugin
// that runs the guard: the plugin starts `<its own executable> command-guard
// -- ARGS` for every attempt, and the binary's main calls Guard(ARGS).
const GuardCommand = "command-guard"

// The guard is a small supervising process between the plugin and the
// program, the same executable re-executed:
//
//	rgap plugin command ──> rgap command-guard ──> program ──> its children
//	(own process group)     (own process group)    (a new process group)
//
// It exists because the plugin cannot clean up after itself when it is
// killed with SIGKILL, and a parent-death signal reaches only a direct
// child, never the children of a shell. The guard:
//   - gets a parent-death signal (SIGTERM) from the plugin, and also
//     watches its parent PID, so it notices the plugin going away however
//     that happens (SIGKILL of the plugin or of the listener);
//   - is a child subreaper, so everything the program starts stays its
//     descendant, even after a double fork or a setsid;
//   - holds an exclusive lock (one file per group and command) from before
//     the program starts until every descendant was reaped, so a restarted
//     plugin's next run waits until the previous run is really gone;
//   - stops the program on SIGTERM: SIGTERM to its process group and to
//     every other descendant, then SIGKILL after the kill delay, repeated
//     until none is left;
//   - after the program exits, gives what it left running wait_delay to
//     finish, then stops it the same way (nothing outlives a run).
//
// It reports on file descriptor 3, one line each: "waiting" (the lock is
// held by a previous run), "started PID", then "exit CODE" or "signal
// NUMBER" (how the program ended), optionally preceded by "leftovers" (the
// program left processes behind that had to be stopped). A start failure
// is "error MESSAGE". Its exit status is the program's (128+N for signal N).

// guard status lines.
const (
	statusWaiting   = "waiting"
	statusStarted   = "started"
	statusError     = "error"
	statusLeftovers = "leftovers"
	statusExit      = "exit"
	statusSignal    = "signal"
)

// guardArgs builds the arguments after `--` of a guard invocation.
func guardArgs(waitDelay, killDelay time.Duration, lock string, argv []string) []string {
	return append([]string{waitDelay.String(), killDelay.String(), lock}, argv...)
}

// Guard runs the guard (see GuardCommand) with the arguments that followed
// `--` and returns its exit status. It is not for use by hand.
func Guard(args []string) int {
	status := os.NewFile(3, "status")
	if status == nil {
		fmt.Fprintln(os.Stderr, "rgap "+GuardCommand+": started without a status pipe; this mode is only for the command output")
		return 2
	}
	syscall.CloseOnExec(3) // the program must not inherit it
	g := &guard{status: status}
	if err := g.parse(args); err != nil {
		g.report(statusError, err.Error())
		return 2
	}
	return g.run()
}

type guard struct {
	status    *os.File
	waitDelay time.Duration // for leftovers; 0: no limit
	killDelay time.Duration // SIGTERM to SIGKILL; 0: SIGKILL at once
	lock      string
	argv      []string
}

func (g *guard) parse(args []string) error {
	if len(args) < 4 {
		return fmt.Errorf("want WAIT_DELAY KILL_DELAY LOCK PROGRAM [ARGS...], got %d arguments", len(args))
	}
	var err error
	if g.waitDelay, err = time.ParseDuration(args[0]); err != nil {
		return fmt.Errorf("wait delay: %w", err)
	}
	if g.killDelay, err = time.ParseDuration(args[1]); err != nil {
		return fmt.Errorf("kill delay: %w", err)
	}
	g.lock, g.argv = args[2], args[3:]
	return nil
}

func (g *guard) report(kind string, arg ...string) {
	line := kind
	if len(arg) > 0 {
		line += " " + strings.ReplaceAll(strings.Join(arg, " "), "\n", " ")
	}
	_, _ = g.status.WriteString(line + "\n")
}

// guard phases.
const (
	phaseRunning   = iota // the program runs
	phaseLeftovers        // it exited; what it left may finish within waitDelay
	phaseTerm             // SIGTERM sent; SIGKILL after killDelay
	phaseKill             // SIGKILL sent, and sent again to every new orphan
)

func (g *guard) run() int {
	// The program's parent-death signal follows this thread: keep it for
	// the guard's whole life.
	runtime.LockOSThread()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	parent := os.Getppid()
	if err := becomeSubreaper(); err != nil {
		g.report(statusError, "become a child subreaper: "+err.Error())
		return 1
	}
	if !g.takeLock(stop) {
		return 1
	}
	leader, code := g.start(stop)
	if code >= 0 {
		return code
	}
	// The guard keeps none of the program's standard streams open, so the
	// plugin sees their end as soon as the program's processes are gone.
	detachStdio()
	g.report(statusStarted, strconv.Itoa(leader))
	s := &supervision{guard: g, leader: leader, tick: time.NewTicker(parentCheckInterval)}
	defer s.tick.Stop()
	return s.loop(stop, chld, parent)
}

// takeLock takes the lock that allows one run at a time per lock file,
// across plugin restarts, waiting for the previous run if need be. The
// file stays open (and locked) until the guard exits. It reports false,
// having said why, when there will be no run.
func (g *guard) takeLock(stop <-chan os.Signal) bool {
	lock, err := os.OpenFile(g.lock, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		g.report(statusError, "lock file: "+err.Error())
		return false
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		return true
	}
	g.report(statusWaiting)
	locked := make(chan error, 1)
	go func() { locked <- flockWait(lock) }()
	select {
	case err := <-locked:
		if err != nil {
			g.report(statusError, "lock "+g.lock+": "+err.Error())
			return false
		}
		return true
	case <-stop:
		g.report(statusError, "stopped while waiting for the previous run to end")
		return false
	}
}

// start starts the program as the leader of its own process group. It
// returns the leader's pid and -1, or the guard's exit code when the
// program did not start (having said why).
func (g *guard) start(stop <-chan os.Signal) (leader, code int) {
	path, err := exec.LookPath(g.argv[0])
	if err != nil {
		g.report(statusError, err.Error())
		return 0, 127
	}
	select {
	case <-stop: // stopped before anything started
		g.report(statusError, "stopped before the program started")
		return 0, 1
	default:
	}
	leader, err = syscall.ForkExec(path, g.argv, &syscall.ProcAttr{ //nolint:gosec // running the operator's configured command is this plugin's job
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   programSysProcAttr(),
	})
	if err != nil {
		g.report(statusError, (&os.PathError{Op: "fork/exec", Path: path, Err: err}).Error())
		return 0, 126
	}
	return leader, -1
}

// supervision is the guard's watch over a started program and everything
// it starts, until all of it has ended.
type supervision struct {
	*guard
	leader   int
	phase    int
	ended    syscall.WaitStatus // the leader's, once it ended
	leftover bool               // processes outlived the leader by waitDelay
	timer    *time.Timer
	timerC   <-chan time.Time
	tick     *time.Ticker
}

func (s *supervision) setTimer(d time.Duration) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.NewTimer(d)
	s.timerC = s.timer.C
}

// terminate sends SIGTERM to everything the program started, and SIGKILL
// killDelay later (at once when killDelay is 0).
func (s *supervision) terminate() {
	if s.phase >= phaseTerm {
		return
	}
	signalAll(s.leader, syscall.SIGTERM)
	if s.killDelay <= 0 {
		s.phase = phaseKill
		signalAll(s.leader, syscall.SIGKILL)
		s.timerC = nil
		return
	}
	s.phase = phaseTerm
	s.setTimer(s.killDelay)
}

// loop reaps and signals until nothing the program started is left, and
// returns the guard's exit code: the program's own.
func (s *supervision) loop(stop, chld <-chan os.Signal, parent int) int {
	for {
		if code, done := s.reap(); done {
			return code
		}
		if s.phase == phaseKill {
			signalAll(s.leader, syscall.SIGKILL) // orphans re-parented since
		}
		select {
		case <-chld:
		case <-stop:
			s.terminate()
		case <-s.tick.C:
			if os.Getppid() != parent {
				s.terminate()
			}
		case <-s.timerC:
			s.timerC = nil
			switch s.phase {
			case phaseLeftovers:
				s.leftover = true
				s.terminate()
			case phaseTerm:
				s.phase = phaseKill
				signalAll(s.leader, syscall.SIGKILL)
			}
		}
	}
}

// reap collects every child that ended: the program and, as subreaper,
// whatever it left behind. When none is left, it reports the end and
// returns the guard's exit code and true.
func (s *supervision) reap() (code int, done bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.ECHILD) {
			// Nothing left: the program ended and everything it started
			// is gone.
			if s.leftover {
				s.report(statusLeftovers)
			}
			if s.ended.Signaled() {
				s.report(statusSignal, strconv.Itoa(int(s.ended.Signal())))
				return 128 + int(s.ended.Signal()), true
			}
			s.report(statusExit, strconv.Itoa(s.ended.ExitStatus()))
			return s.ended.ExitStatus(), true
		}
		if err != nil || pid <= 0 {
			return 0, false
		}
		if pid == s.leader {
			s.ended = ws
			if s.phase == phaseRunning {
				s.phase = phaseLeftovers
				if s.waitDelay > 0 {
					s.setTimer(s.waitDelay)
				}
			}
		}
	}
}

// parentCheckInterval is how often the guard looks for its parent, in case
// the parent-death signal did not fire.
const parentCheckInterval = 250 * time.Millisecond

// flockWait blocks until lock is locked exclusively.
func flockWait(lock *os.File) error {
	for {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// detachStdio points the guard's standard streams at /dev/null.
func detachStdio() {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer func() { _ = null.Close() }() // the duplicates made below stay open
	for fd := 0; fd <= 2; fd++ {
		_ = dupOnto(int(null.Fd()), fd)
	}
}

// signalAll sends sig to the program's process group and to every other
// child of the guard (descendants that left the group and were re-parented
// to it).
func signalAll(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
	for _, pid := range childrenOf(os.Getpid()) {
		_ = syscall.Kill(pid, sig)
	}
}
