package propagation

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	promfs "github.com/prometheus/procfs"

	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/listener"
	"github.com/rgap-project/rgap/bench/internal/procfs"
	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// The scale benchmark (`make bench-scale`): the cost curve as the group
// state grows. For each size a fresh listener (the -rgap binary, metrics
// endpoint on) with the out-of-tree benchjoin plugin in snapshot mode is
// filled with the members, spread evenly over the groups, and then:
//
//   - listener memory per member: RSS (/proc/PID/status) and Go heap
//     (go_memstats_heap_alloc_bytes from its metrics endpoint: live heap
//     plus garbage not yet collected, so an upper bound), after the fill
//     minus before it, over the members; sampled -samples times;
//   - plugin mirror heap per member: the plugin collects garbage and
//     reads its live heap when its mirror is complete; a restarted
//     plugin's heap minus the first plugin's empty one, over the members;
//   - snapshot: the plugin is SIGKILLed and the host restarts it with a
//     fresh snapshot; process start to complete mirror, as propagation;
//   - ingest: -ingest-count announcements refreshing existing members
//     (spread over all of them and every group), paced at -ingest-rate
//     (below saturation, the same for every size), and the listener's CPU
//     time over the datagrams it accepted meanwhile.

// Goals of the scale benchmark.
const (
	goalListenerBytes = 128.0 // listener RSS and heap per member
	goalPluginBytes   = 64.0  // one plugin mirror's heap per member
	goalScaleSnapshot = 2500 * time.Millisecond
	goalIngestRatio   = 1.2 // ingest CPU per datagram, largest size / smallest
)

// scaleSize is one point of the curve.
type scaleSize struct{ Members, Groups int }

// parseSizes reads "MEMBERS/GROUPS,..." (10000/1,100000/100).
func parseSizes(s string) ([]scaleSize, error) {
	var out []scaleSize
	for f := range strings.SplitSeq(s, ",") {
		m, g, ok := strings.Cut(strings.TrimSpace(f), "/")
		members, err1 := strconv.Atoi(m)
		groups, err2 := strconv.Atoi(g)
		if !ok || err1 != nil || err2 != nil || groups < 1 || members < groups || members >= traffic.MaxAddrs {
			return nil, fmt.Errorf("-sizes: %q: want MEMBERS/GROUPS, 1 <= GROUPS <= MEMBERS < %d", f, traffic.MaxAddrs)
		}
		out = append(out, scaleSize{members, groups})
	}
	return out, nil
}

// scaleOptions are the scale flags.
type scaleOptions struct {
	sizes       []scaleSize
	rounds      int // plugin restarts and ingest rounds per size
	ingestCount int
	ingestRate  int
	fillRate    int
	samples     int
}

// scalePoint is what one size measured; per-member figures are bytes.
type scalePoint struct {
	Size                       scaleSize
	ListenerRSS, ListenerHeap  []float64 // per member, one per sample
	PluginHeap                 []float64 // per member, one per restart
	SnapshotMs                 []float64 // process start to complete mirror, one per restart
	IngestNs                   []float64 // listener CPU per accepted datagram, one per round
	Events                     []float64 // output events per accepted datagram, one per round
	IngestAccepted, IngestSent uint64    // over all rounds
	OtherCPU                   []float64 // every CPU's other work in each ingest round, % of one CPU
}

// RunScale is the scale subcommand; its exit status is harness.Bench.Run's.
func RunScale(args []string, stdout, stderr io.Writer) int {
	var sizes string
	var o scaleOptions
	return harness.Bench{
		Name: "scale", Summary: "Measures the listener's and a plugin's cost per member and per datagram as the groups grow.",
		Rounds: 3, Timeout: 10 * time.Minute,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&sizes, "sizes", "10000/1,100000/100,1000000/1000", "points of the curve: MEMBERS/GROUPS, comma-separated; the first and last are compared")
			fs.IntVar(&o.ingestCount, "ingest-count", 200_000, "announcements per ingest round")
			fs.IntVar(&o.ingestRate, "ingest-rate", 50_000, "announcements per second in the ingest rounds")
			fs.IntVar(&o.fillRate, "fill-rate", 50_000, "announcements per second while filling the groups")
			fs.IntVar(&o.samples, "samples", 3, "listener memory samples per size, 200 ms apart")
		},
		Check: func(c harness.Common) error {
			var err error
			if o.sizes, err = parseSizes(sizes); err != nil {
				return err
			}
			if o.ingestCount < 1 || o.ingestRate < 1 || o.fillRate < 1 || o.samples < 1 {
				return fmt.Errorf("-ingest-count, -ingest-rate, -fill-rate and -samples must be positive")
			}
			o.rounds = c.Rounds
			return nil
		},
		Measure: measure(func(ctx context.Context, b *bench, _ harness.Common, out io.Writer) (bool, error) {
			b.metrics = true
			var points []scalePoint
			for _, size := range o.sizes {
				p, err := measureScale(ctx, b, size, o)
				if err != nil {
					return false, fmt.Errorf("%d members in %d groups: %w", size.Members, size.Groups, err)
				}
				points = append(points, p)
			}
			return writeScaleReport(out, points)
		}),
	}.Run(args, stdout, stderr)
}

// measureScale runs one size on a fresh listener.
func measureScale(ctx context.Context, b *bench, size scaleSize, o scaleOptions) (scalePoint, error) {
	p := scalePoint{Size: size}
	b.groups = size.Groups
	l, err := b.startSnapshots(ctx, fmt.Sprintf("scale-%d", size.Members), size.Members, true)
	if err != nil {
		return p, err
	}
	defer l.Kill()
	rss0, heap0, err := listenerMemory(l.Run)
	if err != nil {
		return p, err
	}
	filledAt := time.Now()
	if _, _, err = b.fill(ctx, l, filledAt, o.fillRate); err != nil {
		return p, err
	}
	n := float64(size.Members)
	for i := range o.samples {
		if i > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		rss, heap, err := listenerMemory(l.Run)
		if err != nil {
			return p, err
		}
		p.ListenerRSS = append(p.ListenerRSS, (rss-rss0)/n)
		p.ListenerHeap = append(p.ListenerHeap, (heap-heap0)/n)
	}
	rounds, err := b.restarts(ctx, l, o.rounds)
	if err != nil {
		return p, err
	}
	for _, r := range rounds {
		p.SnapshotMs = append(p.SnapshotMs, harness.Millis(r.Start))
		p.PluginHeap = append(p.PluginHeap, float64(r.Heap-l.first.Heap)/n)
	}
	signer, err := traffic.NewSigner(traffic.PSK, 1)
	if err != nil {
		return p, err
	}
	// Each round's refreshes are newer than the last (an older one is a
	// replay) but stamped close to the fill, so that over the default
	// rounds no expiry moves by the granularity (1 s) and the group state
	// publishes nothing: the same per-datagram work at every size.
	round := 0
	sign := func() [][]byte {
		at := filledAt.Add(time.Duration(1+round*o.ingestCount) * time.Microsecond)
		round++
		return signer.Sign(o.ingestCount, at, time.Microsecond, spreadOver(o.ingestCount, size.Members, b.member))
	}
	if err := measureIngest(ctx, b, l.Run, sign, o, &p); err != nil {
		return p, err
	}
	_, _, err = b.stopListener(ctx, l.Run)
	return p, err
}

// spreadOver returns the member of datagram i of k refreshing n members: every
// group, every part of the table; a k above n cycles through them.
func spreadOver(k, n int, member func(int) (uint64, netip.Addr)) func(int) (uint64, netip.Addr) {
	m := min(k, n)
	return func(i int) (uint64, netip.Addr) { return member(int(int64(i%m) * int64(n) / int64(m))) }
}

// measureIngest times the listener refreshing existing members with the
// datagrams sign returns, signed anew each round. Events sent to the
// plugin per datagram are reported, since they weigh on the cost.
func measureIngest(ctx context.Context, b *bench, l *listener.Run, sign func() [][]byte, o scaleOptions, p *scalePoint) error {
	conn, err := l.Dial()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	for round := 1; round <= o.rounds; round++ {
		acc0, err := scrapeSum(l.HTTPPort, "rgap_announcements_accepted_total")
		if err != nil {
			return err
		}
		ev0, err := scrapeSum(l.HTTPPort, "rgap_output_events_total")
		if err != nil {
			return err
		}
		span, err := harness.StartCPUSpan(-1, func() (time.Duration, error) { return threadsCPU(l.PID()) })
		if err != nil {
			return l.Failure(err)
		}
		start := time.Now()
		dgrams := sign()
		sent, err := traffic.Send(ctx, conn, dgrams, traffic.Options{Rate: uint64(o.ingestRate)})
		if err != nil {
			return l.Failure(err)
		}
		acc, err := waitAccepted(ctx, l.HTTPPort, acc0+float64(sent.Sent))
		if err != nil {
			return l.Failure(err)
		}
		own, other, err := span.End()
		if err != nil {
			return l.Failure(err)
		}
		p.IngestSent += sent.Sent
		p.IngestAccepted += uint64(acc - acc0)
		ev1, err := scrapeSum(l.HTTPPort, "rgap_output_events_total")
		if err != nil {
			return err
		}
		p.IngestNs = append(p.IngestNs, float64(own)/(acc-acc0))
		p.Events = append(p.Events, (ev1-ev0)/(acc-acc0))
		p.OtherCPU = append(p.OtherCPU, 100*other.Seconds()/time.Since(start).Seconds())
		_, _ = fmt.Fprintf(b.progress, "scale: %d members: ingest round %d: %.0f ns/datagram\n", p.Size.Members, round, p.IngestNs[len(p.IngestNs)-1])
	}
	return nil
}

// threadsCPU returns the time pid's threads have run on a CPU, at
// nanosecond resolution (/proc/PID/task/*/schedstat; the 10 ms ticks of
// /proc/PID/stat are too coarse for a round). The listener's threads live
// as long as it does, so none of the time is lost to a thread's exit.
func threadsCPU(pid int) (time.Duration, error) {
	threads, err := promfs.AllThreads(pid)
	if err != nil {
		return 0, fmt.Errorf("threads of %d: %w", pid, err)
	}
	var total uint64
	for _, t := range threads {
		s, err := t.Schedstat()
		if err != nil {
			continue // a thread that just exited
		}
		total += s.RunningNanoseconds
	}
	return time.Duration(total), nil //nolint:gosec // nanoseconds of CPU time fit in int64
}

// waitAccepted polls the accepted counter until it reaches want (every
// datagram of a round processed) or stops moving for a second (some were
// dropped), and returns it.
func waitAccepted(ctx context.Context, port uint16, want float64) (float64, error) {
	last, still := -1.0, 0
	for {
		acc, err := scrapeSum(port, "rgap_announcements_accepted_total")
		if err != nil || acc >= want {
			return acc, err
		}
		if acc == last {
			if still++; still >= 50 {
				return acc, nil
			}
		} else {
			last, still = acc, 0
		}
		select {
		case <-ctx.Done():
			return acc, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listenerMemory returns the listener's RSS and Go heap in bytes.
func listenerMemory(l *listener.Run) (rss, heap float64, err error) {
	st, err := procfs.Read(l.PID(), "status", promfs.Proc.NewStatus)
	if err != nil {
		return 0, 0, l.Failure(fmt.Errorf("read the listener's RSS: %w", err))
	}
	rss = float64(st.VmRSS)
	heap, err = scrapeSum(l.HTTPPort, "go_memstats_heap_alloc_bytes")
	return rss, heap, err
}

// scrapeClient bounds a scrape of the listener's metrics endpoint.
var scrapeClient = &http.Client{Timeout: 5 * time.Second}

// scrapeSum reads the listener's metrics endpoint and returns the sum of
// every series of the metric name (a counter per group adds up).
func scrapeSum(port uint16, name string) (float64, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	resp, err := scrapeClient.Get(url)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	if families[name] == nil {
		return 0, fmt.Errorf("scrape %s: no %s", url, name)
	}
	sum := 0.0
	for _, m := range families[name].GetMetric() {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
	}
	return sum, nil
}

// writeScaleReport prints the curve and the goal lines; it returns whether
// every goal passed.
func writeScaleReport(out io.Writer, points []scalePoint) (bool, error) {
	w := harness.NewWriter(out)
	w.Printf("scale: cost per member and per datagram as the groups grow; a fresh listener per size\n\n")
	spread := func(xs []float64, f func(float64) string) string {
		s := harness.Summarize(xs)
		return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
	}
	tw, flush := w.Table()
	tw.Print("members\tgroups\tlistener_rss_B/member\tlistener_heap_B/member\tplugin_heap_B/member\tsnapshot_ms\tingest_ns/datagram\tevents/datagram\tother_cpu_%\taccepted/sent\t\n")
	one, zero := harness.Fixed(1), harness.Fixed(0)
	for _, p := range points {
		tw.Printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s/%s\t\n", harness.Count(float64(p.Size.Members)), harness.Count(float64(p.Size.Groups)),
			spread(p.ListenerRSS, one), spread(p.ListenerHeap, one), spread(p.PluginHeap, one),
			spread(p.SnapshotMs, one), spread(p.IngestNs, zero), harness.Fixed(3)(harness.Summarize(p.Events).Median), spread(p.OtherCPU, zero),
			harness.Count(float64(p.IngestAccepted)), harness.Count(float64(p.IngestSent)))
	}
	flush()
	w.Println("\nmedian (min–max) over samples (listener memory), restarts (plugin heap, snapshot) and ingest rounds. Per member:")
	w.Println("(after the fill - before it) / members; listener heap = go_memstats_heap_alloc_bytes (includes garbage not yet")
	w.Println("collected: an upper bound); plugin heap = live heap after a forced GC in a restarted plugin minus the empty first")
	w.Println("plugin's. snapshot = restarted plugin's process start -> complete mirror. ingest = listener CPU time (schedstat, ns)")
	w.Println("over announcements accepted while refreshing existing members at a fixed rate, each a microsecond newer than the last")
	w.Println("(not a replay; no expiry moves by 1 s); events/datagram = events sent to the plugin per datagram, median;")
	w.Println("other_cpu = all CPUs busy with anything but the listener, in % of one CPU.")
	if len(points) == 0 {
		return false, w.Err()
	}
	first, last := points[0], points[len(points)-1]
	pass := true
	goal := func(what string, got float64, cmp string, want float64, ok bool) {
		pass = pass && ok
		f := one
		if want < 10 {
			f = harness.Fixed(2)
		}
		w.Printf("goal %s: %s, goal %s %s: %s\n", what, f(got), cmp, f(want), harness.PassFail(ok))
	}
	// Per-member goals at the largest size, where fixed costs weigh least.
	rss, heap := harness.Summarize(last.ListenerRSS).Median, harness.Summarize(last.ListenerHeap).Median
	plugin := harness.Summarize(last.PluginHeap).Median
	name := harness.Count(float64(last.Size.Members))
	goal("listener RSS per member at "+name+", median B", rss, "<=", goalListenerBytes, rss <= goalListenerBytes)
	goal("listener heap per member at "+name+", median B", heap, "<=", goalListenerBytes, heap <= goalListenerBytes)
	goal("plugin mirror heap per member at "+name+", median B", plugin, "<=", goalPluginBytes, plugin <= goalPluginBytes)
	snap := harness.Summarize(last.SnapshotMs).Median
	goal("snapshot of "+harness.Count(float64(last.Size.Members))+" members to a restarted plugin, median ms", snap, "<=",
		harness.Millis(goalScaleSnapshot), snap <= harness.Millis(goalScaleSnapshot))
	ratio := harness.Summarize(last.IngestNs).Median / harness.Summarize(first.IngestNs).Median
	goal(fmt.Sprintf("ingest CPU per datagram at %s / at %s members, medians", harness.Count(float64(last.Size.Members)), harness.Count(float64(first.Size.Members))),
		ratio, "<=", goalIngestRatio, ratio <= goalIngestRatio)
	for _, p := range points {
		ok := p.IngestAccepted == p.IngestSent
		pass = pass && ok
		w.Printf("check ingest at %s: accepted %s of %s sent: %s\n", harness.Count(float64(p.Size.Members)),
			harness.Count(float64(p.IngestAccepted)), harness.Count(float64(p.IngestSent)), harness.PassFail(ok))
	}
	return pass, w.Err()
}
