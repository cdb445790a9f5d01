package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rgap-project/rgap/internal/golden"
	"github.com/rgap-project/rgap/internal/pluginhost"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

func counter(name, help string, labels []string, samples ...*outputv1.Sample) *outputv1.MetricFamily {
	return &outputv1.MetricFamily{Name: name, Help: help, Type: outputv1.MetricType_METRIC_TYPE_COUNTER, LabelNames: labels, Samples: samples}
}

func sample(v float64, values ...string) *outputv1.Sample {
	return &outputv1.Sample{LabelValues: values, Value: v}
}

// pluginOutputs: two dns outputs, a command output whose kind has a dash,
// and every kind of bad family or sample an out-of-tree plugin might send.
func pluginOutputs(context.Context) []pluginhost.OutputMetrics {
	queries := func(noerror float64) *outputv1.MetricFamily {
		return counter("queries_total", "DNS queries answered, by response code.", []string{"rcode"},
			sample(noerror, "NOERROR"), sample(1, "SERVFAIL"))
	}
	return []pluginhost.OutputMetrics{
		{Index: 0, Kind: "dns", Families: []*outputv1.MetricFamily{
			queries(5),
			{Name: "pending", Help: "A gauge.", Type: outputv1.MetricType_METRIC_TYPE_GAUGE, Samples: []*outputv1.Sample{sample(3)}},
			counter("Bad-Name", "x", nil, sample(1)),
			counter("reserved_total", "x", []string{"output"}, sample(1, "x")),
			counter("arity_total", "x", []string{"a", "b"}, sample(1, "only-one"), sample(2, "a", "b")),
			counter("dup_total", "x", []string{"a"}, sample(1, "x"), sample(2, "x")),
		}},
		{Index: 3, Kind: "dns", Families: []*outputv1.MetricFamily{
			queries(7),
			counter("pending", "A gauge.", nil, sample(9)), // a counter where output 0 said gauge
		}},
		{Index: 4, Kind: "my-cmd", Families: []*outputv1.MetricFamily{counter("runs_total", "Runs.", []string{"result"}, sample(2, "ok"))}},
		{Index: 5, Kind: "events", Families: []*outputv1.MetricFamily{counter("total", "Shadows a host series.", nil, sample(1))}},
	}
}

// TestPluginMetricsGolden: the plugins' series are served prefixed with
// their kind and labelled with their output; bad ones are left out and do
// not fail the scrape.
func TestPluginMetricsGolden(t *testing.T) {
	code, body := get(t, Handler(Sources{OutputMetrics: pluginOutputs}, nil), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	var lines []string
	for l := range strings.Lines(body) {
		if strings.Contains(l, "rgap_output_") {
			lines = append(lines, l)
		}
	}
	got := strings.Join(lines, "")
	golden.Check(t, "testdata/plugins.golden", "plugin series", []byte(got))
}

// A plugin that sends more than maxPluginSeries series contributes only
// maxPluginSeries.
func TestPluginMetricsSeriesCap(t *testing.T) {
	var samples []*outputv1.Sample
	for i := range maxPluginSeries + 10 {
		samples = append(samples, sample(1, fmt.Sprint(i)))
	}
	src := Sources{OutputMetrics: func(context.Context) []pluginhost.OutputMetrics {
		return []pluginhost.OutputMetrics{{Index: 0, Kind: "big", Families: []*outputv1.MetricFamily{counter("hits_total", "Hits.", []string{"k"}, samples...)}}}
	}}
	_, body := get(t, Handler(src, nil), "/metrics")
	if n := strings.Count(body, "\nrgap_output_big_hits_total{"); n != maxPluginSeries {
		t.Fatalf("%d series served, want %d", n, maxPluginSeries)
	}
}
