package config

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rgap-project/rgap/internal/redact"
	"github.com/rgap-project/rgap/sdk/yamlwalk"
)

// maxQuoted is the most characters of anything written in the file that
// an error repeats (see package redact).
const maxQuoted = redact.MaxQuoted

// scrubbed is a cause from another package (internal/netspec, yaml.v3)
// whose text may repeat what it was given; Error returns the text with
// that shortened, Unwrap the original error for errors.Is.
type scrubbed struct {
	err  error
	text string
}

func (s *scrubbed) Error() string { return s.text }
func (s *scrubbed) Unwrap() error { return s.err }

// maxScrubRun bounds the value scrub searches for verbatim runs; longer
// values are only looked for whole (see scrubText).
const maxScrubRun = 1024

// scrub wraps err, which was returned for value, so that its text repeats
// no more than maxQuoted characters of value in a row and quotes no
// string longer than that.
func scrub(err error, value string) error {
	if err == nil {
		return nil
	}
	return &scrubbed{err: err, text: scrubText(err.Error(), value)}
}

// scrubText shortens, in msg, every Go-quoted string and every run of more
// than maxQuoted characters copied from value (a message may quote the
// value, quote a part of it, or repeat it unquoted, as net.AddrError
// does). For a value longer than maxScrubRun only whole copies of it are
// found, which keeps the search linear.
func scrubText(msg, value string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		if msg[i] == '"' {
			if q, err := strconv.QuotedPrefix(msg[i:]); err == nil {
				u, _ := strconv.Unquote(q)
				b.WriteString(yamlwalk.Quote(u))
				i += len(q)
				continue
			}
		}
		if n := copiedRun(msg[i:], value); n > 0 {
			b.WriteString(redact.Shorten(msg[i : i+n]))
			i += n
			continue
		}
		_, size := utf8.DecodeRuneInString(msg[i:])
		b.WriteString(msg[i : i+size])
		i += size
	}
	return b.String()
}

// copiedRun returns the byte length of the longest prefix of s that is
// longer than maxQuoted characters and occurs in value, or 0.
func copiedRun(s, value string) int {
	if len(value) > maxScrubRun {
		if strings.HasPrefix(s, value) && utf8.RuneCountInString(value) > maxQuoted {
			return len(value)
		}
		return 0
	}
	// The shortest run that counts: maxQuoted+1 characters.
	end, n := 0, 0
	for end < len(s) && n <= maxQuoted {
		_, size := utf8.DecodeRuneInString(s[end:])
		end += size
		n++
	}
	if n <= maxQuoted || !strings.Contains(value, s[:end]) {
		return 0
	}
	for end < len(s) {
		_, size := utf8.DecodeRuneInString(s[end:])
		if !strings.Contains(value, s[:end+size]) {
			break
		}
		end += size
	}
	return end
}
