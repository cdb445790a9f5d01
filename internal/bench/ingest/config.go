package main

import "fmt"

// listenerConfig is the configuration the orchestrator gives the listener:
// the bench group on 127.0.0.1:port, no outputs, and a receive buffer large
// enough to ride out scheduling hiccups at full rate.
func listenerConfig(port uint16) string {
	return fmt.Sprintf(`# Written by internal/bench/ingest for one measurement.
listen:
  - 127.0.0.1:%d
groups:
  - id: %d
    psk: %s
    expire: %s
receive_buffer: %d
`, port, benchGroup, benchPSK, benchExpire, listenerReceiveBuffer)
}
