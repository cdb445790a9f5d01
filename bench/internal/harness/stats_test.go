package harness

import (
	"math"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		xs   []float64
		want Spread
	}{
		{"one", []float64{3}, Spread{3, 3, 3}},
		{"odd unsorted", []float64{5, 1, 3}, Spread{1, 3, 5}},
		{"even takes mean of middle", []float64{4, 1, 2, 10}, Spread{1, 3, 10}},
		{"NaN ignored", []float64{nan, 2, nan, 8}, Spread{2, 5, 8}},
		{"NaN ignored, odd left", []float64{3, nan, 1, 2, 10}, Spread{1, 2.5, 10}},
		{"duplicates", []float64{7, 7, 7, 1}, Spread{1, 7, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.xs...)
			if got := Summarize(tt.xs); got != tt.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tt.xs, got, tt.want)
			}
			for i := range in {
				if !(in[i] == tt.xs[i] || math.IsNaN(in[i]) && math.IsNaN(tt.xs[i])) {
					t.Fatalf("Summarize reordered its input: %v, was %v", tt.xs, in)
				}
			}
		})
	}
	for _, xs := range [][]float64{nil, {nan, nan}} {
		if got := Summarize(xs); !math.IsNaN(got.Min) || !math.IsNaN(got.Median) || !math.IsNaN(got.Max) {
			t.Errorf("Summarize(%v) = %+v, want all NaN", xs, got)
		}
	}
}

func TestPick(t *testing.T) {
	s := Spread{1, 2, 3}
	for name, want := range map[string]float64{"min": 1, "median": 2, "max": 3} {
		if got := s.Pick(name); got != want {
			t.Errorf("Pick(%q) = %v, want %v", name, got, want)
		}
	}
	var got []float64
	for _, n := range Names {
		got = append(got, s.Pick(n))
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("Pick over Names = %v, want [1 2 3]", got)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"one, p100", ms(7), 100, 7 * time.Millisecond},
		{"median of four is the lower middle (nearest rank)", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p51 of four", ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(hundred...), 99, 99 * time.Millisecond},
		{"p99.5 of 100", ms(hundred...), 99.5, 100 * time.Millisecond},
		{"p90 of 100", ms(hundred...), 90, 90 * time.Millisecond},
		{"p0.1 of 100 is the first", ms(hundred...), 0.1, time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 50), 99, 50 * time.Millisecond},
		{"p100", ms(1, 2, 3), 100, 3 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestMillis(t *testing.T) {
	if got := Millis(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("Millis(1.5ms) = %v, want 1.5", got)
	}
}
