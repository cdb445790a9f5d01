package procfs

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	promfs "github.com/prometheus/procfs"
)

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
	st, err := Read(os.Getpid(), "stat", promfs.Proc.Stat)
	if err != nil || st.PPID != os.Getppid() {
		t.Errorf("Read(self, stat) = %+v, %v; want parent %d", st, err, os.Getppid())
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
	if got, err := Read(kids[0], "cmdline", promfs.Proc.CmdLine); err != nil || !slices.Equal(got, []string{"sleep", "30"}) {
		t.Errorf("cmdline of the sleep = %q, %v", got, err)
	}
}

// TestMachineAndSockets reads the machine's busy time and a loopback
// socket's queue as the benchmarks do.
func TestMachineAndSockets(t *testing.T) {
	all, err := CPUBusy(-1)
	if err != nil || all <= 0 {
		t.Errorf("CPUBusy(-1) = %v, %v; want the machine's busy time", all, err)
	}
	if one, err := CPUBusy(0); err != nil || one > all {
		t.Errorf("CPUBusy(0) = %v, %v; want at most the machine's %v", one, err, all)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	tx, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Close() }()
	if _, err := tx.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	port := uint16(c.LocalAddr().(*net.UDPAddr).Port) //nolint:gosec // a port number fits
	deadline := time.Now().Add(5 * time.Second)
	for {
		queued, err := LoopbackUDPQueue(port)
		if err != nil {
			t.Fatal(err)
		}
		if queued > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LoopbackUDPQueue(%d) = %d; want the queued datagram counted", port, queued)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := LoopbackUDPQueue(1); err == nil {
		t.Error("LoopbackUDPQueue of an unbound port: want an error")
	}
}
