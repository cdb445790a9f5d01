package group

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestRestore(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{
		{ID: 1, Expire: 10 * time.Second, ReadinessDelay: 30 * time.Second},
		{ID: 2, Expire: 10 * time.Second, ReadinessDelay: 30 * time.Second},
	}, Options{Clock: clk})
	if _, err := r.Observe(1, addr("192.0.2.9"), t0); err != nil { // already present, expires t0+10s
		t.Fatal(err)
	}
	res, err := r.Restore([]GroupSnapshot{
		{ID: 1, Members: []Member{
			{Addr: addr("192.0.2.1"), Expires: t0.Add(5 * time.Second)},
			{Addr: addr("192.0.2.2"), Expires: t0.Add(-time.Second)}, // expired
			{Addr: addr("192.0.2.3"), Expires: t0},                   // expires now: expired
			{Addr: addr("::ffff:192.0.2.4"), Expires: t0.Add(time.Hour)},
			{Addr: addr("192.0.2.9"), Expires: t0.Add(3 * time.Second)}, // earlier than what it has
			{Addr: netip.Addr{}, Expires: t0.Add(time.Second)},          // ignored
		}},
		{ID: 99, Members: []Member{{Addr: addr("192.0.2.5"), Expires: t0.Add(time.Second)}}, Ready: true},
		{ID: 2, Ready: true, Members: []Member{{Addr: addr("2001:db8::1"), Expires: t0.Add(2 * time.Second)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantRes := RestoreResult{Members: 3, Expired: 2, Capped: 1, Ready: []uint64{2}, Unknown: []uint64{99}}
	if !reflect.DeepEqual(res, wantRes) {
		t.Errorf("Restore = %+v, want %+v", res, wantRes)
	}

	// A subscriber (an output starting) gets the restored members in its
	// first snapshot, and group 2 ready without its 30s delay.
	sub := r.Subscribe(nil)
	defer sub.Close()
	if _, resync := sub.Next(nil); !resync {
		t.Fatal("first Next did not ask for a resync")
	}
	want := []GroupSnapshot{
		{ID: 1, Members: []Member{
			{Addr: addr("192.0.2.1"), Expires: t0.Add(5 * time.Second)},
			{Addr: addr("192.0.2.4"), Expires: t0.Add(10 * time.Second)},
			{Addr: addr("192.0.2.9"), Expires: t0.Add(10 * time.Second)},
		}},
		{ID: 2, Ready: true, Members: []Member{{Addr: addr("2001:db8::1"), Expires: t0.Add(2 * time.Second)}}},
	}
	if got := sub.Resync(); !reflect.DeepEqual(got, want) {
		t.Errorf("first snapshot:\n got %+v\nwant %+v", got, want)
	}

	// Running does not undo it, and a restored member that announces
	// again is refreshed, not joined again: no leave/join for the outputs.
	l := startRun(t, r, clk)
	l.advance(t, time.Second, SweepInterval)
	if res, err := r.Observe(1, addr("192.0.2.1"), clk.Now()); err != nil || res != Refreshed {
		t.Errorf("announcement of a restored member = %v, %v; want refreshed", res, err)
	}
	evs := drain(t, sub)
	if slices.ContainsFunc(evs, func(e Event) bool { return e.Kind == Join || e.Kind == Leave || e.Kind == Ready && e.Group == 2 }) {
		t.Errorf("events after restore: %v, want no join, leave or second ready", evs)
	}

	// A restored member with no announcement leaves at its saved expiry;
	// group 1 still becomes ready after its delay.
	l.advance(t, 2*time.Second, SweepInterval)
	snap := r.Snapshot(nil)
	if got := memberAddrs(findGroup(t, snap, 2)); len(got) != 0 {
		t.Errorf("group 2 members after the restored expiry: %v, want none", got)
	}
	if findGroup(t, snap, 1).Ready {
		t.Error("group 1 ready before its readiness delay although not restored as ready")
	}
}

func TestRestoreAfterRunRefused(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: 10 * time.Second, ReadinessDelay: time.Minute}}, Options{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(waitLimit)
	for !r.running.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	_, err := r.Restore([]GroupSnapshot{{ID: 1, Ready: true, Members: []Member{{Addr: addr("192.0.2.1"), Expires: t0.Add(time.Second)}}}})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("Restore after Run = %v, want ErrAlreadyRunning", err)
	}
	if g := r.Snapshot(nil)[0]; g.Ready || len(g.Members) != 0 {
		t.Errorf("Restore after Run changed the state: %+v", g)
	}
}

func TestSeqMovesOnChange(t *testing.T) {
	clk := NewFakeClock(t0)
	r := mustNew(t, []Config{{ID: 1, Expire: 10 * time.Second}}, Options{Clock: clk})
	s0 := r.Seq()
	if _, err := r.Observe(1, addr("192.0.2.1"), t0); err != nil {
		t.Fatal(err)
	}
	s1 := r.Seq()
	if s1 == s0 {
		t.Error("Seq did not move on a join")
	}
	if _, err := r.Observe(1, addr("192.0.2.1"), t0); err != nil { // outdated: no change
		t.Fatal(err)
	}
	if r.Seq() != s1 {
		t.Error("Seq moved although nothing changed")
	}
}
