// The report figures: thousands separators on counts, "-" for a figure that
// was not measured (NaN or infinite), the same two verdict words.

package harness

import (
	"math"
	"strconv"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// PassFail is the verdict word of a goal line.
func PassFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// counts prints numbers with thousands separators.
var counts = message.NewPrinter(language.English)

// Count formats a whole number (x rounded) with thousands separators; "-"
// for NaN or infinity.
func Count(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return counts.Sprintf("%d", int64(math.Round(x)))
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
