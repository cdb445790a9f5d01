package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Receiver kinds, as they appear in the report.
const (
	kindBare     = "bare"
	kindListener = "listener"
)

// Bounds on the steps of one measurement; the whole run is bounded by
// orchestrateOptions.timeout as well.
const (
	startTimeout = 15 * time.Second // a child is up and listening
	stopTimeout  = 10 * time.Second // a child exits after SIGTERM
	drainTimeout = 10 * time.Second // a receiver empties its socket
	// settle is how long a receiver's CPU time must stay unchanged, with
	// its socket queue empty, for it to count as done. It is several
	// ticks of /proc's 10 ms resolution.
	settle       = 100 * time.Millisecond
	pollInterval = 10 * time.Millisecond
)

// errEnvironment marks a machine on which the measurement cannot be made.
var errEnvironment = errors.New("cannot measure here")

// orchestrateOptions are the orchestrator's flags.
type orchestrateOptions struct {
	rgap        string
	datagrams   uint64
	rounds      int
	batch       int
	rate        uint64 // sender pacing; 0 = full rate
	senderCPU   int
	receiverCPU int
	timeout     time.Duration
	cpuProfile  string    // non-empty: run the listener in-process and profile it
	progress    io.Writer // narration of the steps
}

// orchestrate runs every round and writes the report to out.
func orchestrate(ctx context.Context, opts orchestrateOptions, out io.Writer) (verdict, error) {
	if opts.rounds < 1 || opts.datagrams < 1 {
		return verdict{}, fmt.Errorf("-rounds %d -n %d: want both at least 1", opts.rounds, opts.datagrams)
	}
	if opts.batch < 1 || opts.batch > 1024 {
		return verdict{}, fmt.Errorf("-batch %d: want 1..1024", opts.batch)
	}
	if err := checkEnvironment(opts); err != nil {
		return verdict{}, err
	}
	self, err := executable()
	if err != nil {
		return verdict{}, err
	}
	// Keep this process's own polling off the receiver's core.
	var pin unix.CPUSet
	pin.Set(opts.senderCPU)
	if err := setAffinity(pin); err != nil {
		return verdict{}, fmt.Errorf("pin to CPU %d: %w", opts.senderCPU, err)
	}
	tmp, err := os.MkdirTemp("", "rgap-bench-ingest-")
	if err != nil {
		return verdict{}, err
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	r := runner{opts: opts, self: self, tmp: tmp}
	var ms []measurement
	for round := 1; round <= opts.rounds; round++ {
		order := []string{kindBare, kindListener}
		if round%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, kind := range order {
			fmt.Fprintf(opts.progress, "round %d: %s ...\n", round, kind)
			m, err := r.measure(ctx, round, kind)
			if err != nil {
				return verdict{}, fmt.Errorf("round %d, %s receiver: %w", round, kind, err)
			}
			fmt.Fprintf(opts.progress, "round %d: %s: %+v\n", round, kind, m)
			ms = append(ms, m)
		}
	}
	v := evaluate(ms)
	writeReport(out, reportSetup{
		datagrams: opts.datagrams, rounds: opts.rounds, batch: opts.batch, rate: opts.rate,
		senderCPU: opts.senderCPU, receiverCPU: opts.receiverCPU,
		listener: r.listenerDescription(),
	}, ms, v)
	return v, nil
}

// checkEnvironment reports what would make the numbers meaningless or the
// run impossible: no taskset, fewer than two usable CPUs, no rgap binary.
func checkEnvironment(opts orchestrateOptions) error {
	if _, err := exec.LookPath("taskset"); err != nil {
		return fmt.Errorf("%w: taskset not found (it is in util-linux: apt-get install util-linux): %w", errEnvironment, err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("%w: read CPU affinity: %w", errEnvironment, err)
	}
	if set.Count() < 2 {
		return fmt.Errorf("%w: %d CPU available; sender and receiver need one each", errEnvironment, set.Count())
	}
	if opts.senderCPU == opts.receiverCPU {
		return fmt.Errorf("%w: -sender-cpu and -receiver-cpu are both %d", errEnvironment, opts.senderCPU)
	}
	for _, c := range []int{opts.senderCPU, opts.receiverCPU} {
		if c < 0 || c >= len(set)*64 || !set.IsSet(c) {
			return fmt.Errorf("%w: CPU %d is not available to this process (%d CPUs are)", errEnvironment, c, set.Count())
		}
	}
	if opts.cpuProfile == "" {
		fi, err := os.Stat(opts.rgap)
		if err != nil {
			return fmt.Errorf("%w: rgap binary: %w (build it with `make build`)", errEnvironment, err)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%w: rgap binary %s is not an executable file", errEnvironment, opts.rgap)
		}
	}
	return nil
}

// setAffinity restricts every thread of this process to set. Threads
// started later inherit the mask from the thread that starts them.
func setAffinity(set unix.CPUSet) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread may have exited since the listing: ESRCH is fine.
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}

// runner measures one receiver at a time.
type runner struct {
	opts orchestrateOptions
	self string // this program, re-executed as the children
	tmp  string // for listener configuration files
}

// listenerDescription says what ran as the listener, for the report.
func (r runner) listenerDescription() string {
	if r.opts.cpuProfile != "" {
		return "in-process listener.Run (benchcmd -mode listener), CPU profile in " + r.opts.cpuProfile + ".N"
	}
	return r.opts.rgap + " listener"
}

// measure runs one receiver of kind against one burst of the sender.
func (r runner) measure(ctx context.Context, round int, kind string) (measurement, error) {
	m := measurement{Round: round, Receiver: kind}
	var recv *child
	var port uint16
	var err error
	switch kind {
	case kindBare:
		recv, port, err = r.startBare(ctx)
	case kindListener:
		recv, port, err = r.startListener(ctx, round)
	}
	if err != nil {
		return m, err
	}
	defer recv.kill()

	send, err := startChild(ctx, "sender", r.opts.senderCPU, []string{r.self, "-mode", "send",
		"-target", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port).String(),
		"-n", strconv.FormatUint(r.opts.datagrams, 10), "-batch", strconv.Itoa(r.opts.batch),
		"-rate", strconv.FormatUint(r.opts.rate, 10)})
	if err != nil {
		return m, err
	}
	defer send.kill()
	if _, err := send.waitLine(ctx, send.out, startTimeout, "ready", func(l string) bool { return l == "ready" }); err != nil {
		return m, err
	}

	cpu0, err := processCPU(recv.pid())
	if err != nil {
		return m, recv.failure(err)
	}
	core0, err := cpuBusy(r.opts.receiverCPU)
	if err != nil {
		return m, err
	}
	sock0, err := loopbackSocket(port)
	if err != nil {
		return m, err
	}
	if _, err := io.WriteString(send.stdin, "go\n"); err != nil {
		return m, send.failure(fmt.Errorf("start: %w", err))
	}
	line, err := send.waitLine(ctx, send.out, r.opts.timeout, "its total", func(l string) bool { return strings.HasPrefix(l, "sent ") })
	if err != nil {
		return m, err
	}
	if m.Sent, m.SendElapsed, m.SendErrors, err = parseSent(line); err != nil {
		return m, send.failure(err)
	}
	if err := send.wait(stopTimeout); err != nil {
		return m, err
	}

	cpu1, sock1, drained, err := drain(ctx, recv.pid(), port)
	if err != nil {
		return m, recv.failure(err)
	}
	core1, err := cpuBusy(r.opts.receiverCPU)
	if err != nil {
		return m, err
	}
	m.CPU, m.Drained = cpu1-cpu0, drained
	m.OtherCPU = max(0, core1-core0-m.CPU)
	m.SockDrops = sock1.Drops - sock0.Drops

	switch kind {
	case kindBare:
		err = r.stopBare(ctx, recv, &m)
	case kindListener:
		err = r.stopListener(ctx, recv, &m)
	}
	return m, err
}

// drain waits until the receiver has read everything queued on its socket
// and its CPU time has stopped growing, and returns that CPU time and the
// socket's final state. drained is false when that did not happen within
// drainTimeout; the values are then the last ones read.
func drain(ctx context.Context, pid int, port uint16) (cpu time.Duration, sock socketState, drained bool, err error) {
	deadline := time.Now().Add(drainTimeout)
	var stableSince time.Time
	last := time.Duration(-1)
	for {
		if sock, err = loopbackSocket(port); err != nil {
			return 0, sock, false, err
		}
		if cpu, err = processCPU(pid); err != nil {
			return 0, sock, false, err
		}
		now := time.Now()
		switch {
		case sock.RxQueue != 0 || cpu != last:
			stableSince, last = now, cpu
		case now.Sub(stableSince) >= settle:
			return cpu, sock, true, nil
		}
		if now.After(deadline) {
			return cpu, sock, false, nil
		}
		select {
		case <-ctx.Done():
			return 0, sock, false, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// startBare starts the bare receiver and returns it with its port.
func (r runner) startBare(ctx context.Context) (*child, uint16, error) {
	c, err := startChild(ctx, "bare receiver", r.opts.receiverCPU, []string{r.self, "-mode", "bare",
		"-addr", "127.0.0.1:0", "-rcvbuf", strconv.Itoa(bareReceiveBuffer)})
	if err != nil {
		return nil, 0, err
	}
	line, err := c.waitLine(ctx, c.out, startTimeout, "ready", func(l string) bool { return strings.HasPrefix(l, "ready ") })
	if err != nil {
		c.kill()
		return nil, 0, err
	}
	f := strings.Fields(line)
	var ap netip.AddrPort
	if len(f) == 3 {
		ap, err = netip.ParseAddrPort(f[1])
	}
	if len(f) != 3 || err != nil {
		c.kill()
		return nil, 0, c.failure(fmt.Errorf("unexpected ready line %q", line))
	}
	return c, ap.Port(), nil
}

// stopBare stops the bare receiver and reads its count.
func (r runner) stopBare(ctx context.Context, c *child, m *measurement) error {
	if err := c.stop(stopTimeout); err != nil {
		return c.failure(err)
	}
	line, err := c.waitLine(ctx, c.out, time.Second, "count", func(l string) bool { return strings.HasPrefix(l, "count ") })
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(line, "count "), 10, 64)
	if err != nil {
		return c.failure(fmt.Errorf("count line %q: %w", line, err))
	}
	m.Received = n
	return nil
}

// startListener writes a configuration for a free loopback port, starts
// the listener on it and waits until it logs that it is listening.
func (r runner) startListener(ctx context.Context, round int) (*child, uint16, error) {
	port, err := freeUDPPort()
	if err != nil {
		return nil, 0, err
	}
	cfg := filepath.Join(r.tmp, fmt.Sprintf("listener-%d.yaml", round))
	if err := os.WriteFile(cfg, []byte(listenerConfig(port)), 0o600); err != nil {
		return nil, 0, fmt.Errorf("write listener configuration: %w", err)
	}
	argv := []string{r.opts.rgap, "listener", "-c", cfg, "--log-format", "json", "--log-level", "info"}
	if r.opts.cpuProfile != "" {
		argv = []string{r.self, "-mode", "listener", "-c", cfg, "-listener-cpuprofile", fmt.Sprintf("%s.%d", r.opts.cpuProfile, round)}
	}
	c, err := startChild(ctx, "listener", r.opts.receiverCPU, argv)
	if err != nil {
		return nil, 0, err
	}
	line, err := c.waitLine(ctx, c.errOut, startTimeout, `the "listening" log line`, func(l string) bool {
		ll, ok := parseLogLine([]byte(l))
		return ok && ll.Message == msgListening
	})
	if err != nil {
		c.kill()
		return nil, 0, err
	}
	ll, _ := parseLogLine([]byte(line))
	want := fmt.Sprintf("127.0.0.1:%d", port)
	if got := ll.str("address"); got != want {
		c.kill()
		return nil, 0, c.failure(fmt.Errorf("listening on %q, want %s", got, want))
	}
	return c, port, nil
}

// stopListener stops the listener and reads its ingest totals.
func (r runner) stopListener(ctx context.Context, c *child, m *measurement) error {
	if err := c.stop(stopTimeout); err != nil {
		return c.failure(err)
	}
	line, err := c.waitLine(ctx, c.errOut, time.Second, `the "ingest totals" log line`, func(l string) bool {
		ll, ok := parseLogLine([]byte(l))
		return ok && ll.Message == msgIngestTotals
	})
	if err != nil {
		return err
	}
	ll, _ := parseLogLine([]byte(line))
	t, err := ll.totals()
	if err != nil {
		return c.failure(err)
	}
	m.Received, m.Accepted, m.Refused = t.Received, t.Accepted, t.droppedTotal()
	lines, lost := c.errOut.snapshot()
	m.LogLines = len(lines) + lost
	return nil
}

// freeUDPPort asks the kernel for a UDP port on 127.0.0.1 that is free now.
func freeUDPPort() (uint16, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
}

// parseSent reads the sender's "sent N ELAPSED_NS ERRORS" line.
func parseSent(line string) (sent uint64, elapsed time.Duration, errs uint64, err error) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "sent" {
		return 0, 0, 0, fmt.Errorf("sender's total %q: want \"sent N ELAPSED_NS ERRORS\"", line)
	}
	var ns int64
	sent, err1 := strconv.ParseUint(f[1], 10, 64)
	ns, err2 := strconv.ParseInt(f[2], 10, 64)
	errs, err3 := strconv.ParseUint(f[3], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, 0, fmt.Errorf("sender's total %q: %w", line, err)
	}
	return sent, time.Duration(ns), errs, nil
}
