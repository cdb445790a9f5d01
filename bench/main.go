// Command bench is rgap's benchmark tool, a module of its own so that the
// product's dependencies and `go test ./...` stay the product's. One
// subcommand per benchmark; `make bench-NAME` runs it against bin/rgap:
//
//	go run . ingest       listener CPU per datagram vs a bare batch receiver
//	go run . dns          dnsperf against the dns output vs a bare responder
//	go run . memory       PSS/RSS of the listener and its outputs (footprint)
//	go run . propagation  datagram-to-plugin latency; snapshot to a restarted plugin
//	go run . scale        cost per member and per datagram at 10k, 100k and 1M members
//
// `go run . NAME -h` lists a benchmark's flags. Every benchmark prints its
// rounds, min/median/max over them and "goal ...: PASS|FAIL" lines; all
// traffic stays on 127.0.0.1.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/dns"
	"github.com/rgap-project/rgap/bench/internal/ingest"
	"github.com/rgap-project/rgap/bench/internal/memory"
	"github.com/rgap-project/rgap/bench/internal/propagation"
)

// benchmarks maps each subcommand to its entry point, which returns the
// exit status: 0 measured, 1 failed (or -strict saw a FAIL), 2 bad usage.
var benchmarks = map[string]func(args []string, stdout, stderr io.Writer) int{
	"ingest": ingest.Run, "dns": dns.Run, "memory": memory.Run, "propagation": propagation.Run, "scale": propagation.RunScale,
}

func main() {
	if len(os.Args) < 2 || benchmarks[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: go run . ingest|dns|memory|propagation|scale [flags]   (-h for a benchmark's flags)")
		os.Exit(2)
	}
	child.Subcommand = os.Args[1]
	os.Exit(benchmarks[os.Args[1]](os.Args[2:], os.Stdout, os.Stderr))
}
