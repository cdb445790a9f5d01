// Command rgap announces and collects the live addresses of redundancy
// groups. `rgap agent` sends signed announcements; `rgap listener` verifies
// them, keeps each group's live set and feeds it to output plugins. Run
// `rgap help` for the commands.
//
// The same binary also serves every built-in output plugin: the listener
// re-executes itself as `rgap plugin KIND` for each configured output, so an
// operator installs one file and still gets one process per output.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/logdur"
)

// cmdEnv is what every command runs with.
type cmdEnv struct {
	stdout, stderr io.Writer
	log            hclog.Logger
	logOpts        logOptions
}

type logOptions struct {
	level  string
	format string
}

func (o *logOptions) register(fs *flagSet) {
	fs.string(&o.level, flagSpec{long: "log-level", arg: "LEVEL", help: "trace, debug, info, warn or error", env: "RGAP_LOG_LEVEL", def: o.level})
	fs.string(&o.format, flagSpec{long: "log-format", arg: "FORMAT", help: "text or json", env: "RGAP_LOG_FORMAT", def: o.format})
}

func (o logOptions) logger(w io.Writer) (hclog.Logger, error) {
	level := hclog.LevelFromString(o.level)
	if level == hclog.NoLevel {
		return nil, usagef("--log-level: want trace, debug, info, warn or error, got %q", o.level)
	}
	var json bool
	switch o.format {
	case "text":
	case "json":
		json = true
	default:
		return nil, usagef("--log-format: want text or json, got %q", o.format)
	}
	return logdur.Wrap(hclog.New(&hclog.LoggerOptions{
		Name:       "rgap",
		Level:      level,
		Output:     w,
		JSONFormat: json,
	})), nil
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit status: 0 on
// success, 1 when the command failed, 2 when it was invoked wrongly. A
// failure to write a message to stderr has nowhere to be reported, so it is
// ignored; the exit status still tells.
func run(args []string, stdout, stderr io.Writer) int {
	env := &cmdEnv{stdout: stdout, stderr: stderr, logOpts: logOptions{level: "info", format: "text"}}

	// Global options may stand before the command name.
	global := newFlagSet("rgap")
	env.logOpts.register(global)
	if err := global.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printOverview(stdout)
			return 0
		}
		_, _ = fmt.Fprintf(stderr, "rgap: %v\nRun 'rgap help' for usage.\n", err)
		return 2
	}
	args = global.Args()
	if len(args) == 0 {
		printOverview(stderr)
		return 2
	}
	cmd := lookup(args[0])
	if cmd == nil {
		_, _ = fmt.Fprintf(stderr, "rgap: unknown command %q\nRun 'rgap help' for usage.\n", args[0])
		return 2
	}

	fs := newFlagSet(cmd.name)
	env.logOpts.register(fs) // global options are accepted after the command too
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if err := fs.parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(stdout, cmd)
			return 0
		}
		_, _ = fmt.Fprintf(stderr, "rgap %s: %v\nRun 'rgap help %s' for usage.\n", cmd.name, err, cmd.name)
		return 2
	}
	log, err := env.logOpts.logger(stderr)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "rgap: %v\n", err)
		return 2
	}
	env.log = log

	err = cmd.run(env, fs.Args())
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		_, _ = fmt.Fprintf(stderr, "rgap %s: %v\n", cmd.name, err)
		return 2
	}
	_, _ = fmt.Fprintf(stderr, "rgap %s: %v\n", cmd.name, err)
	return 1
}

// printOverview prints the list of commands. Like printDefaults it has
// nowhere to report a failure to print, so write errors are ignored.
func printOverview(w io.Writer) {
	_, _ = fmt.Fprintln(w, "rgap announces and collects the live IP addresses of redundancy groups.")
	_, _ = fmt.Fprintln(w, "\nUsage: rgap [--log-level LEVEL] [--log-format text|json] COMMAND [options]")
	_, _ = fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		if !c.hidden {
			_, _ = fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
		}
	}
	_, _ = fmt.Fprintln(w, "\nRun 'rgap help COMMAND' for a command's options.")
}

// printCommandHelp prints one command's help; write errors are ignored, as
// in printOverview.
func printCommandHelp(w io.Writer, c *command) {
	_, _ = fmt.Fprintf(w, "Usage: rgap %s %s\n\n%s\n", c.name, c.synopsis, c.summary)
	fs := newFlagSet(c.name)
	if c.flags != nil {
		c.flags(fs)
	}
	if len(fs.specs) > 0 {
		_, _ = fmt.Fprintln(w, "\nOptions:")
		fs.printDefaults(w)
	}
	_, _ = fmt.Fprintln(w, "\nGlobal options (before or after the command):")
	g := newFlagSet("global")
	(&logOptions{level: "info", format: "text"}).register(g)
	g.printDefaults(w)
	if c.details != "" {
		_, _ = fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.details))
	}
}

func init() {
	register(&command{
		name:     "help",
		summary:  "Show the commands, or one command's options.",
		synopsis: "[COMMAND]",
		run: func(env *cmdEnv, args []string) error {
			if len(args) == 0 {
				printOverview(env.stdout)
				return nil
			}
			c := lookup(args[0])
			if c == nil {
				return usagef("unknown command %q", args[0])
			}
			printCommandHelp(env.stdout, c)
			return nil
		},
	})
}
