package memory

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// verdict is the outcome against the two goals.
type verdict struct {
	// TotalPSS is the PSS of the listener and all its plugins, over
	// rounds, in bytes.
	TotalPSS harness.Spread
	// PluginRSS is the RSS of the largest plugin of each round, over
	// rounds, in bytes; WorstPlugin is the kind with the largest median.
	PluginRSS   harness.Spread
	WorstPlugin string
}

func (v verdict) pssPass() bool { return v.TotalPSS.Median <= goalTotalPSS }
func (v verdict) rssPass() bool { return v.PluginRSS.Median <= goalPluginRSS }
func (v verdict) pass() bool    { return v.pssPass() && v.rssPass() }

// evaluate computes the verdict over rounds.
func evaluate(rounds []roundResult) verdict {
	var v verdict
	var totals, largest []float64
	for _, r := range rounds {
		var total memory
		var big uint64
		for _, p := range r.Procs {
			total = total.add(p.memory)
			if p.Kind != listenerKind {
				big = max(big, p.RSS)
			}
		}
		totals = append(totals, float64(total.PSS))
		largest = append(largest, float64(big))
	}
	v.TotalPSS, v.PluginRSS = harness.Summarize(totals), harness.Summarize(largest)
	worst := math.Inf(-1)
	for kind, s := range byKind(rounds, func(m memory) uint64 { return m.RSS }) {
		if kind != listenerKind && (s.Median > worst || (s.Median == worst && kind < v.WorstPlugin)) {
			worst, v.WorstPlugin = s.Median, kind
		}
	}
	return v
}

// byKind returns the spread over rounds of field, by process kind. Kinds
// that run more than once in a round are added up.
func byKind(rounds []roundResult, field func(memory) uint64) map[string]harness.Spread {
	xs := map[string][]float64{}
	for _, r := range rounds {
		sum := map[string]uint64{}
		for _, p := range r.Procs {
			sum[p.Kind] += field(p.memory)
		}
		for k, s := range sum {
			xs[k] = append(xs[k], float64(s))
		}
	}
	out := map[string]harness.Spread{}
	for k, x := range xs {
		out[k] = harness.Summarize(x)
	}
	return out
}

// writeReport prints every process of every round, the spread per process
// kind, the verdict, and the optional breakdowns.
// It says how it was measured: the options, the outputs' kinds and the
// listener's command line.
func writeReport(out io.Writer, o options, kinds []string, command string, rounds []roundResult, v verdict) error {
	w := harness.NewWriter(out)
	w.Printf("idle memory: %d rounds; listener with %s (outputs: %s), measured %v after every plugin process was up\n",
		len(rounds), o.config, strings.Join(kinds, ", "), o.idle)
	w.Printf("  listener $ %s\n", command)
	w.Printf("  rgap = a private copy of %s (so that only the measured processes share its pages), in a private network namespace\n", o.RGAP)
	w.Println("  (unshare -n; lo up, multicast on, route 239.0.0.0/8 dev lo); MiB = 1,048,576 bytes")
	w.Println()

	tw := w.Table()
	tw.Print("round\tprocess\tpid\tthreads\trss\trss_anon\trss_file\tpss\tpss_anon\tpss_file\t\n")
	for _, r := range rounds {
		var total memory
		for _, p := range r.Procs {
			tw.Printf("%d\t%s\t%d\t%d\t%s\t\n", r.Round, p.Kind, p.PID, p.Threads, memCells(p.memory))
			total = total.add(p.memory)
		}
		tw.Printf("%d\tTOTAL\t\t\t%s\t\n", r.Round, memCells(total)) // shared pages would count once per process
	}
	tw.Flush()
	w.Println("(MiB; TOTAL rss adds up pages shared between processes once per process: pss is the real total)")
	w.Println()

	rss := byKind(rounds, func(m memory) uint64 { return m.RSS })
	anon := byKind(rounds, func(m memory) uint64 { return m.Anon })
	pss := byKind(rounds, func(m memory) uint64 { return m.PSS })
	tw = w.Table()
	tw.Print("process\trss min\tmedian\tmax\trss_anon median\tpss min\tmedian\tmax\t\n")
	for _, k := range append([]string{listenerKind}, slices.Compact(slices.Clone(kinds))...) {
		tw.Printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k, mib(rss[k].Min), mib(rss[k].Median), mib(rss[k].Max),
			mib(anon[k].Median), mib(pss[k].Min), mib(pss[k].Median), mib(pss[k].Max))
	}
	tw.Printf("TOTAL\t\t\t\t\t%s\t%s\t%s\t\n", mib(v.TotalPSS.Min), mib(v.TotalPSS.Median), mib(v.TotalPSS.Max))
	tw.Flush()
	w.Println()

	writeDominant(w, rounds, v)

	w.Printf("goal memory: listener + %d plugins, total PSS median %s MiB (min %s, max %s), goal <= %s MiB: %s\n",
		len(kinds), mib(v.TotalPSS.Median), mib(v.TotalPSS.Min), mib(v.TotalPSS.Max), mib(goalTotalPSS), harness.PassFail(v.pssPass()))
	w.Printf("goal plugin: largest plugin RSS median %s MiB (%s; per round min %s, max %s), goal <= %s MiB: %s\n",
		mib(v.PluginRSS.Median), v.WorstPlugin, mib(v.PluginRSS.Min), mib(v.PluginRSS.Max), mib(goalPluginRSS), harness.PassFail(v.rssPass()))
	return w.Err()
}

// writeDominant says which part of a plugin's RSS and of the total PSS is
// private and which is the shared executable.
func writeDominant(w *harness.Writer, rounds []roundResult, v verdict) {
	if len(rounds) == 0 {
		return
	}
	var plugins, listener []memory
	for _, r := range rounds {
		for _, p := range r.Procs {
			if p.Kind == listenerKind {
				listener = append(listener, p.memory)
			} else {
				plugins = append(plugins, p.memory)
			}
		}
	}
	med := func(ms []memory, f func(memory) uint64) float64 {
		xs := make([]float64, len(ms))
		for i, m := range ms {
			xs[i] = float64(f(m))
		}
		return harness.Summarize(xs).Median
	}
	if len(plugins) > 0 {
		w.Printf("a plugin (median over all plugins and rounds): rss %s MiB = anonymous %s (heap, stacks, runtime: private) + file-backed %s\n"+
			"  (the executable and libc, shared by all %d processes but counted in full by every rss); pss %s = %s anonymous + %s file\n",
			mib(med(plugins, func(m memory) uint64 { return m.RSS })), mib(med(plugins, func(m memory) uint64 { return m.Anon })),
			mib(med(plugins, memory.File)), len(rounds[0].Procs),
			mib(med(plugins, func(m memory) uint64 { return m.PSS })), mib(med(plugins, func(m memory) uint64 { return m.PSSAnon })),
			mib(med(plugins, func(m memory) uint64 { return m.PSSFile })))
	}
	w.Printf("the listener: rss %s MiB, anonymous %s; pss %s = %s anonymous + %s file\n\n",
		mib(med(listener, func(m memory) uint64 { return m.RSS })), mib(med(listener, func(m memory) uint64 { return m.Anon })),
		mib(med(listener, func(m memory) uint64 { return m.PSS })), mib(med(listener, func(m memory) uint64 { return m.PSSAnon })),
		mib(med(listener, func(m memory) uint64 { return m.PSSFile })))
}

// memCells formats m as the six tab-separated memory columns.
func memCells(m memory) string {
	return strings.Join([]string{
		mib(float64(m.RSS)), mib(float64(m.Anon)), mib(float64(m.File())),
		mib(float64(m.PSS)), mib(float64(m.PSSAnon)), mib(float64(m.PSSFile)),
	}, "\t")
}

// mib formats bytes in MiB with two decimals; "-" for NaN.
func mib(b float64) string {
	if math.IsNaN(b) || math.IsInf(b, 0) {
		return "-"
	}
	return strconv.FormatFloat(b/(1<<20), 'f', 2, 64)
}
