package pluginhost

import (
	"context"
	"testing"
	"time"
)

// Metrics returns the series of the plugins that export some, labelled
// with their output; a plugin that predates the call and one that never
// answers are left out, and the hung one costs the scrape at most
// MetricsTimeout.
func TestMetricsReadsRunningPlugins(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, testOptions(t, dir))
	feed := oneGroupFeed(1024)
	outputs := []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "metrics"}, {Index: 2, Kind: "metricshang"}}

	if got := h.Metrics(context.Background()); len(got) != 0 {
		t.Fatalf("before Run: %d outputs report metrics, want none", len(got))
	}
	stop := startRun(t, h, feed, outputs, testGroups)
	defer stop()
	waitFor(t, 10*time.Second, "every output running", func() bool {
		for _, s := range h.Stats() {
			if !s.Running {
				return false
			}
		}
		return true
	})
	waitFor(t, 10*time.Second, "the snapshot applied", func() bool {
		return stateMatches(t, dir, "metrics", 1, []string{"192.0.2.1"})
	})

	began := time.Now()
	got := h.Metrics(context.Background())
	took := time.Since(began)
	if took > MetricsTimeout+2*time.Second {
		t.Errorf("Metrics took %v with a hung plugin, want about MetricsTimeout (%v)", took, MetricsTimeout)
	}
	if len(got) != 1 {
		t.Fatalf("%d outputs report metrics, want 1 (only output 1): %+v", len(got), got)
	}
	m := got[0]
	if m.Index != 1 || m.Kind != "metrics" || len(m.Families) != 1 {
		t.Fatalf("metrics = %+v, want output 1 (metrics) with one family", m)
	}
	f := m.Families[0]
	if f.GetName() != "messages_total" || len(f.GetSamples()) != 1 || f.GetSamples()[0].GetValue() < 1 {
		t.Fatalf("family = %v, want messages_total with at least the snapshot counted", f)
	}

	stop()
	if got := h.Metrics(context.Background()); len(got) != 0 {
		t.Fatalf("after Run: %d outputs report metrics, want none", len(got))
	}
}
