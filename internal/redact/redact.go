// Package redact shortens text copied from an operator's file before it goes
// into an error or a log. A configuration error must point at the mistake,
// and the line number already does; repeating a value whole would print a
// PSK (or a password) that was pasted into the wrong place. The listener's
// configuration decoder and the SDK's spec decoder both quote through here,
// so the rule is the same everywhere.
package redact

// MaxQuoted is the most characters of anything written in a file (a value,
// a key, an anchor name) that an error message repeats.
const MaxQuoted = 8

// Shorten cuts s after MaxQuoted characters, appending "..." when it did.
func Shorten(s string) string {
	n := 0
	for i := range s {
		if n == MaxQuoted {
			return s[:i] + "..."
		}
		n++
	}
	return s
}
