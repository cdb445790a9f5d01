// Package procfs reads the few /proc files the benchmark tools under
// internal/bench (never the product) measure with: a process's CPU time
// and parent, the busy time of one CPU or of the machine, the queue and
// drop counter of a loopback UDP socket, and the process tree.
//
// Each reader is split into a parser of the file's bytes, which the tests
// and fuzz targets exercise with hostile input (a command name may hold
// spaces and parentheses), and a thin function that reads the live file.
// Everything malformed is reported wrapping ErrFormat; nothing panics.
// CPU times are in clock ticks of 1/100 s, which Linux fixes for user
// space whatever the kernel's HZ, so no figure here is finer than 10 ms.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat and /proc/stat.
const userHZ = 100

// ErrFormat marks /proc content that cannot be read.
var ErrFormat = errors.New("unexpected /proc format")

func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// Stat is what the tools read of /proc/<pid>/stat.
type Stat struct {
	// PPID is the parent's process id.
	PPID int
	// CPU is user plus system time of every thread, live and exited
	// (utime + stime; children are not counted).
	CPU time.Duration
}

// ParseStat reads the contents of /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may itself hold spaces and parentheses,
// so fields are counted from the last ')': state is field 3, ppid 4,
// utime 14 and stime 15.
func ParseStat(b []byte) (Stat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return Stat{}, fmt.Errorf("%w: no ')' closing the command name", ErrFormat)
	}
	f := bytes.Fields(b[end+1:])
	const ppid, utime, stime = 4 - 3, 14 - 3, 15 - 3 // indexes after the command name
	if len(f) <= stime {
		return Stat{}, fmt.Errorf("%w: %d fields after the command name, want at least %d", ErrFormat, len(f), stime+1)
	}
	pp, err := strconv.Atoi(string(f[ppid]))
	if err != nil {
		return Stat{}, fmt.Errorf("%w: ppid: %w", ErrFormat, err)
	}
	u, err := strconv.ParseUint(string(f[utime]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("%w: utime: %w", ErrFormat, err)
	}
	s, err := strconv.ParseUint(string(f[stime]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("%w: stime: %w", ErrFormat, err)
	}
	return Stat{PPID: pp, CPU: ticks(u + s)}, nil
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// ProcessCPU returns the user plus system CPU time pid has used, counting
// all of its threads.
func ProcessCPU(pid int) (time.Duration, error) {
	st, err := ReadStat(pid)
	return st.CPU, err
}

// TreeCPU returns the CPU time used so far by pid and every process below
// it that still runs. Only pid itself must exist.
func TreeCPU(pid int) (time.Duration, error) {
	var total time.Duration
	for i, p := range append([]int{pid}, Descendants(pid)...) {
		st, err := ReadStat(p)
		if errors.Is(err, ErrFormat) || (err != nil && i == 0) {
			return 0, err
		}
		total += st.CPU // zero for a child that just ended
	}
	return total, nil
}

// ParseCPUBusy reads the line "cpuN user nice system idle iowait irq
// softirq steal guest guest_nice" of /proc/stat and returns
// user+nice+system+irq+softirq+steal, in ticks: the time CPU cpu was not
// idle, including time the hypervisor took (steal), which a task on it
// could not use either. Guest time is already included in user time.
func ParseCPUBusy(b []byte, cpu int) (uint64, error) {
	name := []byte("cpu" + strconv.Itoa(cpu))
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) == 0 || !bytes.Equal(f[0], name) {
			continue
		}
		if len(f) < 9 {
			return 0, fmt.Errorf("%w: %s has %d values, want at least 8", ErrFormat, name, len(f)-1)
		}
		var busy uint64
		for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
			v, err := strconv.ParseUint(string(f[i]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: %s value %d: %w", ErrFormat, name, i, err)
			}
			busy += v
		}
		return busy, nil
	}
	return 0, fmt.Errorf("%w: no line for %s", ErrFormat, name)
}

// CPUBusy returns how much time CPU cpu has spent not idle since boot.
func CPUBusy(cpu int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	n, err := ParseCPUBusy(b, cpu)
	if err != nil {
		return 0, fmt.Errorf("/proc/stat: %w", err)
	}
	return ticks(n), nil
}

// ParseMachineBusy returns the busy and total time of all CPUs, in ticks,
// from the first line of /proc/stat ("cpu user nice system idle iowait
// ..."). Idle and iowait are not busy; guest times are left out, being
// counted in user and nice already.
func ParseMachineBusy(b []byte) (busy, total uint64, err error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, fmt.Errorf("%w: first line %q", ErrFormat, line)
	}
	for i, v := range f[1:] {
		if i >= 8 { // guest, guest_nice
			break
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: value %d: %w", ErrFormat, i+1, err)
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// MachineBusy reads ParseMachineBusy's figures from /proc/stat.
func MachineBusy() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	if busy, total, err = ParseMachineBusy(b); err != nil {
		return 0, 0, fmt.Errorf("/proc/stat: %w", err)
	}
	return busy, total, nil
}

// UDPSocket is what the kernel reports about one UDP socket.
type UDPSocket struct {
	// RxQueue is the bytes of datagrams queued and not yet read.
	RxQueue uint64
	// Drops counts datagrams the kernel dropped at this socket, mostly
	// because its receive buffer was full.
	Drops uint64
}

// ParseNetUDP finds the socket bound to 127.0.0.1:port in the contents of
// /proc/net/udp. A line reads
//
//	sl: local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
//
// with addresses as hex IP (the raw 32 bits, so byte order is the host's)
// and hex port. Several matches (SO_REUSEPORT) are added up.
func ParseNetUDP(b []byte, port uint16) (st UDPSocket, found bool, err error) {
	p := fmt.Sprintf(":%04X", port)
	want := [][]byte{[]byte("0100007F" + p), []byte("7F000001" + p)}
	for i, line := range bytes.Split(b, []byte("\n")) {
		f := bytes.Fields(line)
		if i == 0 || len(f) < 2 {
			continue // the header, or no address to match
		}
		if !bytes.Equal(f[1], want[0]) && !bytes.Equal(f[1], want[1]) {
			continue
		}
		if len(f) < 13 {
			return st, found, fmt.Errorf("%w: line %d has %d fields, want 13", ErrFormat, i+1, len(f))
		}
		_, rx, ok := bytes.Cut(f[4], []byte(":"))
		if !ok {
			return st, found, fmt.Errorf("%w: line %d: queues %q lack ':'", ErrFormat, i+1, f[4])
		}
		q, err := strconv.ParseUint(string(rx), 16, 64)
		if err != nil {
			return st, found, fmt.Errorf("%w: line %d: rx_queue: %w", ErrFormat, i+1, err)
		}
		d, err := strconv.ParseUint(string(f[12]), 10, 64)
		if err != nil {
			return st, found, fmt.Errorf("%w: line %d: drops: %w", ErrFormat, i+1, err)
		}
		st.RxQueue += q
		st.Drops += d
		found = true
	}
	return st, found, nil
}

// LoopbackUDPSocket returns the state of the UDP socket bound to
// 127.0.0.1:port, from /proc/net/udp of this network namespace.
func LoopbackUDPSocket(port uint16) (UDPSocket, error) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return UDPSocket{}, err
	}
	st, found, err := ParseNetUDP(b, port)
	if err != nil {
		return UDPSocket{}, fmt.Errorf("/proc/net/udp: %w", err)
	}
	if !found {
		return UDPSocket{}, fmt.Errorf("/proc/net/udp: no socket bound to 127.0.0.1:%d", port)
	}
	return st, nil
}

// Parents maps every process id to its parent's; processes that vanish
// while being read are left out.
func Parents() map[int]int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	m := make(map[int]int, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if st, err := ParseStat(b); err == nil {
			m[pid] = st.PPID
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
	frontier := []int{pid}
	for len(frontier) > 0 {
		next := frontier[0]
		frontier = frontier[1:]
		for child, parent := range parents {
			if parent == next {
				out = append(out, child)
				frontier = append(frontier, child)
			}
		}
	}
	return out
}

// Threads returns the number of threads of pid; 0 when it cannot be read.
func Threads(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// SplitNUL splits the NUL-separated contents of /proc/<pid>/cmdline or
// /proc/<pid>/environ.
func SplitNUL(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}
