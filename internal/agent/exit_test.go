package agent

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/agent/health"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
)

// blockingCheck is a health check in flight until its context is done;
// started is closed when it first runs.
type blockingCheck struct{ started chan struct{} }

func (c *blockingCheck) String() string { return "blocking" }
func (c *blockingCheck) Run(ctx context.Context) error {
	select {
	case <-c.started:
	default:
		close(c.started)
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestRunReturnsOnceLeft: a v2 agent stopped returns from Run once its
// leaves are out, whatever its interval (an hour here), and a health check
// in flight (with a timeout of an hour: only the stop can end it, an exec
// check by killing its process group) does not hold it up. The bound
// stands for "not the interval, not the check timeout" on a loaded machine.
func TestRunReturnsOnceLeft(t *testing.T) {
	const bound = time.Second
	for _, tc := range []struct {
		name  string
		check func() (health.Check, <-chan struct{})
	}{
		{"no health checks", nil},
		{"a check in flight", func() (health.Check, <-chan struct{}) {
			c := &blockingCheck{started: make(chan struct{})}
			return c, c.started
		}},
		{"an exec check in flight", func() (health.Check, <-chan struct{}) {
			c, err := health.NewExec("sleep 3600")
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			close(started) // the round runs at once; the stop may find it starting
			return c, started
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, "127.0.0.1")
			k := key(t, testPSK)
			cfg := Config{Version: protocol.VersionV2, Addr: netip.MustParseAddr("192.0.2.8"), Key: k,
				Interval: time.Hour, Destinations: []netspec.Spec{r.spec}}
			var started <-chan struct{}
			if tc.check != nil {
				var c health.Check
				c, started = tc.check()
				mon, err := health.New(health.Config{Checks: []health.Check{c}, Interval: time.Hour, Timeout: time.Hour,
					Rise: 1, Fall: 1, InitHealthy: true})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Health = mon
			}
			a := newAgent(t, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			b, _ := r.next(t)
			first := parseV2(t, b, k)
			if started != nil {
				<-started
			}
			stopped := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run = %v", err)
				}
				if took := time.Since(stopped); took > bound {
					t.Errorf("Run returned %v after the stop, want within %v", took, bound)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10s of the stop")
			}
			wantLeaves(t, r, k, first.Timestamp)
		})
	}
}
