// The report figures: thousands separators on counts, "-" for a figure that
// was not measured (NaN or infinite), the same two verdict words.

package harness

import (
	"math"
	"strconv"
)

// PassFail is the verdict word of a goal line.
func PassFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// Count formats a whole number (x rounded) with thousands separators; "-"
// for NaN or infinity.
func Count(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// Fixed returns a formatter with prec decimals; it gives "-" for NaN or
// infinity.
func Fixed(prec int) func(float64) string {
	return func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "-"
		}
		return strconv.FormatFloat(x, 'f', prec, 64)
	}
}
