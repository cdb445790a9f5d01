package pluginhost

import (
	"sync"
	"sync/atomic"
	"time"
)

// OutputStats is a point-in-time view of one output's plugin, for logs and
// a metrics endpoint.
type OutputStats struct {
	Index int
	Kind  string
	// Running is true while a plugin process is up and configured.
	Running bool
	// PID of the current plugin process (0 when none).
	PID int
	// Starts counts launch attempts (a refused file counts too); Restarts
	// counts the attempts made after a failure.
	Starts, Restarts uint64
	// ConsecutiveFailures is the current crash-loop length; it resets once a
	// plugin has run for Options.HealthyAfter.
	ConsecutiveFailures int
	// Hung counts plugins killed for not acknowledging in time.
	Hung uint64
	// SnapshotsSent counts complete snapshots; Resyncs the ones sent
	// because the plugin fell behind and the feed lapped it.
	SnapshotsSent, Resyncs uint64
	// EventsSent counts events; MessagesSent all stream messages;
	// Heartbeats the empty keep-alive messages among them.
	EventsSent, MessagesSent, Heartbeats uint64
	// LastError is the latest failure ("" if none) and when it happened.
	LastError   string
	LastErrorAt time.Time
}

// outputStats is the live, concurrently updated form of OutputStats.
type outputStats struct {
	index atomic.Int64 // the output's current index; Update may move it
	kind  string

	running                                          atomic.Bool
	pid                                              atomic.Int64
	starts, restarts, hung                           atomic.Uint64
	snapshots, resyncs, events, messages, heartbeats atomic.Uint64
	failures                                         atomic.Int64
	client                                           atomic.Pointer[metricsClient] // the configured plugin; nil when none

	mu        sync.Mutex
	lastErr   string
	lastErrAt time.Time
}

func (s *outputStats) setErr(err error) {
	s.mu.Lock()
	s.lastErr, s.lastErrAt = err.Error(), time.Now()
	s.mu.Unlock()
}

func (s *outputStats) view() OutputStats {
	s.mu.Lock()
	lastErr, lastErrAt := s.lastErr, s.lastErrAt
	s.mu.Unlock()
	return OutputStats{
		Index: int(s.index.Load()), Kind: s.kind,
		Running: s.running.Load(), PID: int(s.pid.Load()),
		Starts: s.starts.Load(), Restarts: s.restarts.Load(),
		ConsecutiveFailures: int(s.failures.Load()),
		Hung:                s.hung.Load(),
		SnapshotsSent:       s.snapshots.Load(), Resyncs: s.resyncs.Load(),
		EventsSent: s.events.Load(), MessagesSent: s.messages.Load(), Heartbeats: s.heartbeats.Load(),
		LastError: lastErr, LastErrorAt: lastErrAt,
	}
}

func newOutputStats(o *Output) *outputStats {
	s := &outputStats{kind: o.Kind}
	s.index.Store(int64(o.Index))
	return s
}
