package sdk

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// values renders a snapshot as "name{v1,v2}" -> value.
func values(fams []*outputv1.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.GetSamples() {
			out[fmt.Sprintf("%s%v", f.GetName(), s.GetLabelValues())] = s.GetValue()
		}
	}
	return out
}

func TestMetricsRegistrationRefusesBadNames(t *testing.T) {
	tests := []struct {
		name   string
		labels []string
	}{
		{"", nil},
		{"Queries_total", nil},
		{"queries-total", nil},
		{"9lives", nil},
		{"rgap.queries", nil},
		{"queries_total", []string{"Rcode"}},
		{"queries_total", []string{"__name"}},
		{"queries_total", []string{"output"}},
		{"queries_total", []string{"kind"}},
		{"queries_total", []string{"rcode", "rcode"}},
		{"queries_total", []string{""}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q%q", tt.name, tt.labels), func(t *testing.T) {
			m := newMetrics(nil)
			if _, err := m.Counter(tt.name, "help", tt.labels...); !errors.Is(err, ErrBadMetric) {
				t.Fatalf("Counter: err = %v, want ErrBadMetric", err)
			}
			if _, err := m.Gauge(tt.name, "help", tt.labels...); !errors.Is(err, ErrBadMetric) {
				t.Fatalf("Gauge: err = %v, want ErrBadMetric", err)
			}
			if err := m.CounterFunc(tt.name, "help", tt.labels, func(func(float64, ...string)) {}); !errors.Is(err, ErrBadMetric) {
				t.Fatalf("CounterFunc: err = %v, want ErrBadMetric", err)
			}
			if n := len(m.snapshot()); n != 0 {
				t.Fatalf("a refused metric is exported: %d families", n)
			}
		})
	}
}

func TestMetricsRegisteredTwiceIsRefused(t *testing.T) {
	m := newMetrics(nil)
	if _, err := m.Counter("writes_total", "Writes."); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Gauge("writes_total", "Writes."); !errors.Is(err, ErrBadMetric) {
		t.Fatalf("err = %v, want ErrBadMetric", err)
	}
}

func TestMetricsCountersAndGauges(t *testing.T) {
	m := newMetrics(nil)
	c, err := m.Counter("runs_total", "Runs.", "result")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := m.Counter("writes_total", "Writes.")
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.Gauge("pending", "Pending.")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(1, "ok")
	c.Add(2, "ok")
	c.With("failed").Add(1)
	c.Add(-5, "ok") // counters never go down
	plain.Add(3)
	g.Set(7)
	g.Add(-2)
	got := values(m.snapshot())
	want := map[string]float64{"runs_total[failed]": 1, "runs_total[ok]": 3, "writes_total[]": 3, "pending[]": 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("snapshot = %v, want %v", got, want)
	}
	fams := m.snapshot()
	if fams[0].GetName() != "pending" || fams[0].GetType() != outputv1.MetricType_METRIC_TYPE_GAUGE ||
		fams[1].GetType() != outputv1.MetricType_METRIC_TYPE_COUNTER || fams[1].GetHelp() != "Runs." {
		t.Fatalf("families = %v", fams)
	}
}

func TestMetricsWrongLabelArityIsIgnoredAndLoggedOnce(t *testing.T) {
	var mu sync.Mutex
	var warnings []string
	log := hclog.NewInterceptLogger(&hclog.LoggerOptions{Output: nopWriter{}})
	log.RegisterSink(hclog.NewSinkAdapter(&hclog.LoggerOptions{Level: hclog.Warn, Output: writerFunc(func(p []byte) {
		mu.Lock()
		warnings = append(warnings, string(p))
		mu.Unlock()
	})}))
	m := newMetrics(log)
	c, err := m.Counter("queries_total", "Queries.", "rcode", "proto")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(1, "NOERROR")
	c.Add(1, "NOERROR", "udp", "extra")
	c.Add(1)
	c.Add(1, "NOERROR", "udp")
	if err := m.CounterFunc("answers_total", "Answers.", []string{"rcode"}, func(emit func(float64, ...string)) {
		emit(4)
		emit(5, "NOERROR")
	}); err != nil {
		t.Fatal(err)
	}
	got := values(m.snapshot())
	want := map[string]float64{"queries_total[NOERROR udp]": 1, "answers_total[NOERROR]": 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("snapshot = %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warnings) != 2 { // one per metric
		t.Fatalf("warnings = %q, want one per metric", warnings)
	}
}

func TestMetricsSeriesCap(t *testing.T) {
	m := newMetrics(nil)
	c, err := m.Counter("hits_total", "Hits.", "key")
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxSeries + 50 {
		c.Add(1, fmt.Sprint(i))
	}
	c.Add(1, "0")        // an existing series keeps counting past the cap
	c.Add(1, "overflow") // a new one is dropped
	if _, err := m.Counter("more_total", "More."); !errors.Is(err, ErrBadMetric) {
		t.Fatalf("a label-less counter past the cap: err = %v, want ErrBadMetric", err)
	}
	if err := m.GaugeFunc("func", "Func.", []string{"k"}, func(emit func(float64, ...string)) { emit(1, "x") }); err != nil {
		t.Fatal(err)
	}
	got := values(m.snapshot())
	if len(got) != MaxSeries {
		t.Fatalf("%d series exported, want the cap %d", len(got), MaxSeries)
	}
	if got["hits_total[0]"] != 2 {
		t.Fatalf("hits_total[0] = %v, want 2", got["hits_total[0]"])
	}
	if _, ok := got["hits_total[overflow]"]; ok {
		t.Fatal("a series past the cap is exported")
	}
	if _, ok := got["func[x]"]; ok {
		t.Fatal("a Func series past the cap is exported")
	}
}

func TestMetricsConcurrentAdds(t *testing.T) {
	m := newMetrics(nil)
	c, err := m.Counter("events_total", "Events.", "type")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Add(1, "join")
				c.Add(0.5, "leave")
			}
			_ = m.snapshot()
		})
	}
	wg.Wait()
	got := values(m.snapshot())
	if got["events_total[join]"] != 8000 || got["events_total[leave]"] != 4000 {
		t.Fatalf("snapshot = %v", got)
	}
}

func TestMetricsFuncPanicIsContained(t *testing.T) {
	m := newMetrics(nil)
	if err := m.CounterFunc("bad_total", "Bad.", nil, func(emit func(float64, ...string)) {
		emit(1)
		panic("boom")
	}); err != nil {
		t.Fatal(err)
	}
	if got := values(m.snapshot()); got["bad_total[]"] != 1 {
		t.Fatalf("snapshot = %v", got)
	}
}

func TestMetricsOnNilRegistryWork(t *testing.T) {
	var m *Metrics // an Env built by hand in a plugin's unit test
	c, err := m.Counter("x_total", "X.")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(1)
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }
