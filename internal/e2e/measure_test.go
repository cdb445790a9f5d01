package e2e

// What the measurements share: they run only when asked, and they report
// the spread of what they timed. A measurement prints its figures and
// asserts nothing about time.

import (
	"os"
	"slices"
	"testing"
	"time"
)

// measureOnly skips t unless RGAP_MEASURE=1.
func measureOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("RGAP_MEASURE") != "1" {
		t.Skip("a measurement: set RGAP_MEASURE=1")
	}
}

// spread is the minimum, median, 99th percentile (nearest rank) and
// maximum of a non-empty set of samples.
type spread[T int64 | float64 | time.Duration] struct{ min, median, p99, max T }

// spreadOf sorts a copy of samples and returns their spread.
func spreadOf[T int64 | float64 | time.Duration](samples []T) spread[T] {
	s := slices.Clone(samples)
	slices.Sort(s)
	return spread[T]{s[0], s[len(s)/2], s[(len(s)*99+99)/100-1], s[len(s)-1]}
}
