package main

import (
	"fmt"
	"runtime/debug"
)

// version describes this build: the module version when installed with
// `go install ...@vX`, otherwise "(devel)", plus the VCS revision when the
// build recorded one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified, when string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		case "vcs.time":
			when = s.Value
		}
	}
	out := v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " " + rev + modified
		if when != "" {
			out += " " + when
		}
	}
	return out + " " + bi.GoVersion
}

func init() {
	register(&command{
		name:    "version",
		summary: "Print the version of this build.",
		run: func(env *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("version takes no arguments")
			}
			_, err := fmt.Fprintln(env.stdout, "rgap", version())
			return err
		},
	})
}
