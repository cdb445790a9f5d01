package propagation

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/listenerlog"
	"github.com/rgap-project/rgap/bench/internal/procfs"
	"github.com/rgap-project/rgap/bench/internal/propagation/record"
	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// goalJoinP99 is the propagation goal: datagram received -> the plugin's
// join handler called, 99th percentile.
const goalJoinP99 = 2 * time.Millisecond

// pathListener names the receiver in the report: rgap listener -> plugin.
const pathListener = "listener"

// joinOptions are the settings of the propagation measurement.
type joinOptions struct {
	rounds int
	events int // measured new addresses per round
	warmup int // new addresses sent first, not measured
	rate   int // datagrams per second
}

// joinRound is one receiver's run in one round.
type joinRound struct {
	Round int
	Path  string // pathListener
	// Sent is the measured datagrams sent; Seen how many of their
	// addresses the receiver recorded; Unknown records of addresses that
	// were not sent (must be none); Duplicates addresses recorded twice
	// (must be none).
	Sent, Seen, Unknown, Duplicates int
	// Latencies are record time - send time, sorted.
	Latencies []time.Duration
	// SendTime is the time the sending took (warm-up included), and
	// OtherCPU the time every CPU was busy meanwhile with anything but
	// the receiver's processes (listener and plugin).
	SendTime, OtherCPU time.Duration
	// Totals are the listener's counters.
	Totals listenerlog.Totals
}

// p returns the p-th percentile latency.
func (r joinRound) p(p float64) time.Duration { return harness.Percentile(r.Latencies, p) }

// measureJoins runs every round of the propagation measurement.
func measureJoins(ctx context.Context, b *bench, opts joinOptions) ([]joinRound, error) {
	if opts.events < 1 || opts.warmup < 0 || opts.events+opts.warmup > maxAddresses/2 {
		return nil, fmt.Errorf("-events %d -warmup %d: want 1..%d addresses in all", opts.events, opts.warmup, maxAddresses/2)
	}
	return harness.Rounds(ctx, opts.rounds, []string{pathListener}, b.progress, func(round int, _ string) (joinRound, error) {
		return b.joinRound(ctx, round, opts)
	})
}

// joinRound starts a listener, sends the warm-up and the measured
// addresses paced at opts.rate, stops the listener, and pairs its plugin's
// records with the send times.
func (b *bench) joinRound(ctx context.Context, round int, opts joinOptions) (joinRound, error) {
	r := joinRound{Round: round, Path: pathListener, Sent: opts.events}
	out := filepath.Join(b.dir, fmt.Sprintf("joins-%d.bin", round))
	capacity := min(opts.events+opts.warmup+1024, 1<<20)
	l, err := b.startListener(ctx, fmt.Sprintf("join-%d", round), "out: "+strconv.Quote(out), "mode: join", "capacity: "+strconv.Itoa(capacity))
	if err != nil {
		return r, err
	}
	defer l.Kill()

	addrs := make([]netip.Addr, 0, opts.warmup+opts.events)
	for i := range opts.warmup {
		addrs = append(addrs, traffic.Addr(warmupBase+i))
	}
	for i := range opts.events {
		addrs = append(addrs, traffic.Addr(i))
	}
	signer, err := traffic.NewSigner(traffic.PSK, 1)
	if err != nil {
		return r, err
	}
	dgrams := signer.Sign(len(addrs), time.Now(), 0, func(i int) (uint64, netip.Addr) { return traffic.Group, addrs[i] })
	conn, err := l.Dial()
	if err != nil {
		return r, err
	}
	defer func() { _ = conn.Close() }()
	// Each tick a burst of the datagrams due by then, stamped just
	// before it: at 10,000/s and a 1 ms tick the listener sees bursts of
	// ten every millisecond, and a late tick is caught up.
	sentAt := make([]int64, len(dgrams))
	burst := max(1, int(int64(opts.rate)*int64(tick)/int64(time.Second)))
	span, err := harness.StartCPUSpan(-1, func() (time.Duration, error) { return procfs.TreeCPU(l.PID()) }) // the listener and its plugin
	if err != nil {
		return r, l.Failure(err)
	}
	res, err := traffic.Send(ctx, conn, dgrams, traffic.Options{Batch: burst, Rate: uint64(opts.rate), SentAt: sentAt})
	if err != nil {
		return r, l.Failure(err)
	}
	if _, r.OtherCPU, err = span.End(); err != nil {
		return r, l.Failure(err)
	}
	r.SendTime = res.Elapsed
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(settle):
	}
	if r.Totals, _, err = b.stopListener(ctx, l); err != nil {
		return r, err
	}
	if _, err = l.WaitLine(ctx, l.Stderr, time.Second, "the plugin's last line", listenerlog.Matching(func(l listenerlog.Line) bool { return l.Message == msgJoinsWritten })); err != nil {
		return r, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return r, fmt.Errorf("the plugin's records: %w", err)
	}
	recs, err := record.Parse[record.Join](data)
	if err != nil {
		return r, fmt.Errorf("%s: %w", out, err)
	}
	r.pair(recs, addrs[opts.warmup:], sentAt[opts.warmup:], addrs[:opts.warmup])
	return r, nil
}

// pair matches the receiver's records with the measured addresses and
// their send times, and ignores the warm-up's.
func (r *joinRound) pair(recs []record.Join, measured []netip.Addr, sentAt []int64, warmup []netip.Addr) {
	sent := make(map[netip.Addr]int64, len(measured))
	for i, a := range measured {
		sent[a] = sentAt[i]
	}
	warm := make(map[netip.Addr]bool, len(warmup))
	for _, a := range warmup {
		warm[a] = true
	}
	seen := make(map[netip.Addr]bool, len(measured))
	r.Latencies = make([]time.Duration, 0, len(measured))
	for _, j := range recs {
		t, ok := sent[j.Addr]
		switch {
		case ok && seen[j.Addr]:
			r.Duplicates++
		case ok:
			seen[j.Addr] = true
			r.Latencies = append(r.Latencies, time.Duration(j.At-t))
		case !warm[j.Addr]:
			r.Unknown++
		}
	}
	r.Seen = len(r.Latencies)
	slices.Sort(r.Latencies)
}

// joinVerdict is the outcome of the propagation measurement; only the
// listener's rounds count.
type joinVerdict struct {
	P99                    harness.Spread // milliseconds, over rounds
	Sent, Seen             int
	Unknown, Duplicates    int
	Refused                uint64 // datagrams the listener dropped
	latencyPass, countPass bool
}

func (v joinVerdict) pass() bool { return v.latencyPass && v.countPass }

func evaluateJoins(rounds []joinRound) joinVerdict {
	var v joinVerdict
	var p99s []float64
	for _, r := range rounds {
		p99s = append(p99s, harness.Millis(r.p(99)))
		v.Sent += r.Sent
		v.Seen += r.Seen
		v.Unknown += r.Unknown
		v.Duplicates += r.Duplicates
		v.Refused += r.Totals.DroppedTotal()
	}
	v.P99 = harness.Summarize(p99s)
	v.latencyPass = len(p99s) > 0 && v.P99.Median <= harness.Millis(goalJoinP99)
	v.countPass = v.Sent > 0 && v.Seen == v.Sent && v.Unknown == 0 && v.Duplicates == 0 && v.Refused == 0
	return v
}

// joinColumns are the numeric columns of the propagation table.
var joinColumns = []harness.Column[joinRound]{
	harness.Col("sent", func(r joinRound) float64 { return float64(r.Sent) }, harness.Count),
	harness.Col("seen", func(r joinRound) float64 { return float64(r.Seen) }, harness.Count),
	harness.Col("p50_ms", func(r joinRound) float64 { return harness.Millis(r.p(50)) }, harness.Fixed(3)),
	harness.Col("p90_ms", func(r joinRound) float64 { return harness.Millis(r.p(90)) }, harness.Fixed(3)),
	harness.Col("p99_ms", func(r joinRound) float64 { return harness.Millis(r.p(99)) }, harness.Fixed(3)),
	harness.Col("max_ms", func(r joinRound) float64 { return harness.Millis(r.p(100)) }, harness.Fixed(3)),
	harness.Col("other_cpu_%", func(r joinRound) float64 { return 100 * r.OtherCPU.Seconds() / r.SendTime.Seconds() }, harness.Fixed(0)),
}

// writeJoinReport prints every round, the spread over rounds per receiver
// and the verdict.
func writeJoinReport(out io.Writer, rgap string, opts joinOptions, rounds []joinRound, v joinVerdict) error {
	w := harness.NewWriter(out)
	w.Printf("1. propagation: datagram sent -> plugin's join handler called; %d rounds x %s new addresses paced at %s/s (%v tick), after %s warm-up\n",
		opts.rounds, harness.Count(float64(opts.events)), harness.Count(float64(opts.rate)), tick, harness.Count(float64(opts.warmup)))
	w.Printf("   listener = %s listener (one group, readiness_delay 0, info log) -> out-of-tree rgap-plugin-%s (sdk.EventHandler)\n", rgap, pluginKind)
	w.Println()
	harness.RoundsTable(w, []string{"round", "receiver"}, joinColumns, rounds,
		func(r joinRound) []string { return []string{strconv.Itoa(r.Round), r.Path} },
		[]string{pathListener}, func(r joinRound) string { return r.Path })
	w.Println("\nlatency = the receiver's clock when it got the address (listener: the plugin's HandleEvent for the join) - the")
	w.Println("sender's clock just before the sendmmsg(2) of its burst; one host, one CLOCK_REALTIME. The loopback hop sender ->")
	w.Println("socket it includes takes microseconds, so this is datagram arrival -> handler within a few µs.")
	w.Println("other_cpu_% = all CPUs busy with anything but the listener and plugin while sending, in % of one CPU.")
	w.Println("seen = sent addresses the receiver recorded.")
	if v.Unknown > 0 || v.Duplicates > 0 {
		w.Printf("WARNING: the plugin recorded %d joins of addresses never sent and %d duplicate joins\n", v.Unknown, v.Duplicates)
	}
	w.Printf("goal latency: listener p99, median over rounds %s ms (min %s, max %s), goal <= %s ms: %s\n",
		harness.Fixed(3)(v.P99.Median), harness.Fixed(3)(v.P99.Min), harness.Fixed(3)(v.P99.Max), harness.Fixed(0)(harness.Millis(goalJoinP99)), harness.PassFail(v.latencyPass))
	w.Printf("goal joins:   %s of %s sent addresses reached the handler, listener dropped %s datagrams, goal all and 0: %s\n",
		harness.Count(float64(v.Seen)), harness.Count(float64(v.Sent)), harness.Count(float64(v.Refused)), harness.PassFail(v.countPass))
	return w.Err()
}
