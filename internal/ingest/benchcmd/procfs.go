package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. Linux fixes it
// at 100 for user space on every architecture, whatever the kernel's HZ.
const userHZ = 100

// errProcFormat marks /proc content this tool cannot read.
var errProcFormat = errors.New("unexpected /proc format")

// processCPU returns the user plus system CPU time pid has used, counting
// all of its threads (live and exited).
func processCPU(pid int) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatCPU returns utime+stime, in clock ticks, from the contents of
// /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// itself hold spaces and parentheses, so fields are counted from the last
// ')' on: after it come state (field 3) ... utime (14) and stime (15).
func parseStatCPU(b []byte) (uint64, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("%w: no ')' closing the command name", errProcFormat)
	}
	fields := bytes.Fields(b[end+1:])
	const utime, stime = 14 - 3, 15 - 3 // indexes after the command name
	if len(fields) <= stime {
		return 0, fmt.Errorf("%w: %d fields after the command name, want at least %d", errProcFormat, len(fields), stime+1)
	}
	u, err := strconv.ParseUint(string(fields[utime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: utime: %w", errProcFormat, err)
	}
	s, err := strconv.ParseUint(string(fields[stime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: stime: %w", errProcFormat, err)
	}
	return u + s, nil
}

// socketState is what the kernel reports about one UDP socket.
type socketState struct {
	// RxQueue is the bytes of datagrams queued and not yet read.
	RxQueue uint64
	// Drops counts datagrams the kernel dropped at this socket, mostly
	// because its receive buffer was full.
	Drops uint64
}

// loopbackSocket returns the state of the UDP socket bound to
// 127.0.0.1:port, from /proc/net/udp of this network namespace.
func loopbackSocket(port uint16) (socketState, error) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return socketState{}, err
	}
	st, found, err := parseProcNetUDP(b, port)
	if err != nil {
		return socketState{}, fmt.Errorf("/proc/net/udp: %w", err)
	}
	if !found {
		return socketState{}, fmt.Errorf("/proc/net/udp: no socket bound to 127.0.0.1:%d", port)
	}
	return st, nil
}

// parseProcNetUDP finds the socket bound to 127.0.0.1:port in the contents
// of /proc/net/udp. A line reads
//
//	sl: local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
//
// with addresses as hex IP (the raw 32 bits, so byte order is the host's)
// and hex port. Several matches (SO_REUSEPORT) are added up.
func parseProcNetUDP(b []byte, port uint16) (st socketState, found bool, err error) {
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
			return st, found, fmt.Errorf("%w: line %d has %d fields, want 13", errProcFormat, i+1, len(f))
		}
		_, rx, ok := bytes.Cut(f[4], []byte(":"))
		if !ok {
			return st, found, fmt.Errorf("%w: line %d: queues %q lack ':'", errProcFormat, i+1, f[4])
		}
		q, err := strconv.ParseUint(string(rx), 16, 64)
		if err != nil {
			return st, found, fmt.Errorf("%w: line %d: rx_queue: %w", errProcFormat, i+1, err)
		}
		d, err := strconv.ParseUint(string(f[12]), 10, 64)
		if err != nil {
			return st, found, fmt.Errorf("%w: line %d: drops: %w", errProcFormat, i+1, err)
		}
		st.RxQueue += q
		st.Drops += d
		found = true
	}
	return st, found, nil
}

// cpuBusy returns how much time CPU cpu has spent not idle since boot: in
// user, system, interrupt and softirq work, or taken away by the
// hypervisor (steal), which the running task could not use either.
func cpuBusy(cpu int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	ticks, err := parseProcStatBusy(b, cpu)
	if err != nil {
		return 0, fmt.Errorf("/proc/stat: %w", err)
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseProcStatBusy reads the line "cpuN user nice system idle iowait irq
// softirq steal guest guest_nice" of /proc/stat and returns
// user+nice+system+irq+softirq+steal, in ticks. Guest time is already
// included in user time.
func parseProcStatBusy(b []byte, cpu int) (uint64, error) {
	name := []byte(fmt.Sprintf("cpu%d", cpu))
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) == 0 || !bytes.Equal(f[0], name) {
			continue
		}
		if len(f) < 9 {
			return 0, fmt.Errorf("%w: %s has %d values, want at least 8", errProcFormat, name, len(f)-1)
		}
		var busy uint64
		for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
			v, err := strconv.ParseUint(string(f[i]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: %s value %d: %w", errProcFormat, name, i, err)
			}
			busy += v
		}
		return busy, nil
	}
	return 0, fmt.Errorf("%w: no line for %s", errProcFormat, name)
}
