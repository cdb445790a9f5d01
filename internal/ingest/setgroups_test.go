package ingest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/protocol"
)

// reload applies a group list to the registry and then to the pipeline,
// in the order the listener does.
func reload(t *testing.T, reg *group.Registry, p *Pipeline, groups []Group) {
	t.Helper()
	gcfgs := make([]group.Config, len(groups))
	for i, g := range groups {
		gcfgs[i] = group.Config{ID: g.ID, Expire: time.Hour}
	}
	if err := reg.Reconfigure(gcfgs); err != nil {
		t.Fatal(err)
	}
	if err := p.SetGroups(groups); err != nil {
		t.Fatalf("SetGroups: %v", err)
	}
}

// TestSetGroups follows a pipeline through reloads: the datagrams handled
// after each are judged by the new table (a new key, a new skew, a removed
// and an added group), and AcceptedByGroup keeps the counts of groups that
// stay, drops removed ones and starts added ones (even an id added back)
// at 0.
func TestSetGroups(t *testing.T) {
	k1, k2 := protocol.NewKey(psk1), protocol.NewKey(psk2)
	clock := group.NewFakeClock(t0)
	first := []Group{
		{ID: 1000, Key: k1, ClockSkew: 10 * time.Second},
		{ID: 2000, Key: k1, ClockSkew: 10 * time.Second},
		{ID: 3000, Key: k1, ClockSkew: 10 * time.Second},
	}
	p, reg := newPipeline(t, clock, []group.Config{{ID: 1000, Expire: time.Hour}, {ID: 2000, Expire: time.Hour}, {ID: 3000, Expire: time.Hour}},
		first, Options{Now: clock.Now})
	w1, idle := p.NewWorker(), p.NewWorker()
	w1.HandleBatch([][]byte{
		announce(k1, 1000, "192.0.2.1", t0),
		announce(k1, 1000, "192.0.2.2", t0),
		announce(k1, 2000, "192.0.2.1", t0),
		announce(k1, 3000, "192.0.2.1", t0),
	})
	// idle counts for 2000 under the first table and then handles nothing:
	// its counters stay those of the first table.
	idle.HandleBatch([][]byte{announce(k1, 2000, "192.0.2.2", t0), announce(k1, 1000, "192.0.2.3", t0)})

	type step struct {
		dgram  []byte
		accept bool
		reason Reason // when !accept
	}
	tests := []struct {
		name   string
		groups []Group
		steps  []step
		want   []GroupCount // AcceptedByGroup after the steps
	}{
		{
			name: "new key and skew for 1000, 2000 removed, 4000 added, new order",
			groups: []Group{
				{ID: 3000, Key: k1, ClockSkew: 10 * time.Second},
				{ID: 1000, Key: k2, ClockSkew: time.Hour},
				{ID: 4000, Key: k1, ClockSkew: 10 * time.Second},
			},
			steps: []step{
				{dgram: announce(k1, 1000, "192.0.2.1", t0), reason: ReasonMAC},
				{dgram: announce(k2, 1000, "192.0.2.4", t0), accept: true},
				{dgram: announce(k2, 1000, "192.0.2.5", t0.Add(30*time.Minute)), accept: true},
				{dgram: announce(k1, 2000, "192.0.2.1", t0.Add(time.Second)), reason: ReasonUnknownGroup},
				{dgram: announce(k1, 4000, "192.0.2.1", t0), accept: true},
				{dgram: announce(k1, 3000, "192.0.2.2", t0), accept: true},
			},
			want: []GroupCount{{3000, 2}, {1000, 5}, {4000, 1}},
		},
		{
			name: "2000 added back: its count starts again at 0",
			groups: []Group{
				{ID: 1000, Key: k2, ClockSkew: time.Hour},
				{ID: 2000, Key: k2, ClockSkew: 10 * time.Second},
			},
			steps: []step{
				{dgram: announce(k1, 2000, "192.0.2.1", t0), reason: ReasonMAC},
				{dgram: announce(k1, 4000, "192.0.2.1", t0), reason: ReasonUnknownGroup},
			},
			want: []GroupCount{{1000, 5}, {2000, 0}},
		},
		{
			name:   "an unchanged list changes no count",
			groups: []Group{{ID: 1000, Key: k2, ClockSkew: time.Hour}, {ID: 2000, Key: k2, ClockSkew: 10 * time.Second}},
			steps:  []step{{dgram: announce(k2, 2000, "192.0.2.1", t0), accept: true}},
			want:   []GroupCount{{1000, 5}, {2000, 1}},
		},
		{
			name:   "every group removed",
			groups: nil,
			steps:  []step{{dgram: announce(k2, 1000, "192.0.2.9", t0), reason: ReasonUnknownGroup}},
			want:   []GroupCount{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reload(t, reg, p, tt.groups)
			for i, s := range tt.steps {
				before := p.Stats()
				got := w1.Handle(s.dgram, t0)
				after := p.Stats()
				if got != s.accept {
					t.Fatalf("step %d (%s): accepted = %v, want %v", i, protocol.Describe(s.dgram), got, s.accept)
				}
				if !s.accept && after.Dropped[s.reason] != before.Dropped[s.reason]+1 {
					t.Fatalf("step %d (%s): dropped %v, want one more %s", i, protocol.Describe(s.dgram), after.Dropped, s.reason)
				}
			}
			if got := p.AcceptedByGroup(); !slices.Equal(got, tt.want) {
				t.Fatalf("AcceptedByGroup() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSetGroupsRejectsBadGroups: SetGroups checks as New does, and a list
// it refuses changes nothing.
func TestSetGroupsRejectsBadGroups(t *testing.T) {
	f := newFixture(t)
	good := announce(f.key, 1000, "192.0.2.1", t0)
	if !f.w.Handle(good, t0) {
		t.Fatal("the fixture's announcement was dropped")
	}
	k := protocol.NewKey(psk2)
	step := 0
	for name, gs := range map[string][]Group{
		"duplicate": {{ID: 1000, Key: k}, {ID: 5, Key: k}, {ID: 1000, Key: k}},
		"no key":    {{ID: 1000}},
		"neg skew":  {{ID: 1000, Key: k, ClockSkew: -1}},
	} {
		_, newErr := New(gs, nil, Options{})
		err := f.p.SetGroups(gs)
		if err == nil || newErr == nil || err.Error() != newErr.Error() {
			t.Errorf("%s: SetGroups = %v, want New's error %v", name, err, newErr)
		}
		step++ // each announcement newer than the last: a repeat is a replay
		if !f.w.Handle(announce(f.key, 1000, "192.0.2.1", t0.Add(time.Duration(step)*time.Second)), t0) {
			t.Errorf("%s: a refused SetGroups changed the key", name)
		}
	}
	if got, want := f.p.AcceptedByGroup(), []GroupCount{{1000, 4}}; !slices.Equal(got, want) {
		t.Errorf("AcceptedByGroup() = %v, want %v", got, want)
	}
}

// TestHandleDoesNotAllocateAfterSetGroups: moving a worker's counters to a
// new table costs one allocation at the first datagram, none after.
func TestHandleDoesNotAllocateAfterSetGroups(t *testing.T) {
	f := newFixture(t)
	d := announce(f.key, 1000, "192.0.2.1", t0)
	f.w.Handle(d, t0)
	if err := f.p.SetGroups([]Group{{ID: 1000, Key: f.key, ClockSkew: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	f.w.Handle(d, t0)
	if n := testing.AllocsPerRun(100, func() { f.w.Handle(d, t0) }); n != 0 {
		t.Errorf("%v allocations per datagram after SetGroups, want 0", n)
	}
}

// acceptAll is an Observer that takes every announcement.
type acceptAll struct{}

func (acceptAll) Apply(uint64, group.Announcement, time.Time) (group.Result, error) {
	return group.Joined, nil
}

// TestSetGroupsUnderTraffic swaps the table back and forth while workers
// handle datagrams whose verdict differs between the old and the new
// table, and whose verdict under a mix of both (one table's key with the
// other's skew) differs from both. Every datagram must get the old or the
// new verdict; a worker's verdicts change table at most as often as the
// table was swapped; once the last SetGroups has returned, only new ones.
func TestSetGroupsUnderTraffic(t *testing.T) {
	const (
		workers  = 4
		warmup   = 200 // rounds each worker does before the swap
		after    = 200 // rounds each worker does once it saw the swap return
		maxRound = 1e6 // bound, should the swap never come
		swaps    = 21  // odd: the last one sets the new table
	)
	k1, k2 := protocol.NewKey(psk1), protocol.NewKey(psk2)
	old := []Group{{ID: 1, Key: k1, ClockSkew: 10 * time.Second}, {ID: 2, Key: k1, ClockSkew: time.Minute}}
	next := []Group{{ID: 1, Key: k2, ClockSkew: time.Hour}, {ID: 3, Key: k1, ClockSkew: time.Minute}}
	p, err := New(old, acceptAll{}, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	type verdict struct {
		accept bool
		reason Reason
	}
	const (
		vOld = iota
		vNew
	)
	far := t0.Add(30 * time.Minute)
	cases := []struct {
		dgram    []byte
		old, new verdict
	}{
		// Old: key right, skew too far. New: key wrong. Old key with new
		// skew would accept it.
		{announce(k1, 1, "192.0.2.1", far), verdict{reason: ReasonClockSkew}, verdict{reason: ReasonMAC}},
		// Old: key wrong. New: accepted. New key with old skew would
		// drop it for the skew.
		{announce(k2, 1, "192.0.2.1", far), verdict{reason: ReasonMAC}, verdict{accept: true}},
		{announce(k1, 2, "192.0.2.1", t0), verdict{accept: true}, verdict{reason: ReasonUnknownGroup}},
		{announce(k1, 3, "192.0.2.1", t0), verdict{reason: ReasonUnknownGroup}, verdict{accept: true}},
	}

	var swapped atomic.Bool
	var warm sync.WaitGroup
	warm.Add(workers)
	errs := make(chan string, workers)
	var wg sync.WaitGroup
	for range workers {
		w := p.NewWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			warmed := false
			defer func() {
				if !warmed { // do not leave the test waiting
					warm.Done()
				}
			}()
			seen, changes, afterSwap := vOld, 0, 0
			for round := 0; round < maxRound && afterSwap < after; round++ {
				if round == warmup {
					warmed = true
					warm.Done()
				}
				done := swapped.Load()
				if done {
					afterSwap++
				}
				for i, c := range cases {
					var before [numReasons]uint64
					for r := range before {
						before[r] = w.dropped[r].Load()
					}
					got := verdict{accept: w.Handle(c.dgram, t0)}
					if !got.accept {
						got.reason = -1
						for r := range before {
							if w.dropped[r].Load() != before[r] {
								got.reason = Reason(r)
							}
						}
					}
					var v int
					switch got {
					case c.old:
						v = vOld
					case c.new:
						v = vNew
					default:
						errs <- fmt.Sprintf("case %d: %+v is the verdict of neither table (old %+v, new %+v)", i, got, c.old, c.new)
						return
					}
					if v != seen {
						changes++
					}
					switch {
					case changes > swaps:
						errs <- fmt.Sprintf("case %d: verdicts changed table %d times in %d swaps", i, changes, swaps)
						return
					case done && v == vOld:
						errs <- fmt.Sprintf("case %d: an old-table verdict after the last SetGroups returned", i)
						return
					}
					seen = v
				}
			}
			if afterSwap < after {
				errs <- "the worker gave up before the swap"
			}
		}()
	}
	warm.Wait()
	for i := range swaps {
		gs := next
		if i%2 == 1 {
			gs = old
		}
		if err := p.SetGroups(gs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // let the workers handle some under each
	}
	swapped.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got, want := p.AcceptedByGroup(), []GroupCount{{1, workers * after}, {3, workers * after}}; got[0].Accepted < want[0].Accepted || got[1].Accepted < want[1].Accepted || got[0].ID != 1 || got[1].ID != 3 {
		t.Errorf("AcceptedByGroup() = %v, want at least %v", got, want)
	}
}
