package harness

import (
	"errors"
	"math"
	"testing"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {100_000, "100,000"}, {1234567.4, "1,234,567"}, {1234567.6, "1,234,568"},
		{-1234, "-1,234"}, {-1234567, "-1,234,567"}, {999999.5, "1,000,000"}, {math.NaN(), "-"}, {math.Inf(1), "-"}, {math.Inf(-1), "-"},
	} {
		if got := Count(tc.x); got != tc.want {
			t.Errorf("Count(%v) = %q, want %q", tc.x, got, tc.want)
		}
	}
}

func TestFixed(t *testing.T) {
	for _, tc := range []struct {
		prec int
		x    float64
		want string
	}{{0, 2.5, "2"}, {1, 1.25, "1.2"}, {3, 0.5, "0.500"}, {3, math.NaN(), "-"}, {1, math.Inf(-1), "-"}} {
		if got := Fixed(tc.prec)(tc.x); got != tc.want {
			t.Errorf("Fixed(%d)(%v) = %q, want %q", tc.prec, tc.x, got, tc.want)
		}
	}
}

func TestPassFail(t *testing.T) {
	if PassFail(true) != "PASS" || PassFail(false) != "FAIL" {
		t.Errorf("PassFail = %q/%q, want PASS/FAIL", PassFail(true), PassFail(false))
	}
}

// failAfter accepts n writes, then fails every one.
type failAfter struct {
	n     int
	calls int
	got   []byte
}

var errFull = errors.New("disk full")

func (f *failAfter) Write(b []byte) (int, error) {
	f.calls++
	if f.calls > f.n {
		return 0, errFull
	}
	f.got = append(f.got, b...)
	return len(b), nil
}

func TestWriter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		okWrites int
		want     string
		wantErr  error
	}{
		{"all written", 100, "goal x: PASS\n    a  bb\n  ccc   d\ndone 1\n", nil},
		{"first write fails", 0, "", errFull},
		{"table fails, nothing after it", 1, "goal x: PASS\n", errFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &failAfter{n: tc.okWrites}
			w := NewWriter(out)
			w.Printf("goal %s: %s\n", "x", PassFail(true))
			tw, flush := w.Table()
			tw.Print("a\tbb\t\n")
			tw.Printf("%s\t%s\t", "ccc", "d")
			tw.Println()
			flush()
			w.Print("done ", 1)
			w.Println()
			if string(out.got) != tc.want {
				t.Errorf("printed %q, want %q", out.got, tc.want)
			}
			if !errors.Is(w.Err(), tc.wantErr) {
				t.Errorf("Err() = %v, want %v", w.Err(), tc.wantErr)
			}
			if tc.wantErr != nil && out.calls != tc.okWrites+1 {
				t.Errorf("%d writes reached the output, want %d (none after the failure)", out.calls, tc.okWrites+1)
			}
		})
	}
}
