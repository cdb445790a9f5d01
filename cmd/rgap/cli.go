package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// usageError marks an error caused by how the command was invoked (bad flag,
// bad value, missing argument): main exits with status 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// command is one `rgap` subcommand.
type command struct {
	name    string
	summary string
	// synopsis is the usage line after "rgap NAME".
	synopsis string
	// details is free text printed by `rgap help NAME` after the flags.
	details string
	hidden  bool
	flags   func(*flagSet)
	run     func(env *cmdEnv, args []string) error
}

// flagSpec documents one option; short and long names share one value.
type flagSpec struct {
	short, long, arg, help, env, def string
}

// flagSet wraps flag.FlagSet so every option can have a short and a long
// name and an environment variable fallback, and `rgap help` can print them
// together.
type flagSet struct {
	*flag.FlagSet
	specs []flagSpec
	envs  map[string]string // flag long name -> env var
}

func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, envs: map[string]string{}}
}

func (f *flagSet) add(spec flagSpec, v flag.Value) {
	if spec.short != "" {
		f.Var(v, spec.short, spec.help)
	}
	f.Var(v, spec.long, spec.help)
	if spec.env != "" {
		f.envs[spec.long] = spec.env
	}
	f.specs = append(f.specs, spec)
}

func (f *flagSet) string(p *string, spec flagSpec) {
	*p = spec.def
	f.add(spec, (*stringValue)(p))
}

func (f *flagSet) duration(p *time.Duration, spec flagSpec) {
	f.add(spec, (*durationValue)(p))
}

func (f *flagSet) strings(p *[]string, spec flagSpec) {
	f.add(spec, (*stringsValue)(p))
}

// parse parses args, then fills unset flags from their environment variables.
func (f *flagSet) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, s := range f.specs {
		env, ok := f.envs[s.long]
		if !ok || set[s.long] || (s.short != "" && set[s.short]) {
			continue
		}
		if val, ok := os.LookupEnv(env); ok {
			if err := f.Set(s.long, val); err != nil {
				return usagef("environment variable %s: %v", env, err)
			}
		}
	}
	return nil
}

// printDefaults prints the options' help. Like the rest of the help text it
// has nowhere to report a failure to print, so write errors are ignored.
func (f *flagSet) printDefaults(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, s := range f.specs {
		names := "--" + s.long
		if s.short != "" {
			names = "-" + s.short + ", " + names
		}
		if s.arg != "" {
			names += " " + s.arg
		}
		help := s.help
		var extra []string
		if s.env != "" {
			extra = append(extra, "env "+s.env)
		}
		if s.def != "" {
			extra = append(extra, "default "+s.def)
		}
		if len(extra) > 0 {
			help += " (" + strings.Join(extra, "; ") + ")"
		}
		_, _ = fmt.Fprintf(tw, "  %s\t%s\n", names, help)
	}
	_ = tw.Flush()
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (examples: 5s, 1m30s): %q", s)
	}
	if d < 0 {
		return fmt.Errorf("duration must not be negative: %q", s)
	}
	*v = durationValue(d)
	return nil
}

// stringsValue collects a repeatable option; the first explicit use replaces
// the default.
type stringsValue []string

func (v *stringsValue) String() string     { return strings.Join(*v, ",") }
func (v *stringsValue) Set(s string) error { *v = append(*v, s); return nil }
