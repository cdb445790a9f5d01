package memory

import (
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// totalKind labels the row of a round that adds up its processes.
const totalKind = "TOTAL"

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

// withTotals returns procs, the processes of every round, with a totalKind
// row after each round's processes.
func withTotals(procs []procMem) []procMem {
	var out []procMem
	for i, p := range procs {
		out = append(out, p)
		if i == len(procs)-1 || procs[i+1].Round != p.Round {
			t := procMem{Round: p.Round, Kind: totalKind}
			for _, q := range procs {
				if q.Round == p.Round {
					t.RSS, t.Anon, t.PSS = t.RSS+q.RSS, t.Anon+q.Anon, t.PSS+q.PSS
				}
			}
			out = append(out, t)
		}
	}
	return out
}

// evaluate computes the verdict over the rounds' processes.
func evaluate(procs []procMem) verdict {
	var v verdict
	var totals []float64
	largest := map[int]float64{}
	rss := map[string][]float64{}
	for _, p := range withTotals(procs) {
		switch p.Kind {
		case totalKind:
			totals = append(totals, float64(p.PSS))
		case listenerKind:
		default:
			largest[p.Round] = max(largest[p.Round], float64(p.RSS))
			rss[p.Kind] = append(rss[p.Kind], float64(p.RSS))
		}
	}
	v.TotalPSS = harness.Summarize(totals)
	v.PluginRSS = harness.Summarize(slices.Collect(maps.Values(largest)))
	worst := math.Inf(-1)
	for kind, xs := range rss {
		if s := harness.Summarize(xs); s.Median > worst || (s.Median == worst && kind < v.WorstPlugin) {
			worst, v.WorstPlugin = s.Median, kind
		}
	}
	return v
}

// columns are the memory columns of the table, in MiB.
var columns = []harness.Column[procMem]{
	harness.Col("rss", func(p procMem) float64 { return float64(p.RSS) }, mib),
	harness.Col("rss_anon", func(p procMem) float64 { return float64(p.Anon) }, mib),
	harness.Col("pss", func(p procMem) float64 { return float64(p.PSS) }, mib),
}

// writeReport prints how it was measured (the options, the outputs' kinds
// and the listener's command line), every process of every round with the
// spread per process kind, and the verdict.
func writeReport(out io.Writer, o options, kinds []string, command string, procs []procMem, v verdict) error {
	w := harness.NewWriter(out)
	w.Printf("idle memory: %d rounds; listener with %s (outputs: %s), measured %v after every plugin process was up\n",
		o.Rounds, o.config, strings.Join(kinds, ", "), o.idle)
	w.Printf("  listener $ %s\n", command)
	w.Printf("  rgap = a private copy of %s (so that only the measured processes share its pages), in a private network namespace\n", o.RGAP)
	w.Println("  (unshare -n; lo up, multicast on, route 239.0.0.0/8 dev lo); MiB = 1,048,576 bytes")
	w.Println()
	groups := append(append([]string{listenerKind}, slices.Compact(slices.Clone(kinds))...), totalKind)
	harness.RoundsTable(w, []string{"round", "process", "pid"}, columns, withTotals(procs),
		func(p procMem) []string {
			if p.Kind == totalKind {
				return []string{strconv.Itoa(p.Round), p.Kind, "-"}
			}
			return []string{strconv.Itoa(p.Round), p.Kind, strconv.Itoa(p.PID)}
		}, groups, func(p procMem) string { return p.Kind })
	w.Println("(MiB; rss_anon = anonymous memory: heap, stacks, runtime, private to a process; the rest of rss is the executable and")
	w.Println("libc, shared by every process but counted in full by each rss, so TOTAL rss counts them once per process: pss is the real total)")
	w.Printf("goal memory: listener + %d plugins, total PSS median %s MiB (min %s, max %s), goal <= %s MiB: %s\n",
		len(kinds), mib(v.TotalPSS.Median), mib(v.TotalPSS.Min), mib(v.TotalPSS.Max), mib(goalTotalPSS), harness.PassFail(v.pssPass()))
	w.Printf("goal plugin: largest plugin RSS median %s MiB (%s; per round min %s, max %s), goal <= %s MiB: %s\n",
		mib(v.PluginRSS.Median), v.WorstPlugin, mib(v.PluginRSS.Min), mib(v.PluginRSS.Max), mib(goalPluginRSS), harness.PassFail(v.rssPass()))
	return w.Err()
}

// mib formats bytes in MiB with two decimals; "-" for NaN.
func mib(b float64) string {
	if math.IsNaN(b) || math.IsInf(b, 0) {
		return "-"
	}
	return strconv.FormatFloat(b/(1<<20), 'f', 2, 64)
}
