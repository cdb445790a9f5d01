package listener

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

// stubOutputs reports the outputs' progress the test says.
type stubOutputs struct {
	stalled error
	started bool
}

func (s *stubOutputs) Stalled(time.Time) error { return s.stalled }
func (s *stubOutputs) AllStarted() bool        { return s.started }

func newReg(t *testing.T) *group.Registry {
	t.Helper()
	reg, err := group.New([]group.Config{{ID: 1, Expire: time.Minute}}, group.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestHealthCheck: the watchdog is fed only while every socket reader runs,
// the group state sweeps and the outputs make progress.
func TestHealthCheck(t *testing.T) {
	reg := newReg(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for reg.LastSweep() == 0 {
		time.Sleep(time.Millisecond)
	}
	tests := []struct {
		name    string
		readers int32
		stalled error
		want    string // "" healthy, else a substring of the error
	}{
		{"all running", 2, nil, ""},
		{"a socket reader gone", 1, nil, "1 of 2 socket readers running"},
		{"an output stuck", 2, errors.New("output 3 (dns): no progress"), "outputs: output 3 (dns)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &health{reg: reg, outputs: &stubOutputs{stalled: tt.stalled}, sockets: func() (int, int) { return int(tt.readers), 2 }}
			for i := range 3 { // the sweep keeps moving between checks
				err := h.check(time.Now())
				if tt.want == "" && err != nil {
					t.Fatalf("check %d: %v, want healthy", i, err)
				}
				if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
					t.Fatalf("check %d: %v, want an error with %q", i, err, tt.want)
				}
				time.Sleep(2 * group.SweepInterval)
			}
		})
	}
}

// TestHealthCheckWedgedRegistry: a registry whose sweep stopped (its Run
// loop gone or stuck on its lock) makes the listener unhealthy once the
// sweep has not moved for sweepStale, and not before.
func TestHealthCheckWedgedRegistry(t *testing.T) {
	reg := newReg(t) // never Run: its sweep never moves
	h := &health{reg: reg, sockets: func() (int, int) { return 0, 0 }}
	now := time.Now()
	if err := h.check(now); err != nil {
		t.Fatalf("first check: %v", err)
	}
	if err := h.check(now.Add(sweepStale / 2)); err != nil {
		t.Fatalf("check within sweepStale: %v", err)
	}
	err := h.check(now.Add(sweepStale + time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "group state: no sweep for") {
		t.Fatalf("check after sweepStale: %v, want a group state error", err)
	}
}

// TestWaitStarted: the ready callback comes only once every output started,
// and never when the listener stops first.
func TestWaitStarted(t *testing.T) {
	out := &stubOutputs{}
	got := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go waitStarted(ctx, out, 2, func(s string) { got <- s })
	select {
	case s := <-got:
		t.Fatalf("ready (%q) before the outputs started", s)
	case <-time.After(10 * startPoll):
	}
	// The stub is read by waitStarted's goroutine: hand it a new one.
	cancel()
	out2 := &stubOutputs{started: true}
	go waitStarted(context.Background(), out2, 2, func(s string) { got <- s })
	select {
	case s := <-got:
		if want := "listening on 2 sockets, every output running"; s != want {
			t.Errorf("status %q, want %q", s, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ready callback once every output started")
	}
	go waitStarted(context.Background(), nil, 1, func(s string) { got <- s })
	if s := <-got; s != "listening on 1 socket" {
		t.Errorf("status without outputs %q", s)
	}
}
