// Package pluginlog turns what a plugin writes to stderr into the host's log
// entries.
//
// Plugins log hclog JSON lines ({"@level":"info","@message":"...",...}) and
// the host re-emits each one at its level. The host does not let go-plugin
// parse these lines: its parser type-asserts fields and panics on
// well-formed JSON of an unexpected shape (for example {"@message":[]}),
// which would let any plugin crash the listener. Everything here treats the
// stream as untrusted bytes:
//
//   - a line is at most MaxLine bytes; the rest of a longer line is dropped
//     and the line is marked truncated, so memory stays bounded;
//   - anything that is not a well-formed entry is logged verbatim at debug
//     level, except that after a line starting "panic: " or "fatal error: "
//     (a Go crash) such lines are logged at error level, so a crashing
//     plugin's stack trace is visible;
//   - control characters in messages and values are escaped, so a plugin
//     cannot forge host log lines by embedding newlines;
//   - the number of key/value pairs per entry is capped.
//
// The last lines are also kept (Tail) to explain a plugin that failed to
// start.
package pluginlog

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// MaxLine is the longest stderr line kept; longer lines are truncated.
const MaxLine = 64 << 10

// MaxPairs caps the key/value pairs taken from one JSON entry.
const MaxPairs = 32

const (
	tailLines   = 8
	tailLineMax = 240
)

// Entry is one parsed hclog JSON line.
type Entry struct {
	Level   hclog.Level
	Message string
	// Time is the plugin's @timestamp (zero if absent or unparsable).
	Time time.Time
	// Args are the remaining fields as alternating keys and values,
	// sorted by key, ready for hclog.
	Args []any
}

// ParseLine parses one hclog JSON line. It reports false for anything that
// is not a JSON object with a string @message and, if present, a string
// @level naming a known level. Strings in the result have control
// characters escaped.
func ParseLine(line []byte) (Entry, bool) {
	var e Entry
	if len(line) == 0 || line[0] != '{' {
		return e, false
	}
	var raw map[string]any
	if err := json.Unmarshal(line, &raw); err != nil {
		return e, false
	}
	msg, ok := raw["@message"].(string)
	if !ok {
		return e, false
	}
	e.Message = Sanitize(msg)
	e.Level = hclog.Info
	if v, present := raw["@level"]; present {
		s, ok := v.(string)
		if !ok {
			return e, false
		}
		switch l := hclog.LevelFromString(s); l {
		case hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error:
			e.Level = l
		default:
			return e, false
		}
	}
	if s, ok := raw["@timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			e.Time = t
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		switch k {
		case "@message", "@level", "@timestamp":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > MaxPairs {
		keys = keys[:MaxPairs]
	}
	e.Args = make([]any, 0, 2*len(keys))
	for _, k := range keys {
		name := strings.TrimPrefix(k, "@") // @module, @caller
		if name == "" {
			name = "_"
		}
		e.Args = append(e.Args, Sanitize(name), value(raw[k]))
	}
	return e, true
}

// withoutImplied drops the pairs of args whose key the logger already
// carries (the host tags a plugin's lines with output and kind; a plugin
// that logs its kind too would otherwise print it twice).
func withoutImplied(args, implied []any) []any {
	if len(implied) == 0 {
		return args
	}
	has := func(k any) bool {
		for i := 0; i+1 < len(implied); i += 2 {
			if implied[i] == k {
				return true
			}
		}
		return false
	}
	out := args[:0:0]
	for i := 0; i+1 < len(args); i += 2 {
		if !has(args[i]) {
			out = append(out, args[i], args[i+1])
		}
	}
	return out
}

// value makes a decoded JSON value safe to log: strings are sanitized,
// numbers, booleans and null kept, anything nested re-encoded as compact
// JSON (which escapes control characters).
func value(v any) any {
	switch v := v.(type) {
	case string:
		return Sanitize(v)
	case float64:
		// JSON has one number type: give whole numbers back their integer
		// form, so a counter logs as 123456789 and not 1.23456789e+08.
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
		return v
	case bool, nil:
		return v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "?"
		}
		return string(b)
	}
}

// Sanitize escapes control characters and invalid UTF-8 in s, so that it
// prints as a single line.
func Sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[s[i]>>4])
			b.WriteByte("0123456789abcdef"[s[i]&15])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// Writer receives a plugin's raw stderr (any chunking) and logs it line by
// line through its logger. It is safe for concurrent use and never fails.
type Writer struct {
	log hclog.Logger

	mu        sync.Mutex
	buf       []byte
	truncated bool
	inPanic   bool
	tail      []string
	lastErr   string
}

// NewWriter returns a Writer logging through log.
func NewWriter(log hclog.Logger) *Writer { return &Writer{log: log} }

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := indexNL(p)
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := MaxLine - len(w.buf); len(chunk) > room {
			w.buf = append(w.buf, chunk[:room]...)
			w.truncated = true
		} else {
			w.buf = append(w.buf, chunk...)
		}
		if i < 0 {
			break
		}
		w.lineLocked()
		p = p[i+1:]
	}
	return n, nil
}

// Flush logs a final line that had no newline.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 || w.truncated {
		w.lineLocked()
	}
}

func indexNL(p []byte) int {
	for i, c := range p {
		if c == '\n' {
			return i
		}
	}
	return -1
}

func (w *Writer) lineLocked() {
	line := w.buf
	truncated := w.truncated
	w.buf, w.truncated = w.buf[:0], false
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if len(line) == 0 && !truncated {
		return
	}
	if !truncated {
		if e, ok := ParseLine(line); ok {
			w.keepLocked(e.Message)
			if e.Level >= hclog.Error {
				w.lastErr = clip(errorText(e))
			}
			w.log.Log(e.Level, e.Message, withoutImplied(e.Args, w.log.ImpliedArgs())...)
			return
		}
	}
	text := Sanitize(string(line))
	w.keepLocked(text)
	if strings.HasPrefix(text, "panic: ") || strings.HasPrefix(text, "fatal error: ") {
		w.inPanic = true
	}
	level := hclog.Debug
	if w.inPanic {
		level = hclog.Error
	}
	if truncated {
		w.log.Log(level, text, "truncated_at", MaxLine)
		return
	}
	w.log.Log(level, text)
}

func (w *Writer) keepLocked(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	s = clip(s)
	if len(w.tail) == tailLines {
		copy(w.tail, w.tail[1:])
		w.tail = w.tail[:tailLines-1]
	}
	w.tail = append(w.tail, s)
}

// Tail returns the last few lines (messages of JSON entries, text of other
// lines), joined by " | ", including an unterminated last line.
func (w *Writer) Tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := w.tail
	if s := clip(strings.TrimSpace(Sanitize(string(w.buf)))); s != "" {
		lines = append(lines[:len(lines):len(lines)], s)
	}
	return strings.Join(lines, " | ")
}

// LastError returns the plugin's latest error-level JSON entry, its message
// followed by its error field if it has one; "" if there was none.
func (w *Writer) LastError() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// errorText is an error entry's message and, if present, its error field.
func errorText(e Entry) string {
	for i := 0; i+1 < len(e.Args); i += 2 {
		if k, _ := e.Args[i].(string); k == "error" {
			return e.Message + ": " + Sanitize(fmt.Sprint(e.Args[i+1]))
		}
	}
	return e.Message
}

// clip shortens s to about tailLineMax bytes without splitting a character.
func clip(s string) string {
	if len(s) <= tailLineMax {
		return s
	}
	return strings.ToValidUTF8(s[:tailLineMax], "") + "..."
}
