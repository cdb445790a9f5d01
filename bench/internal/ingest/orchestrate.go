package ingest

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/listener"
	"github.com/rgap-project/rgap/bench/internal/procfs"
	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// Receiver kinds, as they appear in the report.
const (
	kindBare     = "bare"
	kindListener = "listener"
)

// Bounds on the steps of one measurement; the whole run is bounded by
// -timeout as well.
const (
	drainTimeout = 10 * time.Second // a receiver empties its socket
	// settle is how long a receiver's CPU time must stay unchanged, with
	// its socket queue empty, for it to count as done. It is several
	// ticks of /proc's 10 ms resolution.
	settle       = 100 * time.Millisecond
	pollInterval = 10 * time.Millisecond
)

// orchestrateOptions are the orchestrator's flags.
type orchestrateOptions struct {
	harness.Common
	datagrams   uint64
	batch       int
	protocols   []int // the listener's traffic, one run each per round
	senderCPU   int
	receiverCPU int
}

// orchestrate runs every round and writes the report to out.
func orchestrate(ctx context.Context, opts orchestrateOptions, out io.Writer) (verdict, error) {
	if opts.datagrams < 1 || opts.batch < 1 || opts.batch > 1024 {
		return verdict{}, fmt.Errorf("-n %d -batch %d: want at least 1 datagram, 1..1024 a batch", opts.datagrams, opts.batch)
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
	restore, err := child.PinSelf(opts.senderCPU)
	if err != nil {
		return verdict{}, err
	}
	defer func() { _ = restore() }()
	r := runner{opts: opts, self: self}
	kinds := []string{kindBare}
	for _, p := range opts.protocols {
		kinds = append(kinds, listenerKind(p))
	}
	ms, err := harness.Rounds(ctx, opts.Rounds, kinds, opts.Progress, func(round int, kind string) (measurement, error) {
		return r.measure(ctx, round, kind)
	})
	if err != nil {
		return verdict{}, err
	}
	v := evaluate(ms)
	if err := writeReport(out, opts, ms, v); err != nil {
		return verdict{}, fmt.Errorf("writing the report: %w", err)
	}
	return v, nil
}

// checkEnvironment reports what would make the numbers meaningless or the
// run impossible: sender and receiver not pinnable to CPUs of their own,
// no rgap binary.
func checkEnvironment(opts orchestrateOptions) error {
	if err := harness.CheckPinning("sender-cpu", opts.senderCPU, "receiver-cpu", opts.receiverCPU); err != nil {
		return err
	}
	return harness.CheckBinary(opts.RGAP)
}

// runner measures one receiver at a time.
type runner struct {
	opts orchestrateOptions
	self []string // this program, re-executed as the children
}

// measure runs one receiver of kind against one burst of the sender.
func (r runner) measure(ctx context.Context, round int, kind string) (measurement, error) {
	m := measurement{Round: round, Receiver: kind}
	var recv *child.Process
	var port uint16
	var stop func(*measurement) error
	var err error
	protocol := 1 // the bare receiver counts whatever arrives
	if kind == kindBare {
		var addr netip.AddrPort
		recv, addr, err = child.StartServer(ctx, "bare receiver", child.Pinned(r.opts.receiverCPU, slices.Concat(r.self, []string{"-mode", "bare"})...))
		port = addr.Port()
		stop = func(m *measurement) error { return stopBare(ctx, recv, m) }
	} else {
		if kind == listenerKind(2) {
			protocol = 2
		}
		// The bench group, no outputs, and a receive buffer large enough to
		// ride out scheduling hiccups at full rate; Start adds the metrics
		// and health endpoints, as a production listener runs.
		cfg := listener.Config{PSK: traffic.PSK, Groups: []uint64{benchGroup}, Expire: benchExpire, ReceiveBuffer: listenerReceiveBuffer}
		var l *listener.Run
		l, err = listener.Start(ctx, cfg, listener.Options{RGAP: r.opts.RGAP, Path: filepath.Join(r.opts.Dir, fmt.Sprintf("listener-%d.yaml", round)),
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
	conn, err := traffic.Dial(netip.AddrPortFrom(traffic.Loopback, port))
	if err != nil {
		return m, err
	}
	defer func() { _ = conn.Close() }()

	span, err := harness.StartCPUSpan(r.opts.receiverCPU, func() (time.Duration, error) { return procfs.ProcessCPU(recv.PID()) })
	if err != nil {
		return m, recv.Failure(err)
	}
	sent, err := traffic.Send(ctx, conn, dgrams, traffic.Options{Batch: r.opts.batch})
	if err != nil {
		return m, recv.Failure(err)
	}
	m.Sent, m.SendElapsed = sent.Sent, sent.Elapsed

	if m.Drained, err = drain(ctx, recv.PID(), port); err != nil {
		return m, recv.Failure(err)
	}
	if m.CPU, m.OtherCPU, err = span.End(); err != nil {
		return m, recv.Failure(err)
	}

	return m, stop(&m)
}

// drain waits until the receiver has read everything queued on its socket
// and its CPU time has stopped growing; drained is false when that did not
// happen within drainTimeout.
func drain(ctx context.Context, pid int, port uint16) (drained bool, err error) {
	deadline := time.Now().Add(drainTimeout)
	var stableSince time.Time
	last := time.Duration(-1)
	for {
		queued, err := procfs.LoopbackUDPQueue(port)
		if err != nil {
			return false, err
		}
		cpu, err := procfs.ProcessCPU(pid)
		if err != nil {
			return false, err
		}
		now := time.Now()
		switch {
		case queued != 0 || cpu != last:
			stableSince, last = now, cpu
		case now.Sub(stableSince) >= settle:
			return true, nil
		}
		if now.After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// stopBare stops the bare receiver and reads its count.
func stopBare(ctx context.Context, c *child.Process, m *measurement) error {
	if err := c.Stop(child.StopTimeout); err != nil {
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
	m.Received, m.Refused = t.Received, t.DroppedTotal()
	return nil
}
