package sdktest

import (
	"context"
	"strings"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// Metrics asks the plugin for the series it exports (as the listener does
// when its /metrics is scraped) and returns their values keyed by the
// plugin's metric name and its label pairs in the order of the label
// names, e.g. `queries_total{rcode="NOERROR"}`, or the bare name for a
// metric without labels. The host's prefix and its output and kind labels
// are not part of the key.
func (h *Harness) Metrics() map[string]float64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	resp, err := h.client.Metrics(ctx, &outputv1.MetricsRequest{})
	if err != nil {
		h.t.Fatalf("Metrics: %v", err)
	}
	out := map[string]float64{}
	for _, f := range resp.GetFamilies() {
		for _, s := range f.GetSamples() {
			out[SeriesKey(f.GetName(), f.GetLabelNames(), s.GetLabelValues())] = s.GetValue()
		}
	}
	return out
}

// SeriesKey renders a series as Harness.Metrics keys it.
func SeriesKey(name string, labelNames, labelValues []string) string {
	if len(labelNames) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, n := range labelNames {
		if i > 0 {
			b.WriteByte(',')
		}
		v := ""
		if i < len(labelValues) {
			v = labelValues[i]
		}
		b.WriteString(n + `="` + v + `"`)
	}
	b.WriteByte('}')
	return b.String()
}
