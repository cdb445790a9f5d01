package sdktest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LogEntry is one logged line: by the plugin, or by the SDK on its behalf.
type LogEntry struct {
	Level   hclog.Level
	Message string
	// Args are the key/value pairs of the line, including those a logger
	// was given with With, holding the values as logged (not formatted).
	Args map[string]any
}

// Arg returns the value of key formatted with fmt.Sprint ("" if absent): an
// error as its message, a number in decimal.
func (e LogEntry) Arg(key string) string {
	v, ok := e.Args[key]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// String formats the entry like "[info] message k=v", keys sorted.
func (e LogEntry) String() string {
	s := fmt.Sprintf("[%s] %s", e.Level.String(), e.Message)
	for _, k := range slices.Sorted(maps.Keys(e.Args)) {
		s += fmt.Sprintf(" %s=%v", k, e.Args[k])
	}
	return s
}

// LogSink captures what is logged through its Logger, so that a test can
// assert on the lines an operator would read (message, level, key/value
// pairs) rather than on formatted text. The Harness logs the plugin into
// one; a unit test hands its Logger to the code under test directly.
//
// Every captured line is also echoed to the test's log (shown with -v or
// when the test fails) until the test ends. All methods are safe for
// concurrent use.
type LogSink struct {
	t      testing.TB
	level  hclog.Level
	echo   string // prefix of the lines echoed to the test's log
	logger hclog.Logger
	mu     sync.Mutex
	all    []LogEntry
	ch     chan struct{} // closed and replaced on every line
	closed bool
}

// NewLogSink returns a sink whose Logger logs at level and above. Code that
// checks the level before building a costly line (IsTrace, IsDebug) sees
// it, so a test at hclog.Trace also runs those paths.
func NewLogSink(t testing.TB, level hclog.Level) *LogSink {
	s := &LogSink{t: t, level: level, echo: "log", ch: make(chan struct{})}
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{Level: level, Output: io.Discard})
	l.RegisterSink(s)
	s.logger = l
	t.Cleanup(s.close)
	return s
}

// Logger is the logger whose lines the sink captures.
func (s *LogSink) Logger() hclog.Logger { return s.logger }

// Accept implements hclog.SinkAdapter.
func (s *LogSink) Accept(_ string, level hclog.Level, msg string, args ...any) {
	if level < s.level {
		return
	}
	e := LogEntry{Level: level, Message: msg, Args: map[string]any{}}
	for i := 0; i+1 < len(args); i += 2 {
		e.Args[fmt.Sprint(args[i])] = args[i+1]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, e)
	close(s.ch)
	s.ch = make(chan struct{})
	if !s.closed {
		s.t.Logf("%s: %s", s.echo, e)
	}
}

// Entries returns every line captured so far, in the order logged.
func (s *LogSink) Entries() []LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

// Find returns the lines captured so far with the given level and message,
// in the order logged.
func (s *LogSink) Find(level hclog.Level, msg string) []LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LogEntry
	for _, e := range s.all {
		if e.Level == level && e.Message == msg {
			out = append(out, e)
		}
	}
	return out
}

// Wait waits until a line (already captured or captured later) satisfies
// match and returns it; it fails the test after Timeout, listing what was
// logged.
func (s *LogSink) Wait(match func(LogEntry) bool) LogEntry {
	s.t.Helper()
	deadline := time.After(Timeout)
	seen := 0
	for {
		s.mu.Lock()
		all, ch := slices.Clone(s.all), s.ch
		s.mu.Unlock()
		for _, e := range all[seen:] {
			if match(e) {
				return e
			}
		}
		seen = len(all)
		select {
		case <-ch:
		case <-deadline:
			s.t.Fatalf("sdktest: no matching log line within %v; logged:\n%s", Timeout, formatEntries(all))
			return LogEntry{}
		}
	}
}

func formatEntries(es []LogEntry) string {
	s := ""
	for _, e := range es {
		s += "\t" + e.String() + "\n"
	}
	return s
}

// close stops the echo to the test's log, which must not be written once
// the test ended; lines are still captured.
func (s *LogSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}
