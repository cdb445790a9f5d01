package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"github.com/hashicorp/go-plugin/runner"

	"github.com/rgap-project/rgap/internal/pluginhost/pluginfile"
)

// errCanceled: the launch was abandoned before the process was started.
var errCanceled = errors.New("launch canceled")

// spawnReq is one process start handed to the spawner thread.
type spawnReq struct {
	fn   func() error
	done chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

// spawn runs fn on the spawner goroutine. That goroutine is locked to its OS
// thread and never returns, so the thread lives as long as the process: the
// kernel's parent-death signal (Pdeathsig) fires when the *thread* that
// forked a child exits, not the process, and Go may otherwise retire the
// forking thread at any time and SIGKILL a healthy plugin with it.
func spawn(fn func() error) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must not exit
			for r := range spawnCh {
				r.done <- r.fn()
			}
		}()
	})
	done := make(chan error, 1)
	spawnCh <- spawnReq{fn: fn, done: done}
	return <-done
}

// proc runs one plugin process for go-plugin (runner.Runner). It exists so
// that the process is forked from the spawner thread with Pdeathsig and its
// own process group, that an out-of-tree file is checked and hashed right
// before exec, and so that Kill takes down the whole process group.
type proc struct {
	kind   string
	path   string   // executable; for out-of-tree plugins verified first
	argv0  string   // argv[0]; empty: the executed path
	args   []string // argv[1:]
	verify bool     // run pluginfile.Verify before exec
	pin    []byte
	env    []string
	tmpDir string // go-plugin's socket directory, removed if Start fails

	mu       sync.Mutex
	cmd      *exec.Cmd
	stdout   io.ReadCloser
	stderr   io.ReadCloser
	pid      int
	exe      string // the path actually executed
	canceled bool
	exited   bool  // Wait returned
	exitErr  error // what Wait returned
}

var _ runner.Runner = (*proc)(nil)

// Start starts the process from the spawner thread.
func (p *proc) Start(context.Context) error {
	err := spawn(p.start)
	if err != nil && p.tmpDir != "" {
		_ = os.RemoveAll(p.tmpDir)
	}
	return err
}

// start runs on the spawner thread.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.canceled {
		return errCanceled
	}
	path := p.path
	if p.verify {
		resolved, err := pluginfile.Verify(p.path, p.pin)
		if err != nil {
			return err
		}
		path = resolved
	}
	argv0 := p.argv0
	if argv0 == "" {
		argv0 = path
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        append([]string{argv0}, p.args...),
		Env:         p.env,
		SysProcAttr: sysProcAttr(),
		// Stdin stays nil (/dev/null): a plugin has no business with the
		// listener's terminal.
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("stdout pipe: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("stderr pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	p.cmd, p.stdout, p.stderr, p.pid, p.exe = cmd, stdout, stderr, cmd.Process.Pid, path
	return nil
}

// cancel prevents a pending start and kills a started process group. It is
// how a launch blocked in go-plugin's handshake is abandoned.
func (p *proc) cancel() {
	p.mu.Lock()
	p.canceled = true
	p.mu.Unlock()
	p.killGroup()
}

// killGroup sends SIGKILL to the plugin's process group, which includes
// anything the plugin started that did not leave the group.
func (p *proc) killGroup() {
	p.mu.Lock()
	pid := p.pid
	p.mu.Unlock()
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// The remaining methods implement runner.Runner for go-plugin.

// Wait waits for the process to exit.
func (p *proc) Wait(context.Context) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return errCanceled
	}
	err := cmd.Wait()
	p.mu.Lock()
	p.exited, p.exitErr = true, err
	p.mu.Unlock()
	return err
}

// exitStatus describes how the process ended ("exit status 1", "signal:
// killed"); "" while it runs.
func (p *proc) exitStatus() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.exited:
		return ""
	case p.exitErr == nil:
		return "exit status 0"
	}
	return p.exitErr.Error()
}

// Kill kills the process group.
func (p *proc) Kill(context.Context) error {
	p.killGroup()
	return nil
}

func (p *proc) Stdout() io.ReadCloser { return p.stdout }
func (p *proc) Stderr() io.ReadCloser { return p.stderr }
func (p *proc) Name() string          { return stderrLoggerName }

func (p *proc) ID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid == 0 {
		return ""
	}
	return strconv.Itoa(p.pid)
}

// Pid returns the process id, 0 before the start.
func (p *proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// Exe returns the path that was executed (symbolic links resolved for
// out-of-tree plugins), "" before the start.
func (p *proc) Exe() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exe
}

// Diagnose returns nothing: the launcher adds the plugin's last stderr lines
// to every start error itself.
func (p *proc) Diagnose(context.Context) string { return "" }

func (p *proc) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (p *proc) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
