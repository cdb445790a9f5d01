// Command noisy is an output plugin for the end-to-end tests of package e2e.
// It works (it logs "noisy tick" every 100ms through the SDK's logger) while
// flooding its stderr with lines the listener must survive: text that is not
// JSON, JSON of the wrong shape, invalid UTF-8, control characters, lines
// far longer than the host keeps, and lines split across writes.
package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// stderr is the stderr the process started with, which the listener parses
// as log lines. go-plugin later points os.Stderr at a pipe of its own, which
// it forwards to the listener over gRPC; the flood goes to both.
var stderr = os.Stderr

var garbage = []string{
	"this is not JSON at all\n",
	"{\"@message\":[]}\n",
	"{\"@message\":{\"nested\":true},\"@level\":\"info\"}\n",
	"{\"@level\":7,\"@message\":\"level is a number\"}\n",
	"{\"@level\":\"loud\",\"@message\":\"unknown level\"}\n",
	"{\"@message\":\"many keys\",\"" + strings.Repeat("k\":1,\"", 200) + "z\":1}\n",
	"{\"@message\":\"unterminated\n",
	"\x00\x01\x02\xff\xfe binary \x1b[31m escape\n",
	"{\"@message\":\"control \\u0000 \\u001b[2J chars\",\"v\":\"\\n\\r\"}\n",
	"{not json either}\n",
	"half a line without its end ",
	"and the rest of it\n",
	"\n",
}

func flood(ctx context.Context) {
	long := "{\"@message\":\"" + strings.Repeat("L", 100<<10) + "\"}\n"
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for n := 0; ; n++ {
		for _, g := range garbage {
			stderr.WriteString(g)
		}
		os.Stderr.WriteString(garbage[n%len(garbage)])
		if n%50 == 0 {
			stderr.WriteString(long)
			stderr.WriteString(strings.Repeat("x", 200<<10) + "\n")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type output struct{}

func newOutput(cfg *sdk.Config) (sdk.Output, error) {
	if err := cfg.Decode(&struct{}{}); err != nil {
		return nil, err
	}
	return output{}, nil
}

func (output) Run(ctx context.Context, env *sdk.Env) error {
	go flood(ctx)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			env.Log.Info("noisy tick", "n", n)
		}
	}
}

func main() {
	// Garbage before the handshake, too.
	for _, g := range garbage {
		stderr.WriteString(g)
	}
	sdk.Serve(sdk.Plugin{Name: "noisy", Version: "0.0.1", New: newOutput})
}
