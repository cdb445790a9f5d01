package group

import (
	"testing"
	"time"
)

// TestStats follows one group through readiness, joins, a refresh, an
// expiry and a re-join, and another group that is never announced: what a
// metrics scrape reads at each step.
func TestStats(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{
		{ID: 1000, Expire: 2 * time.Second, ReadinessDelay: 12 * time.Second},
		{ID: 2000, Expire: time.Minute},
	}, Options{Clock: clk})

	if got, want := r.Stats(), []Stats{{ID: 1000}, {ID: 2000}}; !equalStats(got, want) {
		t.Fatalf("before Run: %+v, want %+v", got, want)
	}
	l := startRun(t, r, clk)
	observe := func(a string) {
		t.Helper()
		if _, err := r.Observe(1000, addr(a), clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	observe("192.0.2.1")
	observe("192.0.2.2")
	observe("192.0.2.1") // a refresh: no join
	want := []Stats{
		{ID: 1000, Members: 2, Started: true, ReadyIn: 12 * time.Second, Joins: 2},
		{ID: 2000, Ready: true, Started: true},
	}
	if got := r.Stats(); !equalStats(got, want) {
		t.Fatalf("after two joins: %+v, want %+v", got, want)
	}

	l.advance(t, 3*time.Second, SweepInterval) // both expire
	observe("192.0.2.2")                       // and one comes back
	want[0] = Stats{ID: 1000, Members: 1, Started: true, ReadyIn: 9 * time.Second, Joins: 3, Leaves: 2}
	if got := r.Stats(); !equalStats(got, want) {
		t.Fatalf("after expiry and re-join: %+v, want %+v", got, want)
	}

	l.advance(t, 9*time.Second, time.Second)
	want[0] = Stats{ID: 1000, Members: 0, Ready: true, Started: true, Joins: 3, Leaves: 3}
	if got := r.Stats(); !equalStats(got, want) {
		t.Fatalf("after the readiness delay: %+v, want %+v", got, want)
	}
}

func equalStats(a, b []Stats) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
