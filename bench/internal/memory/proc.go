package memory

import "time"

// Bounds on waiting for a process.
const (
	startTimeout = 20 * time.Second // the listener has all its plugins up
	stopTimeout  = 10 * time.Second // a process exits after SIGTERM
)
