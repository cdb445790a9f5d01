package dns

import "time"

// Bounds on waiting for a child.
const (
	startTimeout = 15 * time.Second // a server is up
	stopTimeout  = 10 * time.Second // a child exits after SIGTERM
)
