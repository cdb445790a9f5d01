package propagation

import (
	"strings"

	"github.com/rgap-project/rgap/bench/internal/listenerlog"
)

// Messages of the listener's JSON log that the orchestrator reads besides
// those of package listenerlog.
const (
	// msgPluginRunning is logged once by benchplugin's Run, re-emitted by
	// the listener: the plugin applied its first snapshot.
	msgPluginRunning = "bench plugin running"
	// msgJoinsWritten is logged by benchplugin in join mode when it
	// stopped, with its garbage collection counters.
	msgJoinsWritten = "bench plugin wrote its join records"
	// msgOutputTotals is logged by the plugin host for each output when
	// the listener stops, with its stream counters.
	msgOutputTotals = "output totals"
)

// streamTotals are what the plugin host sent the bench output.
type streamTotals struct {
	// Events and Messages are the events and stream messages (snapshot
	// chunks and heartbeats included) sent; zero when the line is missing.
	Events, Messages uint64
}

// outputTotals reads the first "output totals" line among lines.
func outputTotals(lines []string) streamTotals {
	for _, s := range lines {
		l, ok := listenerlog.Parse(s)
		if !ok || l.Message != msgOutputTotals {
			continue
		}
		ev, err1 := l.Uint("events")
		msgs, err2 := l.Uint("messages")
		if err1 != nil || err2 != nil {
			return streamTotals{}
		}
		return streamTotals{Events: ev, Messages: msgs}
	}
	return streamTotals{}
}

// messageSizeMarkers are what gRPC says when a message exceeds a size
// limit: the status code name, and the texts of grpc-go's "received
// message larger than max (N vs. M)" and "trying to send message larger
// than max".
var messageSizeMarkers = []string{"ResourceExhausted", "larger than max", "message too large"}

// messageSizeErrors returns the log lines that report a gRPC message-size
// error, whatever their level or shape (JSON or not).
func messageSizeErrors(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, m := range messageSizeMarkers {
			if strings.Contains(l, m) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}
