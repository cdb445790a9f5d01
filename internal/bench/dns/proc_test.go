package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    stat
		wantErr bool
	}{
		{"plain", "4242 (rgap) S 4200 4242 4200 0 -1 4194560 1 0 0 0 250 75 0 0 20 0 9 0 1 2 3", stat{ppid: 4200, cpu: 3250 * time.Millisecond}, false},
		{"name with spaces and parens", "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 2 3", stat{ppid: 1, cpu: 70 * time.Millisecond}, false},
		{"cut short", "7 (x) R 1 7 7", stat{}, true},
		{"no name", "7 x R 1", stat{}, true},
		{"not a number", "7 (x) R one 7 7 0 -1 0 0 0 0 0 3 4", stat{}, true},
	}
	for _, tc := range tests {
		got, err := parseStat([]byte(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: parseStat = %+v, %v; want %+v, error %v", tc.name, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, errProcFormat) {
			t.Errorf("%s: error %v does not wrap errProcFormat", tc.name, err)
		}
	}
}

func TestParseProcStatBusy(t *testing.T) {
	in := []byte("cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 1 2 3 400 5 6 7 8 9 10\ncpu1 10 20 30 40 50 60 70 80 0 0\nintr 1\n")
	for _, tc := range []struct {
		cpu  int
		want uint64
	}{{0, 1 + 2 + 3 + 6 + 7 + 8}, {1, 10 + 20 + 30 + 60 + 70 + 80}} {
		got, err := parseProcStatBusy(in, tc.cpu)
		if err != nil || got != tc.want {
			t.Errorf("cpu%d: %d, %v; want %d (user+nice+system+irq+softirq+steal, not idle or iowait)", tc.cpu, got, err, tc.want)
		}
	}
	if _, err := parseProcStatBusy(in, 2); !errors.Is(err, errProcFormat) {
		t.Errorf("missing cpu2: %v, want errProcFormat", err)
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
		kids = descendants(cmd.Process.Pid)
		time.Sleep(10 * time.Millisecond)
	}
	if len(kids) != 1 {
		t.Fatalf("descendants of sh = %v, want its sleep", kids)
	}
	killTree(cmd.Process.Pid)
	_ = cmd.Wait()
	deadline = time.Now().Add(5 * time.Second)
	for syscall.Kill(kids[0], 0) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // killed, waiting to be reaped by init
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", kids[0])); err == nil && !strings.Contains(string(b), ") Z ") {
		t.Errorf("grandchild %d still runs after killTree: %s", kids[0], b)
	}
}
