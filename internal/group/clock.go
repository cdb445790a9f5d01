package group

import (
	"sync"
	"time"
)

// Clock is the registry's source of time. Production code uses [SystemClock];
// tests inject a [FakeClock].
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTicker returns a ticker that delivers the current time on its
	// channel about every d, dropping ticks for a slow receiver like
	// time.Ticker does.
	NewTicker(d time.Duration) Ticker
}

// Ticker is the periodic wake-up a [Clock] provides.
type Ticker interface {
	// C returns the channel the ticks are delivered on.
	C() <-chan time.Time
	// Stop turns the ticker off; no tick is delivered after it returns.
	Stop()
}

// SystemClock returns the Clock backed by the time package.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (t systemTicker) C() <-chan time.Time { return t.t.C }
func (t systemTicker) Stop()               { t.t.Stop() }

// FakeClock is a manually advanced Clock for tests. Time stands still until
// Advance is called; tickers fire from Advance, at most one pending tick per
// ticker, carrying the new time. It is safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

// NewFakeClock returns a FakeClock whose time is t0.
func NewFakeClock(t0 time.Time) *FakeClock {
	return &FakeClock{now: t0}
}

// Now returns the fake current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the fake time forward by d (a negative d is treated as zero)
// and fires every ticker whose next tick time has been reached. A ticker whose
// previous tick is still unread does not get a second one, as with
// time.Ticker; the receiver reads Now afterwards and sees the latest time.
func (c *FakeClock) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.tickers {
		if c.now.Before(t.next) {
			continue
		}
		select {
		case t.ch <- c.now:
		default:
		}
		missed := c.now.Sub(t.next)/t.period + 1
		t.next = t.next.Add(missed * t.period)
	}
}

// NewTicker returns a ticker that fires when Advance reaches each multiple of
// d after the current fake time. d must be positive.
func (c *FakeClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("group: FakeClock.NewTicker: non-positive interval")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{clock: c, ch: make(chan time.Time, 1), period: d, next: c.now.Add(d)}
	c.tickers = append(c.tickers, t)
	return t
}

type fakeTicker struct {
	clock  *FakeClock
	ch     chan time.Time
	period time.Duration
	next   time.Time
}

func (t *fakeTicker) C() <-chan time.Time { return t.ch }

func (t *fakeTicker) Stop() {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.tickers {
		if o == t {
			c.tickers = append(c.tickers[:i], c.tickers[i+1:]...)
			return
		}
	}
}
