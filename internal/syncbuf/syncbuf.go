// Package syncbuf is a byte buffer that several goroutines may write while
// another reads it. Tests capture output that arrives from goroutines they
// do not control (a logger used by a Run loop, go-plugin's copy of a
// plugin's stderr, exec's copy of a child's stdout) and look at it while
// those still write; a bare bytes.Buffer is not safe for that, and the race
// detector says so. One small type here serves every such test.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer whose contents can be read at any time. The zero
// value is an empty buffer ready to use. All methods are safe for
// concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
