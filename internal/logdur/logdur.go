// Package logdur makes an hclog JSON logger write durations the way its
// text format does ("1.2s") instead of as integer nanoseconds
// (1199219304). Plugins log in JSON to the listener, which re-emits their
// lines, and operators read the listener's own JSON logs: a bare number of
// nanoseconds (shown as 1.199219304e+09 once it has passed through a JSON
// decoder) is unreadable in both. hclog has no hook for value formatting,
// so the wrapper rewrites the arguments of every call.
package logdur

import (
	"time"

	"github.com/hashicorp/go-hclog"
)

// Wrap returns l, writing every time.Duration argument as its String form.
func Wrap(l hclog.Logger) hclog.Logger {
	if _, ok := l.(logger); ok {
		return l
	}
	return logger{l}
}

type logger struct{ hclog.Logger }

// text replaces durations in args (key, value, key, value ...) with their
// text; args is copied only when it holds one.
func text(args []any) []any {
	for i, a := range args {
		if _, ok := a.(time.Duration); ok {
			out := append([]any(nil), args...)
			for j := i; j < len(out); j++ {
				if d, ok := out[j].(time.Duration); ok {
					out[j] = d.String()
				}
			}
			return out
		}
	}
	return args
}

func (l logger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, msg, text(args)...)
}
func (l logger) Trace(msg string, args ...any) { l.Logger.Trace(msg, text(args)...) }
func (l logger) Debug(msg string, args ...any) { l.Logger.Debug(msg, text(args)...) }
func (l logger) Info(msg string, args ...any)  { l.Logger.Info(msg, text(args)...) }
func (l logger) Warn(msg string, args ...any)  { l.Logger.Warn(msg, text(args)...) }
func (l logger) Error(msg string, args ...any) { l.Logger.Error(msg, text(args)...) }

func (l logger) With(args ...any) hclog.Logger  { return logger{l.Logger.With(text(args)...)} }
func (l logger) Named(name string) hclog.Logger { return logger{l.Logger.Named(name)} }
func (l logger) ResetNamed(name string) hclog.Logger {
	return logger{l.Logger.ResetNamed(name)}
}
