package propagation

import "strings"

// Messages of the listener's JSON log that the orchestrator reads besides
// those of package listenerlog.
const (
	// msgPluginRunning is logged once by benchplugin's Run, re-emitted by
	// the listener: the plugin applied its first snapshot.
	msgPluginRunning = "bench plugin running"
	// msgJoinsWritten is logged by benchplugin in join mode once it
	// wrote its records.
	msgJoinsWritten = "bench plugin wrote its join records"
)

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
