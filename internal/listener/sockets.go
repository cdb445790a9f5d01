package listener

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/ingest"
	"github.com/rgap-project/rgap/internal/metrics"
	"github.com/rgap-project/rgap/internal/source"
)

// socket is one open `listen` entry and its reader.
type socket struct {
	entry   config.Listen
	conn    *source.Conn
	open    atomic.Bool // being read
	closing atomic.Bool // closed on purpose (a reload removed it): not an error
	done    chan struct{}
}

// key identifies a listen entry across configurations: entries with the
// same key are the same socket, which a reload keeps open.
func key(l config.Listen) string { return l.Spec.String() }

// sockets is the listener's set of open listen sockets. A reload changes it
// by difference: an entry that stays keeps its socket (no datagram is lost),
// new entries are opened before anything else changes, removed ones are
// closed last.
type sockets struct {
	log  hclog.Logger
	pipe *ingest.Pipeline
	errc chan<- error
	wg   *sync.WaitGroup

	mu   sync.Mutex
	list []*socket
	// gone counts what the sockets closed by reloads received, so the
	// shutdown totals still add up.
	gone source.Stats
}

// openAll opens a socket for each entry, in order. On an error it closes
// what it opened and returns the error naming the entry.
func openAll(entries []config.Listen, receiveBuffer int, log hclog.Logger) ([]*socket, error) {
	out := make([]*socket, 0, len(entries))
	for _, l := range entries {
		c, err := source.Listen(l.Spec, source.Options{ReceiveBuffer: receiveBuffer, Logger: log})
		if err != nil {
			for _, s := range out {
				_ = s.conn.Close() // never read: nothing to report
			}
			return nil, fmt.Errorf("%s: listen %s: %w", l.Pos, l.Spec, err)
		}
		out = append(out, &socket{entry: l, conn: c, done: make(chan struct{})})
	}
	return out, nil
}

// start begins reading s until ctx ends or s is closed.
func (ss *sockets) start(ctx context.Context, s *socket) {
	w := ss.pipe.NewWorker()
	s.open.Store(true)
	ss.log.Info("listening", "spec", s.entry.Spec.String(), "address", s.conn.LocalAddr().String())
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		defer close(s.done)
		defer s.open.Store(false)
		if err := s.conn.Run(ctx, w.HandleBatch); err != nil && ctx.Err() == nil && !s.closing.Load() {
			ss.errc <- fmt.Errorf("%s: socket %s: %w", s.entry.Pos, s.entry.Spec, err)
		}
	}()
}

// add starts reading new sockets and makes them part of the set.
func (ss *sockets) add(ctx context.Context, news []*socket) {
	ss.mu.Lock()
	ss.list = append(ss.list, news...)
	ss.mu.Unlock()
	for _, s := range news {
		ss.start(ctx, s)
	}
}

// retire closes and forgets the sockets whose entries are not in keep, and
// waits for their readers to finish.
func (ss *sockets) retire(keep map[string]bool) {
	ss.mu.Lock()
	var gone []*socket
	kept := ss.list[:0]
	for _, s := range ss.list {
		if keep[key(s.entry)] {
			kept = append(kept, s)
		} else {
			gone = append(gone, s)
		}
	}
	ss.list = kept
	ss.mu.Unlock()
	for _, s := range gone {
		s.closing.Store(true)
		_ = s.conn.Close() // makes its Run return nil
		<-s.done
		st := s.conn.Stats()
		ss.mu.Lock()
		ss.gone.Datagrams += st.Datagrams
		ss.gone.Truncated += st.Truncated
		ss.mu.Unlock()
		ss.log.Info("stopped listening", "spec", s.entry.Spec.String(), "address", s.conn.LocalAddr().String())
	}
}

// keys returns the keys of the open sockets.
func (ss *sockets) keys() map[string]bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make(map[string]bool, len(ss.list))
	for _, s := range ss.list {
		out[key(s.entry)] = true
	}
	return out
}

// closeAll closes every socket (at shutdown); Run's wait group waits for
// the readers.
func (ss *sockets) closeAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, s := range ss.list {
		_ = s.conn.Close() // a UDP socket: closing reports nothing worth acting on
	}
}

// openCount says how many sockets are being read, of how many.
func (ss *sockets) openCount() (open, total int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, s := range ss.list {
		if s.open.Load() {
			open++
		}
	}
	return open, len(ss.list)
}

// metrics is the metrics endpoints' view of the sockets.
func (ss *sockets) metrics() []metrics.Socket {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]metrics.Socket, len(ss.list))
	for i, s := range ss.list {
		out[i] = metrics.Socket{Listen: s.entry.Spec.String(), Received: s.conn.Stats().Datagrams, Open: s.open.Load()}
	}
	return out
}

// totals adds up every socket's counters, closed ones included.
func (ss *sockets) totals() source.Stats {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	t := ss.gone
	for _, s := range ss.list {
		st := s.conn.Stats()
		t.Datagrams += st.Datagrams
		t.Truncated += st.Truncated
	}
	return t
}
