package config

import "strings"

// The keys each mapping knows, for suggestions; the switch statements in
// decode.go are what accepts them.
var (
	topKeys    = []string{"listen", "groups", "outputs", "plugins_dir", "receive_buffer", "state_file", "http_listen"}
	groupKeys  = []string{"id", "psk", "keys", "expire", "clock_skew", "readiness_delay"}
	outputKeys = []string{"kind", "sha256", "spec"}
)

// suggest returns " (did you mean KEY?)" for the known key closest to an
// unknown one, when it is a likely typo of it (at most two edits, and
// fewer than half its length), else "". The message quotes only the first
// characters of what was written, so the whole known key is what tells the
// operator which one was meant; it is not quoted, being no value from the
// file.
func suggest(name string, known []string) string {
	if len(name) > 64 {
		return ""
	}
	best, bestDist := "", 3
	for _, k := range known {
		dist := editDistance(strings.ToLower(name), k)
		if dist < bestDist && 2*dist < len(k) {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (keys are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
