package procfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Fields after the command name: state ppid pgrp session tty tpgid
	// flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
	tests := []struct {
		name    string
		stat    string
		want    Stat
		wantErr bool
	}{
		{"plain", "5461 (rgap) S 5455 5455 27756 0 -1 4194304 98 0 0 0 150 25 7 9 20 0 8 0 118270\n", Stat{PPID: 5455, CPU: 1750 * time.Millisecond}, false},
		// The command name may hold spaces and ')' itself: only the
		// last ')' ends it. cutime/cstime (children) are not counted.
		{"hostile comm", "42 (a) b) (c d) R 1 1 1 0 -1 0 0 0 0 0 3 4 100 100 20 0 1 0 5", Stat{PPID: 1, CPU: 70 * time.Millisecond}, false},
		{"name with spaces and parens", "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 2 3", Stat{PPID: 1, CPU: 70 * time.Millisecond}, false},
		{"large", "1 (x) S 0 0 0 0 0 0 0 0 0 0 4294967296 4 0 0", Stat{CPU: 4294967300 * 10 * time.Millisecond}, false},
		{"no paren", "1 x S 0 0 0 0 0 0 0 0 0 0 1 2", Stat{}, true},
		{"truncated", "1 (x) S 0 0 0 0 0 0 0 0 0 0 1", Stat{}, true},
		{"cut short", "7 (x) R 1 7 7", Stat{}, true},
		{"ppid not a number", "7 (x) R one 7 7 0 -1 0 0 0 0 0 3 4", Stat{}, true},
		{"stime not a number", "1 (x) S 0 0 0 0 0 0 0 0 0 0 1 two 0 0", Stat{}, true},
		{"empty", "", Stat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.stat))
			if tt.wantErr {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("ParseStat = %+v, %v; want an error wrapping ErrFormat", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseStat = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestProcessCPUSelf reads this test's own CPU time after burning some, so
// the field positions are checked against the running kernel.
func TestProcessCPUSelf(t *testing.T) {
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	deadline := time.Now().Add(20 * time.Second)
	for after := before; after < before+50*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stuck at %v after 20s of busy loop (read from the wrong field?)", after)
		}
		for i := range 1_000_000 {
			x ^= i
		}
		if after, err = ProcessCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	_ = x
	st, err := ReadStat(os.Getpid())
	if err != nil || st.PPID != os.Getppid() {
		t.Errorf("ReadStat(self) = %+v, %v; want parent %d", st, err, os.Getppid())
	}
}

func TestProcessCPUOfAnAbsentProcess(t *testing.T) {
	if _, err := ProcessCPU(1 << 30); err == nil {
		t.Error("ProcessCPU of a PID that does not exist: want an error")
	}
	if _, err := TreeCPU(1 << 30); err == nil {
		t.Error("TreeCPU of a PID that does not exist: want an error")
	}
}

const procNetUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
 2926: 0100007F:205A 00000000:0000 07 00000000:00000340 00:00000000 00000000     0        0 76355 2 000000007f917050 17         
14906: 00000000:CF26 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 76356 2 000000001483448e 0         
 3001: 0100007F:CF26 00000000:0000 07 00000000:00000010 00:00000000 00000000     0        0 76357 2 000000001483448f 3         
 3002: 0100007F:CF26 00000000:0000 07 00000000:00000001 00:00000000 00000000     0        0 76358 2 0000000014834490 4         
`

func TestParseNetUDP(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		port      uint16
		want      UDPSocket
		wantFound bool
		wantErr   bool
	}{
		{"queued and dropped", procNetUDP, 8282, UDPSocket{RxQueue: 0x340, Drops: 17}, true, false},
		// 0.0.0.0:53030 is not the loopback socket; the two reuseport
		// sockets on 127.0.0.1:53030 add up.
		{"reuseport", procNetUDP, 0xCF26, UDPSocket{RxQueue: 0x11, Drops: 7}, true, false},
		{"absent", procNetUDP, 9999, UDPSocket{}, false, false},
		{"header only", "   sl  local_address rem_address\n", 8282, UDPSocket{}, false, false},
		{"short line", "h\n 1: 0100007F:205A 00000000:0000 07 00000000:00000000\n", 8282, UDPSocket{}, false, true},
		{"bad queue", "h\n 1: 0100007F:205A 00000000:0000 07 00000000 00:00000000 00000000 0 0 1 2 0 0\n", 8282, UDPSocket{}, false, true},
		{"bad drops", "h\n 1: 0100007F:205A 00000000:0000 07 0:1 00:00000000 00000000 0 0 1 2 0 x\n", 8282, UDPSocket{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := ParseNetUDP([]byte(tt.text), tt.port)
			if tt.wantErr {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("ParseNetUDP = %+v, %v, %v; want an error wrapping ErrFormat", got, found, err)
				}
				return
			}
			if err != nil || found != tt.wantFound || got != tt.want {
				t.Fatalf("ParseNetUDP = %+v, %v, %v; want %+v, %v", got, found, err, tt.want, tt.wantFound)
			}
		})
	}
}

const procStat = `cpu  135362 0 60313 79337 494 0 2105 0 0 0
cpu0 67316 0 29494 40299 110 0 1552 0 0 0
cpu1 68046 1 30818 39038 383 5 552 7 100 0
cpu10 1 1 1 1 1 1 1 1 1 1
intr 4820853 0 0
`

func TestParseCPUBusy(t *testing.T) {
	tests := []struct {
		cpu     int
		want    uint64
		wantErr bool
	}{
		{0, 67316 + 29494 + 1552, false},
		{1, 68046 + 1 + 30818 + 5 + 552 + 7, false}, // idle, iowait and guest left out
		{10, 6, false},
		{2, 0, true},
	}
	for _, tt := range tests {
		got, err := ParseCPUBusy([]byte(procStat), tt.cpu)
		if tt.wantErr {
			if !errors.Is(err, ErrFormat) {
				t.Errorf("cpu%d: = %d, %v; want ErrFormat", tt.cpu, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("cpu%d: = %d, %v; want %d", tt.cpu, got, err, tt.want)
		}
	}
	if _, err := ParseCPUBusy([]byte("cpu0 1 2 3 4\n"), 0); !errors.Is(err, ErrFormat) {
		t.Errorf("short line: %v, want ErrFormat", err)
	}
	if _, err := ParseCPUBusy([]byte("cpu0 1 2 3 4 5 6 x 8\n"), 0); !errors.Is(err, ErrFormat) {
		t.Errorf("bad value: %v, want ErrFormat", err)
	}
}

func TestParseMachineBusy(t *testing.T) {
	busy, total, err := ParseMachineBusy([]byte("cpu  10 1 20 300 40 5 6 7 800 900\ncpu0 1 2 3 4 5 6 7 8\n"))
	// idle (300) and iowait (40) are not busy; guest times are left out.
	if err != nil || busy != 10+1+20+5+6+7 || total != 10+1+20+300+40+5+6+7 {
		t.Errorf("ParseMachineBusy = %d, %d, %v; want 49, 389", busy, total, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5\n", "cpu 1 2\n", "cpu 1 2 x 4 5\n"} {
		if _, _, err := ParseMachineBusy([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseMachineBusy(%q) = %v, want ErrFormat", bad, err)
		}
	}
	if _, _, err := MachineBusy(); err != nil {
		t.Errorf("MachineBusy on this machine: %v", err)
	}
}

// TestDescendants starts sh, which starts a sleep and waits for it: a
// child and a grandchild.
func TestDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh here: %v", err)
	}
	t.Cleanup(func() {
		for _, k := range Descendants(cmd.Process.Pid) {
			if p, err := os.FindProcess(k); err == nil {
				_ = p.Kill()
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var kids []int
	deadline := time.Now().Add(5 * time.Second)
	for len(kids) == 0 && time.Now().Before(deadline) {
		kids = Descendants(cmd.Process.Pid)
		time.Sleep(10 * time.Millisecond)
	}
	if len(kids) != 1 {
		t.Fatalf("Descendants of sh = %v, want its sleep", kids)
	}
	if got := Descendants(os.Getpid()); !slices.Contains(got, cmd.Process.Pid) || !slices.Contains(got, kids[0]) {
		t.Errorf("Descendants(self) = %v, want sh %d and its sleep %d", got, cmd.Process.Pid, kids[0])
	}
	if got := Children(os.Getpid()); !slices.Contains(got, cmd.Process.Pid) || slices.Contains(got, kids[0]) {
		t.Errorf("Children(self) = %v, want sh %d and not its sleep %d", got, cmd.Process.Pid, kids[0])
	}
	if _, err := TreeCPU(cmd.Process.Pid); err != nil {
		t.Errorf("TreeCPU(sh): %v", err)
	}
	if n := Threads(os.Getpid()); n < 1 {
		t.Errorf("Threads(self) = %d, want at least 1", n)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", kids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if got := SplitNUL(b); !slices.Equal(got, []string{"sleep", "30"}) {
		t.Errorf("cmdline of the sleep = %q", got)
	}
}

func TestSplitNUL(t *testing.T) {
	if got := SplitNUL([]byte("/proc/self/exe\x00plugin\x00dns\x00")); !slices.Equal(got, []string{"/proc/self/exe", "plugin", "dns"}) {
		t.Errorf("SplitNUL = %q", got)
	}
	if got := SplitNUL(nil); got != nil {
		t.Errorf("SplitNUL(empty) = %q, want nil (a kernel thread or a zombie)", got)
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte(procNetUDP))
	f.Add([]byte(procStat))
	f.Add([]byte("5461 (rgap) S 5455 5455 27756 0 -1 4194304 98 0 0 0 150 25 7 9 20"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, err := range []error{
			func() error { _, err := ParseStat(b); return err }(),
			func() error { _, _, err := ParseNetUDP(b, 8282); return err }(),
			func() error { _, err := ParseCPUBusy(b, 0); return err }(),
			func() error { _, _, err := ParseMachineBusy(b); return err }(),
		} {
			if err != nil && !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
		}
		_ = SplitNUL(b)
	})
}
