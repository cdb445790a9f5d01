package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/netnstest"
)

// rgapBin is the binary built once by TestMain.
var rgapBin string

// binEnv hands rgapBin to a test process re-executed inside a network
// namespace (see inNetns), which then does not build it again.
const binEnv = "RGAP_E2E_BIN"

func TestMain(m *testing.M) {
	if netnstest.InChild() {
		// Re-executed inside a private network namespace: just run the tests
		// (the -test.run filter was passed through).
		rgapBin = os.Getenv(binEnv)
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "rgap-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rgapBin = filepath.Join(dir, "rgap")
	// -buildvcs=auto: embed the commit like `make build` does, whatever
	// GOFLAGS says, so TestVersionNamesCommit sees what an operator would.
	build := exec.Command("go", "build", "-race", "-buildvcs=auto", "-o", rgapBin, "github.com/rgap-project/rgap/cmd/rgap") //nolint:gosec // building this module's rgap into a MkdirTemp directory
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building rgap:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// logLine is one JSON log line of the listener or a plugin.
type logLine map[string]any

func (l logLine) msg() string { s, _ := l["@message"].(string); return s }
func (l logLine) str(k string) string {
	switch v := l[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}
func (l logLine) num(k string) uint64 {
	f, _ := l[k].(float64)
	return uint64(f)
}

// proc is a running rgap subprocess whose JSON log lines are collected.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []logLine
	raw  []string
	cond *sync.Cond
	done chan struct{}
	err  error
}

// start runs rgap with args; its stderr must be JSON log lines.
func start(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(rgapBin, append([]string{"--log-format", "json"}, args...)...) //nolint:gosec // the rgap binary TestMain built, with the test's arguments
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var l logLine
			p.mu.Lock()
			p.raw = append(p.raw, line)
			if json.Unmarshal([]byte(line), &l) == nil {
				p.logs = append(p.logs, l)
			}
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		p.mu.Lock()
		close(p.done)
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill() // it may exit meanwhile; p.done tells
			<-p.done
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s output:\n%s", args[0], strings.Join(p.raw, "\n"))
			p.mu.Unlock()
		}
	})
	return p
}

// waitLog waits until a log line matches, failing the test after timeout.
func (p *proc) waitLog(timeout time.Duration, what string, match func(logLine) bool) logLine {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := 0
	for {
		for ; seen < len(p.logs); seen++ {
			if match(p.logs[seen]) {
				return p.logs[seen]
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("process exited (%v) before logging %s", p.err, what)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no log line %s within %v", what, timeout)
		}
		p.cond.Wait()
	}
}

// waitN waits until n log lines match.
func (p *proc) waitN(timeout time.Duration, n int, what string, match func(logLine) bool) {
	p.t.Helper()
	seen := 0
	p.waitLog(timeout, what, func(l logLine) bool {
		if match(l) {
			seen++
		}
		return seen >= n
	})
}

// count returns how many log lines match.
func (p *proc) count(match func(logLine) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.logs {
		if match(l) {
			n++
		}
	}
	return n
}

// stop sends SIGTERM and waits for a clean exit within timeout.
func (p *proc) stop(timeout time.Duration) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has exited already, which p.done and p.err show
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill() // the test fails anyway; Kill only ends it
		p.t.Fatalf("did not exit within %v of SIGTERM", timeout)
	}
	if p.err != nil {
		p.t.Fatalf("exited with %v after SIGTERM", p.err)
	}
}

// runRgap runs rgap to completion and returns its exit code and output.
func runRgap(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rgapBin, args...) //nolint:gosec // the rgap binary TestMain built
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("rgap %v hung", args)
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("rgap %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T, network, host string) int {
	t.Helper()
	// The port must be free for TCP too: the dns output binds both, and a
	// port the kernel just gave out for UDP may be the local end of a
	// busy TCP connection (both come from the ephemeral range).
	tcp := strings.Replace(network, "udp", "tcp", 1)
	for range 50 {
		c, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen(tcp, net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			err = ln.Close()
		}
		if cerr := c.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err == nil {
			return port
		}
	}
	t.Fatalf("no %s port on %s free for TCP too after 50 tries", network, host)
	return 0
}

// freeTCPPort returns a loopback TCP port that was free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// writeConfig writes a listener configuration into dir.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	return writeFile(t, dir, "rgap.yaml", yaml)
}

// writeFile writes text into dir/name (mode 0600) and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func msgIs(m string) func(logLine) bool { return func(l logLine) bool { return l.msg() == m } }
