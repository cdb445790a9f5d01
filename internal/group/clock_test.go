package group

import (
	"testing"
	"time"
)

func TestFakeClockTicker(t *testing.T) {
	clk := NewFakeClock(t0)
	tk := clk.NewTicker(100 * time.Millisecond)
	tick := func() (time.Time, bool) {
		select {
		case at := <-tk.C():
			return at, true
		default:
			return time.Time{}, false
		}
	}
	steps := []struct {
		advance  time.Duration
		wantTick bool
		wantAt   time.Duration // tick's time relative to t0
	}{
		{99 * time.Millisecond, false, 0},
		{time.Millisecond, true, 100 * time.Millisecond},
		{50 * time.Millisecond, false, 0},
		{50 * time.Millisecond, true, 200 * time.Millisecond},
		{time.Second, true, 1200 * time.Millisecond}, // many periods: one tick, latest time
		{-time.Second, false, 0},                     // never goes back
		{99 * time.Millisecond, false, 0},            // next tick stays on the 100ms grid
		{time.Millisecond, true, 1300 * time.Millisecond},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		at, ok := tick()
		if ok != s.wantTick || (ok && !at.Equal(t0.Add(s.wantAt))) {
			t.Fatalf("step %d (advance %s): tick %v at %s; want %v at %s", i, s.advance, ok, at, s.wantTick, t0.Add(s.wantAt))
		}
	}
	if !clk.Now().Equal(t0.Add(1300 * time.Millisecond)) {
		t.Fatalf("Now = %s", clk.Now())
	}

	// An unread tick is not doubled.
	clk.Advance(100 * time.Millisecond)
	clk.Advance(100 * time.Millisecond)
	if at, _ := tick(); !at.Equal(t0.Add(1400 * time.Millisecond)) {
		t.Fatalf("pending tick at %s, want the first one (1.4s)", at)
	}
	if _, ok := tick(); ok {
		t.Fatal("second tick queued while the first was unread")
	}

	tk.Stop()
	clk.Advance(time.Second)
	if _, ok := tick(); ok {
		t.Fatal("tick after Stop")
	}
}
