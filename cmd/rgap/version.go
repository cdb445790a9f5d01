package main

import (
	"fmt"

	"github.com/rgap-project/rgap/internal/buildinfo"
)

func init() {
	register(&command{
		name:    "version",
		summary: "Print the version of this build.",
		details: `Prints the release version (or "devel" for a build from a checkout), the commit
it was built from with "+dirty" when the checkout had uncommitted changes, the
commit's time, and the Go version.`,
		run: func(env *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("version takes no arguments")
			}
			_, err := fmt.Fprintln(env.stdout, "rgap", buildinfo.Read())
			return err
		},
	})
}
