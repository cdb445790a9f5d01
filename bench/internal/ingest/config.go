package ingest

import "fmt"

// listenerConfig is the configuration the orchestrator gives the listener:
// the bench group on 127.0.0.1:port, no outputs, a receive buffer large
// enough to ride out scheduling hiccups at full rate, and the metrics and
// health endpoints on 127.0.0.1:httpPort, as a production listener runs.
func listenerConfig(port, httpPort uint16) string {
	return fmt.Sprintf(`# Written by internal/bench/ingest for one measurement.
listen:
  - 127.0.0.1:%d
groups:
  - id: %d
    psk: %s
    expire: %s
receive_buffer: %d
http_listen: 127.0.0.1:%d
`, port, benchGroup, benchPSK, benchExpire, listenerReceiveBuffer, httpPort)
}
