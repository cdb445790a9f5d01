package sdk

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// MaxSeries is how many series (one per combination of label values, over
// all of an output's metrics) one plugin process exports. Past it, a label
// combination not seen before is not created: what is added to it is
// discarded, the series that exist keep counting, and the plugin logs one
// warning per metric. Label values must therefore come from a small,
// fixed set (a response code, a result), never from a name, an address or
// an error text.
const MaxSeries = 1000

// ErrBadMetric is wrapped by every error Metrics returns for a name, a
// help text or a label name it refuses.
var ErrBadMetric = errors.New("bad metric")

// reservedLabels are added by the listener to every series it serves.
var reservedLabels = []string{"output", "kind"}

// Metrics is where a running output registers the series it exports
// (Env.Metrics). The listener serves them on its /metrics as
// rgap_output_<kind>_<name>, with the labels "output" (the output's index)
// and "kind" added to the output's own. Values are read when /metrics is
// scraped; a plugin pays for its counters only the atomic additions.
//
// Names and label names match [a-z_][a-z0-9_]* (label names not starting
// with "__", and not "output" or "kind"); a counter's name should end in
// _total. All methods are safe for concurrent use.
type Metrics struct {
	log hclog.Logger

	mu       sync.Mutex
	families map[string]*family
	series   atomic.Int64 // series created, over all families
}

func newMetrics(log hclog.Logger) *Metrics {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Metrics{log: log, families: map[string]*family{}}
}

// family is one registered metric.
type family struct {
	m      *Metrics
	name   string
	help   string
	typ    outputv1.MetricType
	labels []string

	// Exactly one of these is used: read for the Func forms, the rest for
	// Counter and Gauge.
	read func(emit func(value float64, labelValues ...string))

	single  *series  // the series of a metric without labels
	byLabel sync.Map // joined label values -> *series

	warnArity, warnCap, warnValue atomic.Bool // each warning is logged once
}

// series is one combination of label values and its value (float64 bits).
type series struct {
	values []string
	bits   atomic.Uint64
}

func (s *series) add(v float64) {
	for {
		old := s.bits.Load()
		if s.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (s *series) value() float64 { return math.Float64frombits(s.bits.Load()) }

// discard absorbs what is added to a series that could not be created.
var discard = &series{}

// Counter registers a counter: a value that only goes up. It starts at 0
// in every plugin process (Prometheus handles the reset of a restart).
func (m *Metrics) Counter(name, help string, labelNames ...string) (*Counter, error) {
	f, err := m.register(name, help, outputv1.MetricType_METRIC_TYPE_COUNTER, labelNames, nil)
	if err != nil {
		return nil, err
	}
	return &Counter{f: f}, nil
}

// Gauge registers a gauge: a value that goes up and down.
func (m *Metrics) Gauge(name, help string, labelNames ...string) (*Gauge, error) {
	f, err := m.register(name, help, outputv1.MetricType_METRIC_TYPE_GAUGE, labelNames, nil)
	if err != nil {
		return nil, err
	}
	return &Gauge{f: f}, nil
}

// CounterFunc registers a counter whose values read reports when the
// listener asks, by calling emit once per series. It exports counters the
// output keeps anyway (its own atomics) without counting twice. read is
// called from a gRPC goroutine, concurrently with the output, and must
// return quickly; emit with the wrong number of label values, or past
// MaxSeries, is ignored (and logged once).
func (m *Metrics) CounterFunc(name, help string, labelNames []string, read func(emit func(value float64, labelValues ...string))) error {
	if read == nil {
		return fmt.Errorf("%w %q: no read function", ErrBadMetric, name)
	}
	_, err := m.register(name, help, outputv1.MetricType_METRIC_TYPE_COUNTER, labelNames, read)
	return err
}

// GaugeFunc is CounterFunc for a gauge.
func (m *Metrics) GaugeFunc(name, help string, labelNames []string, read func(emit func(value float64, labelValues ...string))) error {
	if read == nil {
		return fmt.Errorf("%w %q: no read function", ErrBadMetric, name)
	}
	_, err := m.register(name, help, outputv1.MetricType_METRIC_TYPE_GAUGE, labelNames, read)
	return err
}

func (m *Metrics) register(name, help string, typ outputv1.MetricType, labels []string,
	read func(func(float64, ...string))) (*family, error) {
	if m == nil {
		m = newMetrics(nil) // an Env built by a test: the series go nowhere
	}
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadMetric, name, err)
	}
	if !utf8.ValidString(help) {
		return nil, fmt.Errorf("%w %q: help is not valid UTF-8", ErrBadMetric, name)
	}
	for i, l := range labels {
		if err := checkName(l); err != nil {
			return nil, fmt.Errorf("%w %q: label %q: %w", ErrBadMetric, name, l, err)
		}
		switch {
		case strings.HasPrefix(l, "__"):
			return nil, fmt.Errorf("%w %q: label %q: names starting with __ are reserved", ErrBadMetric, name, l)
		case slices.Contains(reservedLabels, l):
			return nil, fmt.Errorf("%w %q: label %q: the listener adds it to every series", ErrBadMetric, name, l)
		case slices.Contains(labels[:i], l):
			return nil, fmt.Errorf("%w %q: label %q given twice", ErrBadMetric, name, l)
		}
	}
	f := &family{m: m, name: name, help: help, typ: typ, labels: slices.Clone(labels), read: read}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.families[name]; dup {
		return nil, fmt.Errorf("%w %q: registered twice", ErrBadMetric, name)
	}
	if read == nil && len(labels) == 0 {
		if m.series.Add(1) > MaxSeries {
			m.series.Add(-1)
			return nil, fmt.Errorf("%w %q: the plugin already has %d series", ErrBadMetric, name, MaxSeries)
		}
		f.single = &series{}
	}
	m.families[name] = f
	return f, nil
}

// checkName accepts [a-z_][a-z0-9_]*, at most 100 characters.
func checkName(s string) error {
	if s == "" || len(s) > 100 {
		return errors.New("want 1 to 100 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' && i > 0 {
			continue
		}
		return fmt.Errorf("character %q at %d (want a-z, 0-9 or _, not starting with a digit)", c, i)
	}
	return nil
}

// with returns the series of the label values, creating it when it is new
// and the plugin is below MaxSeries; else discard.
func (f *family) with(values []string) *series {
	if f.single != nil {
		if len(values) != 0 {
			f.warnOnce(&f.warnArity, "metric given label values it does not have; ignored", "values", len(values))
			return discard
		}
		return f.single
	}
	if len(values) != len(f.labels) {
		f.warnOnce(&f.warnArity, "metric given the wrong number of label values; ignored",
			"want", len(f.labels), "got", len(values))
		return discard
	}
	key := values[0]
	if len(values) > 1 {
		key = strings.Join(values, "\xff")
	}
	if s, ok := f.byLabel.Load(key); ok {
		return s.(*series)
	}
	for _, v := range values {
		if !utf8.ValidString(v) {
			f.warnOnce(&f.warnValue, "metric given a label value that is not valid UTF-8; ignored")
			return discard
		}
	}
	if f.m.series.Add(1) > MaxSeries {
		f.m.series.Add(-1)
		f.warnOnce(&f.warnCap, "the plugin reached its series limit; new label values of this metric are dropped",
			"limit", MaxSeries)
		return discard
	}
	s, loaded := f.byLabel.LoadOrStore(key, &series{values: slices.Clone(values)})
	if loaded {
		f.m.series.Add(-1) // another goroutine created it first
	}
	return s.(*series)
}

func (f *family) warnOnce(flag *atomic.Bool, msg string, args ...any) {
	if flag.CompareAndSwap(false, true) {
		f.m.log.Warn(msg, append([]any{"metric", f.name}, args...)...)
	}
}

// Counter is a registered counter.
type Counter struct{ f *family }

// Add adds v (≥ 0; anything else is ignored) to the series of the label
// values, given in the order of the label names. It allocates nothing for
// a series that exists, unless the counter has several labels.
func (c *Counter) Add(v float64, labelValues ...string) { c.With(labelValues...).Add(v) }

// With returns the series of the label values, for a hot path that adds to
// the same series often: CounterSeries.Add is a single atomic operation.
func (c *Counter) With(labelValues ...string) CounterSeries {
	return CounterSeries{s: c.f.with(labelValues)}
}

// CounterSeries is one series of a Counter.
type CounterSeries struct{ s *series }

// Add adds v (≥ 0; anything else is ignored).
func (c CounterSeries) Add(v float64) {
	if v > 0 && !math.IsInf(v, 1) {
		c.s.add(v)
	}
}

// Gauge is a registered gauge.
type Gauge struct{ f *family }

// Set sets the series of the label values to v.
func (g *Gauge) Set(v float64, labelValues ...string) {
	g.f.with(labelValues).bits.Store(math.Float64bits(v))
}

// Add adds v (which may be negative) to the series of the label values.
func (g *Gauge) Add(v float64, labelValues ...string) { g.f.with(labelValues).add(v) }

// snapshot returns every family's current values, in name order, each
// family's series in label-value order.
func (m *Metrics) snapshot() []*outputv1.MetricFamily {
	m.mu.Lock()
	fams := make([]*family, 0, len(m.families))
	for _, f := range m.families {
		fams = append(fams, f)
	}
	m.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	budget := MaxSeries - int(m.series.Load()) // what the Func forms may add
	out := make([]*outputv1.MetricFamily, 0, len(fams))
	for _, f := range fams {
		pf := &outputv1.MetricFamily{Name: f.name, Help: f.help, Type: f.typ, LabelNames: f.labels}
		switch {
		case f.read != nil:
			pf.Samples = f.readFunc(&budget)
		case f.single != nil:
			pf.Samples = []*outputv1.Sample{{Value: f.single.value()}}
		default:
			f.byLabel.Range(func(_, v any) bool {
				s := v.(*series)
				pf.Samples = append(pf.Samples, &outputv1.Sample{LabelValues: s.values, Value: s.value()})
				return true
			})
			slices.SortFunc(pf.Samples, func(a, b *outputv1.Sample) int {
				return slices.Compare(a.LabelValues, b.LabelValues)
			})
		}
		out = append(out, pf)
	}
	return out
}

// readFunc calls a Func form's read function, keeping what it emits within
// budget series. A panic in read is logged and ends the family's samples.
func (f *family) readFunc(budget *int) (samples []*outputv1.Sample) {
	defer func() {
		if r := recover(); r != nil {
			f.m.log.Error("metric read function panicked", "metric", f.name, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	f.read(func(v float64, values ...string) {
		switch {
		case len(values) != len(f.labels):
			f.warnOnce(&f.warnArity, "metric given the wrong number of label values; ignored",
				"want", len(f.labels), "got", len(values))
		case *budget <= 0:
			f.warnOnce(&f.warnCap, "the plugin reached its series limit; series of this metric are dropped",
				"limit", MaxSeries)
		default:
			for _, s := range values {
				if !utf8.ValidString(s) {
					f.warnOnce(&f.warnValue, "metric given a label value that is not valid UTF-8; ignored")
					return
				}
			}
			*budget--
			samples = append(samples, &outputv1.Sample{LabelValues: slices.Clone(values), Value: v})
		}
	})
	return samples
}
