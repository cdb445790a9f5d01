// Package procfs reads what the benchmarks measure from /proc, through
// github.com/prometheus/procfs: a process's CPU time, parent and command line,
// the busy time of one CPU or of the machine, the queue of a loopback UDP
// socket, and the process tree. CPU times come from /proc in clock ticks of
// 1/100 s, so no figure here is finer than 10 ms.
package procfs

import (
	"errors"
	"fmt"
	"net"
	"time"

	promfs "github.com/prometheus/procfs"
)

// ErrFormat marks /proc content that cannot be read.
var ErrFormat = errors.New("unexpected /proc format")

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Read reads the file /proc/<pid>/<file> with read, one of promfs.Proc's
// readers (promfs.Proc.Stat for "stat", and so on); an error names the
// file.
func Read[T any](pid int, file string, read func(promfs.Proc) (T, error)) (T, error) {
	p, err := promfs.NewProc(pid)
	if err == nil {
		var v T
		if v, err = read(p); err == nil {
			return v, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("/proc/%d/%s: %w", pid, file, err)
}

// ProcessCPU returns the user plus system CPU time pid has used, counting
// all of its threads, live and exited (children are not counted).
func ProcessCPU(pid int) (time.Duration, error) {
	st, err := Read(pid, "stat", promfs.Proc.Stat)
	return seconds(st.CPUTime()), err
}

// TreeCPU returns the CPU time used so far by pid and every process below
// it that still runs. Only pid itself must exist.
func TreeCPU(pid int) (time.Duration, error) {
	total, err := ProcessCPU(pid)
	if err != nil {
		return 0, err
	}
	for _, p := range Descendants(pid) {
		cpu, _ := ProcessCPU(p) // zero for a child that just ended
		total += cpu
	}
	return total, nil
}

// busy is the time a CPU was not idle, including time the hypervisor
// took (steal), which a task on it could not use either; guest time is
// already included in user time.
func busy(c promfs.CPUStat) float64 {
	return c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
}

// CPUBusy returns how much time CPU cpu has spent not idle since boot;
// for a negative cpu, every CPU of the machine added up.
func CPUBusy(cpu int) (time.Duration, error) {
	fs, err := promfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	st, err := fs.Stat()
	if err != nil {
		return 0, fmt.Errorf("/proc/stat: %w", err)
	}
	c, ok := st.CPU[int64(cpu)]
	if cpu < 0 {
		c, ok = st.CPUTotal, true
	}
	if !ok {
		return 0, fmt.Errorf("/proc/stat: %w: no line for cpu%d", ErrFormat, cpu)
	}
	return seconds(busy(c)), nil
}

// LoopbackUDPQueue returns the bytes of datagrams queued and not yet read
// on the UDP socket(s) bound to 127.0.0.1:port (several with SO_REUSEPORT,
// added up), from /proc/net/udp of this network namespace.
func LoopbackUDPQueue(port uint16) (uint64, error) {
	fs, err := promfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	lines, err := fs.NetUDP()
	if err != nil {
		return 0, fmt.Errorf("/proc/net/udp: %w", err)
	}
	var queued uint64
	found := false
	for _, l := range lines {
		if l.LocalPort == uint64(port) && l.LocalAddr.Equal(net.IPv4(127, 0, 0, 1)) {
			queued += l.RxQueue
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("/proc/net/udp: no socket bound to 127.0.0.1:%d", port)
	}
	return queued, nil
}

// Parents maps every process id to its parent's; processes that vanish
// while being read are left out.
func Parents() map[int]int {
	procs, err := promfs.AllProcs()
	if err != nil {
		return nil
	}
	m := make(map[int]int, len(procs))
	for _, p := range procs {
		if st, err := p.Stat(); err == nil {
			m[p.PID] = st.PPID
		}
	}
	return m
}

// Children returns the processes whose parent is pid.
func Children(pid int) []int {
	var out []int
	for child, parent := range Parents() {
		if parent == pid {
			out = append(out, child)
		}
	}
	return out
}

// Descendants returns every process below pid, parents before their
// children.
func Descendants(pid int) []int {
	parents := Parents()
	var out []int
	for frontier := []int{pid}; len(frontier) > 0; frontier = frontier[1:] {
		for child, parent := range parents {
			if parent == frontier[0] {
				out = append(out, child)
				frontier = append(frontier, child)
			}
		}
	}
	return out
}
