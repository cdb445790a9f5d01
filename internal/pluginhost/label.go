package pluginhost

import (
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// labelLogger labels every line with its output's current index and kind.
// The index is read at each line, not fixed when the logger is made, so
// that an output moved by Update is logged under its new index at once,
// including the lines its running plugin writes.
type labelLogger struct {
	hclog.Logger
	index *atomic.Int64
	kind  string
}

var _ hclog.Logger = labelLogger{}

func (l labelLogger) label(args []any) []any {
	return append([]any{"output", l.index.Load(), "kind", l.kind}, args...)
}

// Log implements hclog.Logger.
func (l labelLogger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, msg, l.label(args)...)
}

// Trace implements hclog.Logger.
func (l labelLogger) Trace(msg string, args ...any) { l.Logger.Trace(msg, l.label(args)...) }

// Debug implements hclog.Logger.
func (l labelLogger) Debug(msg string, args ...any) { l.Logger.Debug(msg, l.label(args)...) }

// Info implements hclog.Logger.
func (l labelLogger) Info(msg string, args ...any) { l.Logger.Info(msg, l.label(args)...) }

// Warn implements hclog.Logger.
func (l labelLogger) Warn(msg string, args ...any) { l.Logger.Warn(msg, l.label(args)...) }

// Error implements hclog.Logger.
func (l labelLogger) Error(msg string, args ...any) { l.Logger.Error(msg, l.label(args)...) }

// With implements hclog.Logger; the result keeps the live label.
func (l labelLogger) With(args ...any) hclog.Logger {
	l.Logger = l.Logger.With(args...)
	return l
}

// Named implements hclog.Logger; the result keeps the live label.
func (l labelLogger) Named(name string) hclog.Logger {
	l.Logger = l.Logger.Named(name)
	return l
}

// ResetNamed implements hclog.Logger; the result keeps the live label.
func (l labelLogger) ResetNamed(name string) hclog.Logger {
	l.Logger = l.Logger.ResetNamed(name)
	return l
}
