package child

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

func TestLines(t *testing.T) {
	l := NewLines(func(s string) bool { return strings.HasPrefix(s, "drop") })
	for _, p := range []string{"one\ntw", "o\ndrop me\n", "three\npart"} {
		if n, err := l.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	lines, lost := l.Snapshot()
	if !slices.Equal(lines, []string{"one", "two", "three"}) || lost != 1 {
		t.Errorf("Snapshot = %q, %d lost; want one two three, 1 lost", lines, lost)
	}
	if got := l.Tail(2); got != "two\nthree\npart" {
		t.Errorf("Tail(2) = %q", got)
	}
	big := NewLines(nil)
	for range MaxKeptLines + 5 {
		if _, err := big.Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
	}
	if lines, lost := big.Snapshot(); len(lines) != MaxKeptLines || lost != 5 {
		t.Errorf("kept %d, lost %d; want %d and 5", len(lines), lost, MaxKeptLines)
	}
}

func TestPinned(t *testing.T) {
	if got := Pinned(1, "a", "b"); !slices.Equal(got, []string{"taskset", "-c", "1", "a", "b"}) {
		t.Errorf("Pinned(1) = %q", got)
	}
	if got := Pinned(-1, "a"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Pinned(-1) = %q", got)
	}
}

func TestWaitLineAndStop(t *testing.T) {
	ctx := context.Background()
	p, err := Start(ctx, Options{Name: "sh", Argv: []string{"sh", "-c", `echo hello; echo oops >&2; sleep 0.2; echo "got go"; exec sleep 30`}})
	if err != nil {
		t.Skipf("no sh here: %v", err)
	}
	defer p.Kill()
	if _, err := p.WaitLine(ctx, p.Stdout, 5*time.Second, "hello", func(l string) bool { return l == "hello" }); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitLine(ctx, p.Stdout, 5*time.Second, "the answer", func(l string) bool { return l == "got go" }); err != nil {
		t.Fatal(err)
	}
	_, err = p.WaitLine(ctx, p.Stdout, 50*time.Millisecond, "nothing", func(string) bool { return false })
	if err == nil || !strings.Contains(err.Error(), "nothing within") || !strings.Contains(err.Error(), "oops") {
		t.Errorf("timed-out WaitLine = %v, want a timeout quoting standard error", err)
	}
	if err := p.Running(); err != nil {
		t.Fatal(err)
	}
	// sleep dies of SIGTERM: that is a non-zero exit.
	if err := p.Stop(5 * time.Second); err == nil {
		t.Error("Stop of a child killed by SIGTERM: want an error")
	}
	if err := p.Stop(time.Second); !errors.Is(err, ErrExited) {
		t.Errorf("second Stop = %v, want ErrExited", err)
	}
	if err := p.Running(); !errors.Is(err, ErrExited) {
		t.Errorf("Running after Stop = %v, want ErrExited", err)
	}
}

func TestWaitReportsExitStatus(t *testing.T) {
	ctx := context.Background()
	p, err := Start(ctx, Options{Name: "false", Argv: []string{"sh", "-c", "exit 3"}})
	if err != nil {
		t.Skipf("no sh here: %v", err)
	}
	if err := p.Wait(ctx, 5*time.Second); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Wait = %v, want exit status 3", err)
	}
	if _, err := p.WaitLine(ctx, p.Stdout, time.Second, "a line", func(string) bool { return true }); !errors.Is(err, ErrExited) {
		t.Errorf("WaitLine on an exited child = %v, want ErrExited", err)
	}
}

func TestKillTreeReachesGrandchildren(t *testing.T) {
	// sh starts a sleep and waits for it: a child and a grandchild.
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh here: %v", err)
	}
	var kids []int
	deadline := time.Now().Add(5 * time.Second)
	for len(kids) == 0 && time.Now().Before(deadline) {
		kids = procfs.Descendants(cmd.Process.Pid)
		time.Sleep(10 * time.Millisecond)
	}
	if len(kids) != 1 {
		t.Fatalf("descendants of sh = %v, want its sleep", kids)
	}
	KillTree(cmd.Process.Pid)
	_ = cmd.Wait()
	deadline = time.Now().Add(5 * time.Second)
	for syscall.Kill(kids[0], 0) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // killed, waiting to be reaped by init
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", kids[0])); err == nil && !strings.Contains(string(b), ") Z ") {
		t.Errorf("grandchild %d still runs after KillTree: %s", kids[0], b)
	}
}

func TestCheckCPUs(t *testing.T) {
	if err := CheckCPUs(4096); !errors.Is(err, ErrCPU) {
		t.Errorf("CheckCPUs(4096) = %v, want ErrCPU", err)
	}
	if err := CheckCPUs(-1); !errors.Is(err, ErrCPU) {
		t.Errorf("CheckCPUs(-1) = %v, want ErrCPU", err)
	}
	set, err := Affinity()
	if err != nil {
		t.Fatal(err)
	}
	for c := range len(set) * 64 {
		if set.IsSet(c) {
			if err := CheckCPUs(c); err != nil {
				t.Errorf("CheckCPUs(%d), a CPU of this process: %v", c, err)
			}
			break
		}
	}
}
