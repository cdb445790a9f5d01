package background

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records failures instead of failing and
// runs its cleanups when told.
type recorder struct {
	testing.TB
	failures []string
	cleanups []func()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestStop(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	tests := []struct {
		name string
		fn   func(context.Context) error
		want string // part of the one failure; "" for none
	}{
		{"returns nil after cancel", func(ctx context.Context) error { <-ctx.Done(); return nil }, ""},
		{"returns an error", func(ctx context.Context) error { <-ctx.Done(); return errors.New("boom") }, "fn returned boom, want nil after cancel"},
		{"ignores cancel", func(context.Context) error { <-release; return nil }, "fn did not return within 50ms of cancel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			run := Start(r, "fn", 50*time.Millisecond, tt.fn)
			select {
			case <-run.Exited():
				t.Fatal("fn exited before Stop")
			case <-time.After(10 * time.Millisecond):
			}
			run.Stop()
			run.Stop() // waits once: no second failure
			r.end()    // nor from the cleanup
			switch {
			case tt.want == "" && len(r.failures) != 0:
				t.Errorf("failures %q, want none", r.failures)
			case tt.want != "" && (len(r.failures) != 1 || !strings.Contains(r.failures[0], tt.want)):
				t.Errorf("failures %q, want one containing %q", r.failures, tt.want)
			}
		})
	}
}

func TestExitedBeforeStop(t *testing.T) {
	r := &recorder{TB: t}
	run := Start(r, "fn", time.Second, func(context.Context) error { return errors.New("no port") })
	select {
	case <-run.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("Exited not closed after fn returned")
	}
	if err := run.Err(); err == nil || err.Error() != "no port" {
		t.Errorf("Err() = %v, want no port", err)
	}
	r.end()
	if len(r.failures) != 1 {
		t.Errorf("failures %q, want the error reported once when the test ends", r.failures)
	}
}
