package main

import (
	"os"

	commandoutput "github.com/rgap-project/rgap/plugins/command"
)

func init() {
	register(&command{
		name:     commandoutput.GuardCommand,
		summary:  "Supervise one run of a command output's program (started by the command output, not by hand).",
		synopsis: "-- ARGS",
		hidden:   true,
		run: func(_ *cmdEnv, args []string) error {
			// The exit status is the program's, which an error cannot carry.
			os.Exit(commandoutput.Guard(args))
			return nil
		},
	})
}
