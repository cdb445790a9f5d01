package main

import (
	"os"
	"runtime"
	"runtime/debug"
)

// listenerProcs lowers the listener's GOMAXPROCS to its number of sockets
// (never raising it above Go's default), unless the operator set GOMAXPROCS
// in the environment. It returns the value in force.
//
// Why: the listener's only CPU-bound goroutines are its socket readers, one
// per `listen` entry, and one reader on one CPU keeps up with ~500,000
// datagrams/s (make bench-ingest pins the listener to one CPU). The rest —
// plugin pumps, gRPC, the expiry timer — is a short burst per change. Ps
// beyond the readers buy no throughput; they cost idle Ms that wake and
// spin to steal each burst's goroutines, on the very CPUs the output
// plugins need at that moment. On 2 CPUs at 10,000 joins/s (make
// bench-propagation, three alternating pairs against the previous build)
// the listener and its plugin used 53–61% of a core instead of 65–78%, and
// the datagram-to-handler p99 fell from 2.7–3.9 ms to 2.3–2.7 ms.
func listenerProcs(sockets int) int {
	if os.Getenv("GOMAXPROCS") != "" || sockets < 1 { // Go ignores an empty one too
		return runtime.GOMAXPROCS(0)
	}
	if sockets < runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(sockets)
	}
	return runtime.GOMAXPROCS(0)
}

// listenerGCPercent is the listener's GOGC when the operator sets none.
const listenerGCPercent = 50

// listenerGC sets the listener's garbage-collection target to
// listenerGCPercent, unless the operator set GOGC in the environment (Go
// has applied it already, "off" included). It returns the value in force.
//
// Why: the listener's heap is nearly all live membership (about 71 B a
// member at 1,000,000 members) and a refresh allocates nothing, so it
// collects only while members join or outputs change. Go's default of 100
// lets the heap grow to twice the live data between collections, and the
// RSS follows: 119.4, 134.5 and 135.7 B a member at 1,000,000 members
// (make bench-scale, three runs); with 50 it was 110.8 and 111.1 B, with
// the fill time and the 1M/10k ingest ratio (1.03, 1.11) unchanged. Output
// processes keep Go's default: their heaps are small.
func listenerGC() int {
	if os.Getenv("GOGC") != "" {
		p := debug.SetGCPercent(100) // read it back: Go has no getter
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(listenerGCPercent)
	return listenerGCPercent
}
