package agent

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/agent/health"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
	"github.com/rgap-project/rgap/internal/syncbuf"
)

// switchCheck is a health check whose result the test sets.
type switchCheck struct{ up atomic.Bool }

func (c *switchCheck) String() string { return "switch" }
func (c *switchCheck) Run(context.Context) error {
	if c.up.Load() {
		return nil
	}
	return errors.New("service down")
}

// TestHealthGatesAnnouncing: a v2 agent whose check fails at start sends a
// leave and nothing else; once the check passes it announces (at once,
// although the interval is an hour); when the check fails again it sends a
// leave and falls silent; and it resumes when the check passes again.
func TestHealthGatesAnnouncing(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	check := &switchCheck{}
	var logs syncbuf.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	mon, err := health.New(health.Config{Checks: []health.Check{check}, Interval: 10 * time.Millisecond,
		Timeout: 10 * time.Millisecond, Rise: 2, Fall: 3, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, Config{Version: protocol.VersionV2, Addr: netip.MustParseAddr("192.0.2.7"), Key: k,
		Interval: time.Hour, Destinations: []netspec.Spec{r.spec}, Health: mon, Logger: log})
	stop := runAgent(t, a)

	last := wantLeaves(t, r, k, 0) // unhealthy at start: leave, then silence
	time.Sleep(50 * time.Millisecond)
	r.nothingMore(t)

	check.up.Store(true)
	b, _ := r.next(t)
	ann := parseV2(t, b, k)
	if ann.Leave || ann.Timestamp <= last {
		t.Fatalf("after the check passed: %v, want a fresh announcement", ann)
	}

	check.up.Store(false)
	last = wantLeaves(t, r, k, ann.Timestamp)
	r.nothingMore(t)

	check.up.Store(true)
	b, _ = r.next(t)
	if ann := parseV2(t, b, k); ann.Leave || ann.Timestamp <= last {
		t.Fatalf("after the check passed again: %v, want a fresh announcement", ann)
	}
	stop()
	if in := strings.Count(logs.String(), `reason="unhealthy: check switch: service down"`); in != 1 {
		t.Errorf("going unhealthy logged %d times with the check's reason, want once; log:\n%s", in, logs.String())
	}
	if n := strings.Count(logs.String(), "[INFO]  healthy"); n != 2 {
		t.Errorf("going healthy logged %d times, want twice; log:\n%s", n, logs.String())
	}
}
