package report

import (
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

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"/tmp/go-build123/b001/exe/dns", "-rgap", "bin/rgap"}, "go run ./internal/bench/dns -rgap bin/rgap"},
		{[]string{"./bench-dns", "-part", "latency"}, "./bench-dns -part latency"},
		{nil, ""},
	} {
		if got := CommandLine(tc.args, "./internal/bench/dns"); got != tc.want {
			t.Errorf("CommandLine(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
