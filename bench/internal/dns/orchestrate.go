package dns

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/procfs"

	"github.com/rgap-project/rgap/internal/protocol"
)

// Server kinds, as they appear in the report.
const (
	kindBare = "bare"
	kindRGAP = "rgap"
)

// The throughput name and its group.
const (
	throughputName  = "backends.rgap.test"
	throughputGroup = 1000
	// latencyGroup0 is the first group of the propagation names.
	latencyGroup0 = 2000
	// pollTimeout bounds one query of the propagation loop; a lost query
	// is simply asked again.
	pollTimeout = 50 * time.Millisecond
)

// Fixed settings of the measurement.
const (
	clients = 2 // dnsperf -c: client sockets
	members = 3 // members of the group the throughput name answers with
	// perName is the addresses announced per propagation name before the
	// next name: a larger group no longer fits one UDP answer.
	perName       = 50
	gap           = 5 * time.Millisecond // mean pause between propagation samples (uniform in [gap/2, 3gap/2])
	sampleTimeout = time.Second          // a propagation sample whose address has not appeared by then is lost
)

// options are the orchestrator's flags.
type options struct {
	harness.Common
	duration             time.Duration
	outstanding          int
	clientCPU, serverCPU int
	samples, warmup      int
}

// validate checks the flags for values that cannot make a measurement.
func (o options) validate() error {
	switch {
	case o.duration < time.Second || o.duration%time.Second != 0:
		return fmt.Errorf("-duration %v: want whole seconds, at least 1s", o.duration)
	case o.outstanding < 1:
		return fmt.Errorf("-outstanding %d: want at least 1", o.outstanding)
	case o.samples < 1 || o.warmup < 0 || o.samples+o.warmup > 1<<16:
		return fmt.Errorf("-samples %d -warmup %d: want at least 1 sample and at most 65536 in all", o.samples, o.warmup)
	}
	return nil
}

// orchestrate measures throughput, then propagation, and writes the
// report to out; pass is whether both goals were met.
func orchestrate(ctx context.Context, o options, out io.Writer) (pass bool, err error) {
	if err := o.validate(); err != nil {
		return false, err
	}
	if err := checkEnvironment(o); err != nil {
		return false, err
	}
	self, err := child.Self()
	if err != nil {
		return false, err
	}
	psk, err := protocol.GeneratePSK(rand.Reader)
	if err != nil {
		return false, err
	}
	tv, err := runThroughput(ctx, o, self, psk, out)
	if err != nil {
		return false, fmt.Errorf("throughput: %w", err)
	}
	lv, err := runLatency(ctx, o, psk, out)
	if err != nil {
		return false, fmt.Errorf("propagation: %w", err)
	}
	return tv.pass() && lv.pass(), nil
}

// checkEnvironment reports what makes the run impossible or meaningless.
func checkEnvironment(o options) error {
	if _, err := exec.LookPath("dnsperf"); err != nil {
		return fmt.Errorf("%w: dnsperf not found; it generates the load (Debian: apt-get install dnsperf): %w", harness.ErrEnvironment, err)
	}
	if err := harness.CheckPinning("client-cpu", o.clientCPU, "server-cpu", o.serverCPU); err != nil {
		return err
	}
	return harness.CheckBinary(o.RGAP)
}

// perfRun is one dnsperf run against one server.
type perfRun struct {
	Round  int
	Server string
	perfResult
	// Wall is how long dnsperf ran, start to exit.
	Wall time.Duration
	// ServerCPU is the CPU time of the server's processes meanwhile.
	ServerCPU time.Duration
	// OtherCPU is the rest of the busy time of the server's core: other
	// processes, interrupts, steal.
	OtherCPU time.Duration
}

// throughputRun holds what one throughput part needs.
type throughputRun struct {
	o       options
	self    []string
	psk     protocol.PSK
	queries string // the dnsperf query file
}

// runThroughput measures both servers o.rounds times and reports.
func runThroughput(ctx context.Context, o options, self []string, psk protocol.PSK, out io.Writer) (throughputVerdict, error) {
	// Keep this process's timers and goroutines off the server's core.
	restore, err := child.PinSelf(o.clientCPU)
	if err != nil {
		return throughputVerdict{}, err
	}
	// Best effort: the propagation part runs unpinned.
	defer func() { _ = restore() }()

	t := throughputRun{o: o, self: self, psk: psk, queries: filepath.Join(o.Dir, "queries.txt")}
	if err := os.WriteFile(t.queries, []byte(throughputName+" A\n"), 0o600); err != nil {
		return throughputVerdict{}, err
	}
	runs, err := harness.Rounds(ctx, o.Rounds, []string{kindBare, kindRGAP}, o.Progress, func(round int, kind string) (perfRun, error) {
		return t.measure(ctx, round, kind)
	})
	if err != nil {
		return throughputVerdict{}, err
	}
	v := evaluateThroughput(runs)
	if err := writeThroughputReport(out, o, runs, v); err != nil {
		return throughputVerdict{}, fmt.Errorf("writing the throughput report: %w", err)
	}
	return v, nil
}

// measure runs dnsperf once against a fresh server of kind.
func (t throughputRun) measure(ctx context.Context, round int, kind string) (perfRun, error) {
	r := perfRun{Round: round, Server: kind}
	var server *child.Process
	var addr netip.AddrPort
	switch kind {
	case kindBare:
		p, a, err := child.StartServer(ctx, "bare responder", child.Pinned(t.o.serverCPU, slices.Concat(t.self, []string{"-mode", "bare"})...))
		if err != nil {
			return r, err
		}
		defer func() { _ = p.Stop(child.StopTimeout) }() // measured already; this only ends it
		server, addr = p, a
	case kindRGAP:
		s, err := startRGAP(ctx, t.o.RGAP, t.o.serverCPU, filepath.Join(t.o.Dir, fmt.Sprintf("throughput-%d.yaml", round)),
			t.psk, []mapping{{Name: throughputName, Group: throughputGroup}})
		if err != nil {
			return r, err
		}
		defer func() { _ = s.Stop(child.StopTimeout) }() // measured already; this only ends it
		if err := announceMembers(s, t.psk, members); err != nil {
			return r, s.Failure(err)
		}
		server, addr = s.Process, s.dns
	}

	span, err := harness.StartCPUSpan(t.o.serverCPU, func() (time.Duration, error) { return procfs.TreeCPU(server.PID()) })
	if err != nil {
		return r, server.Failure(err)
	}
	start := time.Now()
	perf, err := child.Start(ctx, child.Options{Name: "dnsperf", DropStdout: isTimeoutLine,
		Argv: child.Pinned(t.o.clientCPU, dnsperfArgs(addr.Addr().String(), addr.Port(), t.queries, t.o)...)})
	if err != nil {
		return r, err
	}
	defer func() { _ = perf.Stop(child.StopTimeout) }() // after Wait it has exited: this only cleans up
	if err := perf.Wait(ctx, t.o.duration+30*time.Second); err != nil {
		return r, err
	}
	r.Wall = time.Since(start)
	if r.ServerCPU, r.OtherCPU, err = span.End(); err != nil {
		return r, server.Failure(err)
	}
	lines, _ := perf.Stdout.Snapshot()
	if r.perfResult, err = parseDNSPerf(lines); err != nil {
		return r, perf.Failure(err)
	}
	return r, nil
}

// announceMembers announces n addresses in the throughput group, each once
// the dns output answers with the one before.
func announceMembers(s *rgapServer, psk protocol.PSK, n int) error {
	a, err := newAnnouncer(s, psk)
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	r, err := newResolver(s.dns)
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	for i := range n {
		addr := netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(1 + i%250)})
		smp, err := propagate(a, r, mapping{Name: throughputName, Group: throughputGroup}, addr, 5*time.Second)
		if err == nil && smp.Lost {
			err = fmt.Errorf("%s A did not list %s within 5s", throughputName, addr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// latencyName is the name of the i-th propagation name.
func latencyName(i int) string { return fmt.Sprintf("n%d.latency.rgap.test", i) }

// latencyAddr is the address announced by the i-th propagation sample
// (warm-up included): a new one every time.
func latencyAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 100, byte(i >> 8), byte(i)})
}

// runLatency measures the propagation delay and reports.
func runLatency(ctx context.Context, o options, psk protocol.PSK, out io.Writer) (latencyVerdict, error) {
	total := o.warmup + o.samples
	names := (total + perName - 1) / perName
	ms := make([]mapping, names)
	for i := range ms {
		ms[i] = mapping{Name: latencyName(i), Group: uint64(latencyGroup0 + i)}
	}
	s, err := startRGAP(ctx, o.RGAP, -1, filepath.Join(o.Dir, "latency.yaml"), psk, ms)
	if err != nil {
		return latencyVerdict{}, err
	}
	defer func() { _ = s.Stop(child.StopTimeout) }() // measured already; this only ends it
	a, err := newAnnouncer(s, psk)
	if err != nil {
		return latencyVerdict{}, err
	}
	defer func() { _ = a.Close() }()
	r, err := newResolver(s.dns)
	if err != nil {
		return latencyVerdict{}, err
	}
	defer func() { _ = r.Close() }()
	// Make sure the names answer before the clock starts.
	if _, err := r.lookupA(latencyName(0), 5*time.Second); err != nil {
		return latencyVerdict{}, s.Failure(err)
	}

	rng := mrand.New(mrand.NewPCG(1, 2))
	var samples []sample
	for i := range total {
		if ctx.Err() != nil {
			return latencyVerdict{}, ctx.Err()
		}
		m := ms[i/perName]
		smp, err := propagate(a, r, m, latencyAddr(i), sampleTimeout)
		if err != nil {
			return latencyVerdict{}, s.Failure(err)
		}
		if i >= o.warmup {
			samples = append(samples, smp)
		}
		time.Sleep(gap/2 + time.Duration(rng.Int64N(int64(gap)+1)))
	}
	v := evaluateLatency(samples)
	if err := writeLatencyReport(out, o, names, v); err != nil {
		return latencyVerdict{}, fmt.Errorf("writing the propagation report: %w", err)
	}
	return v, nil
}

// sample is one propagation measurement.
type sample struct {
	// Latency is from sending the announcement to the first answer with
	// its address; meaningless when Lost.
	Latency time.Duration
	// Lost is set when the address had not appeared within the timeout.
	Lost bool
}

// propagate announces addr for m's group and queries m's name until the
// answer holds addr.
func propagate(a *announcer, r *resolver, m mapping, addr netip.Addr, timeout time.Duration) (sample, error) {
	var smp sample
	sent, err := a.announce(m.Group, addr)
	if err != nil {
		return smp, err
	}
	for {
		resp, err := r.lookupA(m.Name, pollTimeout)
		switch {
		case errors.Is(err, errNoAnswer):
		case err != nil:
			return smp, err
		case answerHas(resp, addr):
			smp.Latency = time.Since(sent)
			return smp, nil
		}
		if time.Since(sent) > timeout {
			smp.Lost = true
			return smp, nil
		}
	}
}
