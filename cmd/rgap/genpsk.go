package main

import (
	"crypto/rand"
	"fmt"

	"github.com/rgap-project/rgap/internal/protocol"
)

func init() {
	register(&command{
		name:     "genpsk",
		summary:  "Print a new random pre-shared key (64 hex characters).",
		synopsis: "",
		details:  "The key comes from the operating system's cryptographic random source.\nUse the same key for a group in the listener's configuration and in its agents.",
		run: func(env *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("genpsk takes no arguments, got %q", args)
			}
			psk, err := protocol.GeneratePSK(rand.Reader)
			if err != nil {
				return fmt.Errorf("generate PSK: %w", err)
			}
			_, err = fmt.Fprintln(env.stdout, psk.Hex())
			return err
		},
	})
}
