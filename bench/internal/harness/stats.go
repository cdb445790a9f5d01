// The spread of repeated measurements. NaN stands for "not measured" (a
// ratio with a zero denominator, a count that is unknown) and is left out
// of a summary rather than poisoning it.

package harness

import (
	"math"
	"slices"
	"time"
)

// Spread is the min, median and max of a series.
type Spread struct{ Min, Median, Max float64 }

// Names are the statistics of a Spread in report order, as Pick takes
// them.
var Names = []string{"min", "median", "max"}

// Summarize returns the spread of xs, ignoring NaNs; all NaN when none is
// left. The median of an even count is the mean of the middle two. xs is
// not modified.
func Summarize(xs []float64) Spread {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		nan := math.NaN()
		return Spread{nan, nan, nan}
	}
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return Spread{Min: s[0], Median: med, Max: s[len(s)-1]}
}

// Pick returns the statistic called name: "min", "max", or anything else
// for the median.
func (s Spread) Pick(name string) float64 {
	switch name {
	case "min":
		return s.Min
	case "max":
		return s.Max
	}
	return s.Median
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values
// at or below it. Zero for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Millis converts a duration to milliseconds.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
