package ingest

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/listener"
	"github.com/rgap-project/rgap/bench/internal/loopback"
	"github.com/rgap-project/rgap/bench/internal/procfs"
	"github.com/rgap-project/rgap/bench/internal/traffic"
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

// orchestrateOptions are the orchestrator's flags.
type orchestrateOptions struct {
	rgap        string
	datagrams   uint64
	rounds      int
	batch       int
	rate        uint64 // sender pacing; 0 = full rate
	protocols   []int  // the listener's traffic, one run each per round
	senderCPU   int
	receiverCPU int
	timeout     time.Duration
	progress    io.Writer // narration of the steps
}

// orchestrate runs every round and writes the report to out.
func orchestrate(ctx context.Context, opts orchestrateOptions, out io.Writer) (verdict, error) {
	if len(opts.protocols) == 0 {
		opts.protocols = []int{1}
	}
	if opts.rounds < 1 || opts.datagrams < 1 {
		return verdict{}, fmt.Errorf("-rounds %d -n %d: want both at least 1", opts.rounds, opts.datagrams)
	}
	if opts.batch < 1 || opts.batch > 1024 {
		return verdict{}, fmt.Errorf("-batch %d: want 1..1024", opts.batch)
	}
	if err := checkEnvironment(opts); err != nil {
		return verdict{}, err
	}
	self, err := child.Self()
	if err != nil {
		return verdict{}, err
	}
	// This process sends, and keeps its own polling off the receiver's
	// core.
	var pin unix.CPUSet
	pin.Set(opts.senderCPU)
	if err := child.SetAffinity(&pin); err != nil {
		return verdict{}, fmt.Errorf("pin to CPU %d: %w", opts.senderCPU, err)
	}
	tmp, err := os.MkdirTemp("", "rgap-bench-ingest-")
	if err != nil {
		return verdict{}, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	r := runner{opts: opts, self: self, tmp: tmp}
	kinds := []string{kindBare}
	for _, p := range opts.protocols {
		kinds = append(kinds, listenerKind(p))
	}
	ms, err := harness.Rounds(ctx, opts.rounds, kinds, opts.progress, func(round int, kind string) (measurement, error) {
		return r.measure(ctx, round, kind)
	})
	if err != nil {
		return verdict{}, err
	}
	v := evaluate(ms)
	if err := writeReport(out, reportSetup{protocols: opts.protocols,
		datagrams: opts.datagrams, rounds: opts.rounds, batch: opts.batch, rate: opts.rate,
		senderCPU: opts.senderCPU, receiverCPU: opts.receiverCPU,
		listener: r.listenerDescription(),
	}, ms, v); err != nil {
		return verdict{}, fmt.Errorf("writing the report: %w", err)
	}
	return v, nil
}

// checkEnvironment reports what would make the numbers meaningless or the
// run impossible: no taskset, fewer than two usable CPUs, no rgap binary.
func checkEnvironment(opts orchestrateOptions) error {
	if _, err := exec.LookPath("taskset"); err != nil {
		return fmt.Errorf("%w: taskset not found (it is in util-linux: apt-get install util-linux): %w", harness.ErrEnvironment, err)
	}
	set, err := child.Affinity()
	if err != nil {
		return fmt.Errorf("%w: %w", harness.ErrEnvironment, err)
	}
	if set.Count() < 2 {
		return fmt.Errorf("%w: %d CPU available; sender and receiver need one each", harness.ErrEnvironment, set.Count())
	}
	if opts.senderCPU == opts.receiverCPU {
		return fmt.Errorf("%w: -sender-cpu and -receiver-cpu are both %d", harness.ErrEnvironment, opts.senderCPU)
	}
	if err := child.CheckCPUs(opts.senderCPU, opts.receiverCPU); err != nil {
		return fmt.Errorf("%w: %w", harness.ErrEnvironment, err)
	}
	return harness.CheckBinary(opts.rgap)
}

// runner measures one receiver at a time.
type runner struct {
	opts orchestrateOptions
	self []string // this program, re-executed as the children
	tmp  string   // for listener configuration files
}

// listenerDescription says what ran as the listener, for the report.
func (r runner) listenerDescription() string { return r.opts.rgap + " listener" }

// measure runs one receiver of kind against one burst of the sender.
func (r runner) measure(ctx context.Context, round int, kind string) (measurement, error) {
	m := measurement{Round: round, Receiver: kind}
	var recv *child.Process
	var port uint16
	var stop func(*measurement) error
	var err error
	protocol := 1 // the bare receiver counts whatever arrives
	if kind == kindBare {
		recv, port, err = r.startBare(ctx)
		stop = func(m *measurement) error { return r.stopBare(ctx, recv, m) }
	} else {
		protocol = r.protocolOf(kind)
		var l *listener.Run
		l, err = listener.Start(ctx, listenerConfig(), listener.Options{RGAP: r.opts.rgap, Path: filepath.Join(r.tmp, fmt.Sprintf("listener-%d.yaml", round)),
			Bench: "ingest", CPU: r.opts.receiverCPU, Metrics: true})
		if err == nil {
			recv, port = l.Process, l.Port
			stop = func(m *measurement) error { return stopListener(ctx, l, m) }
		}
	}
	if err != nil {
		return m, err
	}
	defer recv.Kill()

	dgrams, err := signBurst(r.opts.datagrams, protocol)
	if err != nil {
		return m, err
	}
	conn, err := traffic.Dial(netip.AddrPortFrom(loopback.Addr, port))
	if err != nil {
		return m, err
	}
	defer func() { _ = conn.Close() }()

	cpu0, err := procfs.ProcessCPU(recv.PID())
	if err != nil {
		return m, recv.Failure(err)
	}
	noise, err := harness.StartNoise(r.opts.receiverCPU)
	if err != nil {
		return m, err
	}
	sock0, err := procfs.LoopbackUDPSocket(port)
	if err != nil {
		return m, err
	}
	sent, err := traffic.Send(ctx, conn, dgrams, traffic.Options{Batch: r.opts.batch, Rate: r.opts.rate, Spin: true})
	if err != nil {
		return m, recv.Failure(err)
	}
	m.Sent, m.SendElapsed, m.SendErrors = sent.Sent, sent.Elapsed, sent.Errors

	cpu1, sock1, drained, err := drain(ctx, recv.PID(), port)
	if err != nil {
		return m, recv.Failure(err)
	}
	busy, _, err := noise.Busy()
	if err != nil {
		return m, err
	}
	m.CPU, m.Drained = cpu1-cpu0, drained
	m.OtherCPU = max(0, busy-m.CPU)
	m.SockDrops = sock1.Drops - sock0.Drops

	return m, stop(&m)
}

// protocolOf returns the protocol version of a listener kind.
func (r runner) protocolOf(kind string) int {
	for _, p := range r.opts.protocols {
		if listenerKind(p) == kind {
			return p
		}
	}
	return 1
}

// drain waits until the receiver has read everything queued on its socket
// and its CPU time has stopped growing, and returns that CPU time and the
// socket's final state. drained is false when that did not happen within
// drainTimeout; the values are then the last ones read.
func drain(ctx context.Context, pid int, port uint16) (cpu time.Duration, sock procfs.UDPSocket, drained bool, err error) {
	deadline := time.Now().Add(drainTimeout)
	var stableSince time.Time
	last := time.Duration(-1)
	for {
		if sock, err = procfs.LoopbackUDPSocket(port); err != nil {
			return 0, sock, false, err
		}
		if cpu, err = procfs.ProcessCPU(pid); err != nil {
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
func (r runner) startBare(ctx context.Context) (*child.Process, uint16, error) {
	c, err := child.Start(ctx, child.Options{Name: "bare receiver", Argv: child.Pinned(r.opts.receiverCPU, slices.Concat(r.self, []string{"-mode", "bare",
		"-addr", "127.0.0.1:0", "-rcvbuf", strconv.Itoa(bareReceiveBuffer)})...)})
	if err != nil {
		return nil, 0, err
	}
	line, err := c.WaitLine(ctx, c.Stdout, startTimeout, "ready", func(l string) bool { return strings.HasPrefix(l, "ready ") })
	if err != nil {
		c.Kill()
		return nil, 0, err
	}
	f := strings.Fields(line)
	var ap netip.AddrPort
	if len(f) == 3 {
		ap, err = netip.ParseAddrPort(f[1])
	}
	if len(f) != 3 || err != nil {
		c.Kill()
		return nil, 0, c.Failure(fmt.Errorf("unexpected ready line %q", line))
	}
	return c, ap.Port(), nil
}

// stopBare stops the bare receiver and reads its count.
func (r runner) stopBare(ctx context.Context, c *child.Process, m *measurement) error {
	if err := c.Stop(stopTimeout); err != nil {
		return err
	}
	line, err := c.WaitLine(ctx, c.Stdout, time.Second, "count", func(l string) bool { return strings.HasPrefix(l, "count ") })
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(line, "count "), 10, 64)
	if err != nil {
		return c.Failure(fmt.Errorf("count line %q: %w", line, err))
	}
	m.Received = n
	return nil
}

// stopListener stops the listener and reads its ingest totals.
func stopListener(ctx context.Context, l *listener.Run, m *measurement) error {
	t, err := l.Shutdown(ctx)
	if err != nil {
		return err
	}
	m.Received, m.Accepted, m.Refused = t.Received, t.Accepted, t.DroppedTotal()
	lines, lost := l.Stderr.Snapshot()
	m.LogLines = len(lines) + lost
	return nil
}

// listenerConfig is the configuration the orchestrator gives the listener:
// the bench group, no outputs, and a receive buffer large enough to ride
// out scheduling hiccups at full rate (Start adds the metrics and health
// endpoints, as a production listener runs).
func listenerConfig() listener.Config {
	return listener.Config{PSK: traffic.PSK, Groups: []uint64{benchGroup}, Expire: benchExpire, ReceiveBuffer: listenerReceiveBuffer}
}
