package memory

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/internal/golden"
)

func mem(round int, kind string, pid int, rssMiB, anonMiB, pssMiB float64) procMem {
	b := func(x float64) uint64 { return uint64(x * (1 << 20)) }
	return procMem{Round: round, Kind: kind, PID: pid, RSS: b(rssMiB), Anon: b(anonMiB), PSS: b(pssMiB)}
}

// testRounds are three rounds of a listener and two plugins; the dns
// plugin is the largest, at 13, 11 and 12.5 MiB of RSS.
func testRounds() []procMem {
	r := func(round int, total, dnsRSS float64) []procMem {
		return []procMem{
			mem(round, listenerKind, 100*round, 45, 10, total-10),
			mem(round, "dns", 100*round+1, dnsRSS, 3.2, 5.5),
			mem(round, "noop", 100*round+2, 10, 3, 4.5),
		}
	}
	return slices.Concat(r(1, 30, 13), r(2, 45, 11), r(3, 35, 12.5))
}

func TestEvaluate(t *testing.T) {
	v := evaluate(testRounds())
	// Totals: listener (total-10) + 5.5 + 4.5 = total.
	if !near(v.TotalPSS.Median, 35) || !near(v.TotalPSS.Min, 30) || !near(v.TotalPSS.Max, 45) || !v.pssPass() {
		t.Errorf("total PSS %+v pass %v, want median 35 MiB and PASS", scaled(v.TotalPSS), v.pssPass())
	}
	if !near(v.PluginRSS.Median, 12.5) || v.WorstPlugin != "dns" || v.rssPass() || v.pass() {
		t.Errorf("plugin RSS %+v (%s) pass %v, want median 12.5 MiB for dns and FAIL", scaled(v.PluginRSS), v.WorstPlugin, v.rssPass())
	}
	rs := testRounds()
	for i := range rs {
		if rs[i].Kind == listenerKind {
			rs[i].PSS += 10 << 20
		}
	}
	if v := evaluate(rs); v.pssPass() {
		t.Errorf("total PSS median %v MiB passed the %d MiB goal", v.TotalPSS.Median/(1<<20), goalTotalPSS>>20)
	}
}

func near(bytes, mib float64) bool { d := bytes/(1<<20) - mib; return d < 0.01 && d > -0.01 }

func scaled(s harness.Spread) harness.Spread {
	return harness.Spread{Min: s.Min / (1 << 20), Median: s.Median / (1 << 20), Max: s.Max / (1 << 20)}
}

func TestReport(t *testing.T) {
	rounds := testRounds()
	var b bytes.Buffer
	o := options{Common: harness.Common{RGAP: "/work/main/bin/rgap", Rounds: 3}, config: "internal/config/testdata/reference.yaml", idle: 10 * time.Second}
	err := writeReport(&b, o, []string{"dns", "noop"}, "(cd /tmp/x && /work/main/bin/rgap listener -c rgap.yaml --log-format json)", rounds, evaluate(rounds))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "report.golden"), "report", b.Bytes())
}
