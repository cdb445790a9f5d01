package metrics

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rgap-project/rgap/internal/pluginhost"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// maxPluginSeries caps the series one output contributes to a scrape. The
// SDK keeps a plugin below it already; the host checks again because an
// out-of-tree plugin need not use the SDK.
const maxPluginSeries = 1000

// hostOutputNames are the listener's own rgap_output_* series, which no
// plugin series may shadow (kind "events" with a metric "total" would).
var hostOutputNames = []string{
	"rgap_output_up", "rgap_output_restarts_total", "rgap_output_hangs_total", "rgap_output_events_total",
}

// pluginCollector serves the series the outputs' plugins export
// (sdk.Metrics), read from them at scrape time, as
// rgap_output_<kind>_<name>{output,kind,...}. Their names are only known
// once read, so it is an unchecked collector (Describe sends nothing).
//
// Whatever a plugin sends, a scrape must not fail: a family with a bad
// name, a reserved or bad label, a type, help or label set that differs
// from the one another output of the same name gave first, a sample with
// the wrong number of label values or one seen already, and anything past
// maxPluginSeries per output are left out.
type pluginCollector struct {
	read func(context.Context) []pluginhost.OutputMetrics
}

func (pluginCollector) Describe(chan<- *prometheus.Desc) {}

// pluginFamily is the first shape seen of a served name.
type pluginFamily struct {
	desc   *prometheus.Desc
	help   string
	typ    outputv1.MetricType
	labels []string
}

func (c pluginCollector) Collect(ch chan<- prometheus.Metric) {
	fams := map[string]*pluginFamily{}
	for _, o := range c.read(context.Background()) {
		kind := strings.ReplaceAll(o.Kind, "-", "_")
		idx := strconv.Itoa(o.Index)
		seen := map[string]bool{}
		budget := maxPluginSeries
		for _, f := range o.Families {
			if !validName(f.GetName()) || !validLabels(f.GetLabelNames()) || !utf8.ValidString(f.GetHelp()) {
				continue
			}
			name := "rgap_output_" + kind + "_" + f.GetName()
			if slices.Contains(hostOutputNames, name) {
				continue
			}
			pf := fams[name]
			if pf == nil {
				labels := append([]string{"output", "kind"}, f.GetLabelNames()...)
				pf = &pluginFamily{
					desc: prometheus.NewDesc(name, f.GetHelp(), labels, nil),
					help: f.GetHelp(), typ: f.GetType(), labels: f.GetLabelNames(),
				}
				fams[name] = pf
			} else if pf.help != f.GetHelp() || pf.typ != f.GetType() || !slices.Equal(pf.labels, f.GetLabelNames()) {
				continue
			}
			vt := prometheus.UntypedValue
			switch f.GetType() {
			case outputv1.MetricType_METRIC_TYPE_COUNTER:
				vt = prometheus.CounterValue
			case outputv1.MetricType_METRIC_TYPE_GAUGE:
				vt = prometheus.GaugeValue
			}
			for _, s := range f.GetSamples() {
				values := s.GetLabelValues()
				if len(values) != len(pf.labels) || budget <= 0 || !validValues(values) {
					continue
				}
				key := name + "\xff" + strings.Join(values, "\xff")
				if seen[key] {
					continue
				}
				seen[key] = true
				budget--
				m, err := prometheus.NewConstMetric(pf.desc, vt, s.GetValue(), append([]string{idx, o.Kind}, values...)...)
				if err == nil {
					ch <- m
				}
			}
		}
	}
}

// validName accepts what the SDK accepts: [a-z_][a-z0-9_]*.
func validName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' && i > 0 {
			continue
		}
		return false
	}
	return true
}

func validLabels(names []string) bool {
	for i, l := range names {
		if !validName(l) || strings.HasPrefix(l, "__") || l == "output" || l == "kind" || slices.Contains(names[:i], l) {
			return false
		}
	}
	return true
}

func validValues(values []string) bool {
	for _, v := range values {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}
