package dns

import (
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// cpuShare is the server's CPU time over the run's wall time.
func (r perfRun) cpuShare() float64 { return r.ServerCPU.Seconds() / r.Wall.Seconds() }

// otherShare is the other work on the server's core over wall time.
func (r perfRun) otherShare() float64 { return r.OtherCPU.Seconds() / r.Wall.Seconds() }

// throughputVerdict is the outcome of the throughput part.
type throughputVerdict struct {
	// Ratios are rgap/bare queries per second by round.
	Ratios map[int]float64
	// QPS is the spread of queries per second by server kind.
	QPS map[string]harness.Spread
	// Ratio is median rgap over median bare queries per second: the goal.
	Ratio float64
	// NotNoError adds up responses with a code other than NOERROR, by
	// server kind.
	NotNoError map[string]uint64
	// Shared counts runs with more than harness.NoisyShare other work on
	// the server's core.
	Shared int
}

// pass reports whether the dns output reached goalRatio of the bare
// responder with nothing but NOERROR answers.
func (v throughputVerdict) pass() bool { return v.Ratio >= goalRatio && v.NotNoError[kindRGAP] == 0 }

// evaluateThroughput pairs each round's rgap run with its bare run.
func evaluateThroughput(runs []perfRun) throughputVerdict {
	v := throughputVerdict{Ratios: map[int]float64{}, QPS: map[string]harness.Spread{}, NotNoError: map[string]uint64{}}
	bare := map[int]float64{}
	qps := map[string][]float64{}
	for _, r := range runs {
		qps[r.Server] = append(qps[r.Server], r.QPS)
		v.NotNoError[r.Server] += r.notNoError()
		if r.otherShare() > harness.NoisyShare {
			v.Shared++
		}
		if r.Server == kindBare {
			bare[r.Round] = r.QPS
		}
	}
	for _, r := range runs {
		if b, ok := bare[r.Round]; ok && r.Server == kindRGAP && b > 0 {
			v.Ratios[r.Round] = r.QPS / b
		}
	}
	for kind, xs := range qps {
		v.QPS[kind] = harness.Summarize(xs)
	}
	v.Ratio = math.NaN()
	if b, g := v.QPS[kindBare], v.QPS[kindRGAP]; b.Median > 0 {
		v.Ratio = g.Median / b.Median
	}
	return v
}

// perfColumns are the numeric columns of the throughput table.
var perfColumns = []harness.Column[perfRun]{
	harness.Col("q/s", func(r perfRun) float64 { return r.QPS }, harness.Count),
	harness.Col("sent", func(r perfRun) float64 { return float64(r.Sent) }, harness.Count),
	harness.Col("lost", func(r perfRun) float64 { return float64(r.Lost) }, harness.Count),
	harness.Col("not_noerror", func(r perfRun) float64 { return float64(r.notNoError()) }, harness.Count),
	harness.Col("server_cpu%", func(r perfRun) float64 { return 100 * r.cpuShare() }, harness.Fixed(1)),
	harness.Col("other_cpu%", func(r perfRun) float64 { return 100 * r.otherShare() }, harness.Fixed(1)),
}

// writeThroughputReport prints how it was measured (the options), every
// run, the spread per server, and the verdict.
func writeThroughputReport(out io.Writer, o options, runs []perfRun, v throughputVerdict) error {
	w := harness.NewWriter(out)
	w.Printf("DNS throughput: %d rounds x %v per server, dnsperf -c %d -q %d on CPU %d, server on CPU %d, query %q A\n",
		o.Rounds, o.duration, clients, o.outstanding, o.clientCPU, o.serverCPU, throughputName)
	w.Printf("bare = miekg/dns UDP server answering one fixed A record; rgap = dns output, group of %d members\n\n", members)

	ratio := harness.Col("rgap/bare", func(r perfRun) float64 {
		if q, ok := v.Ratios[r.Round]; ok && r.Server == kindRGAP {
			return q
		}
		return math.NaN()
	}, harness.Fixed(3))
	harness.RoundsTable(w, []string{"round", "server"}, append(slices.Clip(perfColumns), ratio), runs,
		func(r perfRun) []string { return []string{strconv.Itoa(r.Round), r.Server} },
		[]string{kindBare, kindRGAP}, func(r perfRun) string { return r.Server })
	w.Println("\nq/s, sent, lost: dnsperf's figures; not_noerror = responses with another rcode;")
	w.Println("server_cpu% = CPU time of the server's processes (listener and plugins) over dnsperf's run time;")
	w.Println("other_cpu% = anything else busy on the server's CPU meanwhile (other processes, interrupts, steal)")
	harness.NoiseWarning(w, v.Shared, len(runs), "the server's core")
	if n := v.NotNoError[kindRGAP]; n > 0 {
		w.Printf("FAIL: the dns output gave %s responses other than NOERROR: it did not answer what was measured\n", harness.Count(float64(n)))
	}
	var ratios []float64
	for _, q := range v.Ratios {
		ratios = append(ratios, q)
	}
	rs := harness.Summarize(ratios)
	w.Printf("goal throughput: median rgap %s q/s / median bare %s q/s = %s (per round: min %s, max %s), goal >= %.2f: %s\n",
		harness.Count(v.QPS[kindRGAP].Median), harness.Count(v.QPS[kindBare].Median), harness.Fixed(3)(v.Ratio),
		harness.Fixed(3)(rs.Min), harness.Fixed(3)(rs.Max), goalRatio, harness.PassFail(v.pass()))
	w.Println()
	return w.Err()
}

// latencyVerdict is the outcome of the propagation part.
type latencyVerdict struct {
	// N is the samples counted; Lost, those whose address never showed.
	N, Lost int
	// Percentiles of the latency; a lost sample counts as infinite.
	P50, P90, P99, Max time.Duration
}

func (v latencyVerdict) pass() bool { return v.N > 0 && v.P99 <= goalP99 }

// lostLatency stands for the latency of a lost sample.
const lostLatency = time.Duration(math.MaxInt64)

// evaluateLatency computes the percentiles of samples.
func evaluateLatency(samples []sample) latencyVerdict {
	v := latencyVerdict{N: len(samples)}
	lat := make([]time.Duration, len(samples))
	for i, s := range samples {
		lat[i] = s.Latency
		if s.Lost {
			lat[i] = lostLatency
			v.Lost++
		}
	}
	slices.Sort(lat)
	v.P50, v.P90, v.P99 = harness.Percentile(lat, 50), harness.Percentile(lat, 90), harness.Percentile(lat, 99)
	if len(lat) > 0 {
		v.Max = lat[len(lat)-1]
	}
	return v
}

// writeLatencyReport prints how it was measured (the options and the
// names), the percentiles and the verdict.
func writeLatencyReport(out io.Writer, o options, names int, v latencyVerdict) error {
	w := harness.NewWriter(out)
	w.Printf("DNS propagation: %d samples (after %d warm-up) over %d names of <= %d addresses, pause %v..%v between samples, listener unpinned\n",
		o.samples, o.warmup, names, perName, gap/2, gap/2+gap)
	w.Println("latency = one signed announcement of a new address sent to the listener -> first UDP answer for the name holding it")
	w.Println()
	tw, flush := w.Table()
	tw.Print("samples\tlost\tp50_ms\tp90_ms\tp99_ms\tmax_ms\t\n")
	tw.Printf("%d\t%d\t%s\t%s\t%s\t%s\t\n", v.N, v.Lost, millis(v.P50), millis(v.P90), millis(v.P99), millis(v.Max))
	flush()
	if v.Lost > 0 {
		w.Printf("WARNING: %d samples never showed their address within %v (counted as infinite)\n", v.Lost, sampleTimeout)
	}
	w.Printf("goal propagation: p99 %s ms, goal <= %s ms: %s\n\n", millis(v.P99), millis(goalP99), harness.PassFail(v.pass()))
	return w.Err()
}

// millis formats d in milliseconds with three decimals; "lost" for a lost
// sample.
func millis(d time.Duration) string {
	if d == lostLatency {
		return "lost"
	}
	return strconv.FormatFloat(d.Seconds()*1e3, 'f', 3, 64)
}
