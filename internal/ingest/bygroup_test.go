package ingest

import (
	"slices"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/protocol"
)

// TestAcceptedByGroup: each group's accepted announcements are counted on
// their own, summed over the workers, in configuration order; drops (even
// of a known group) are not counted, and a group nobody announces is
// listed with 0.
func TestAcceptedByGroup(t *testing.T) {
	clock := group.NewFakeClock(t0)
	ids := []uint64{3000, 1000, 2000}
	var gcfgs []group.Config
	var igroups []Group
	key := protocol.NewKey(psk1)
	for _, id := range ids {
		gcfgs = append(gcfgs, group.Config{ID: id, Expire: 15 * time.Second})
		igroups = append(igroups, Group{ID: id, Key: key, ClockSkew: 10 * time.Second})
	}
	p, _ := newPipeline(t, clock, gcfgs, igroups, Options{Now: clock.Now})
	w1, w2 := p.NewWorker(), p.NewWorker()
	w1.HandleBatch([][]byte{
		announce(key, 1000, "192.0.2.1", t0),
		announce(key, 1000, "192.0.2.2", t0),
		announce(key, 3000, "192.0.2.1", t0),
		announce(key, 1000, "ff02::1", t0),                     // bad address: not accepted
		announce(protocol.NewKey(psk2), 1000, "192.0.2.1", t0), // bad MAC
		announce(key, 4000, "192.0.2.1", t0),                   // unknown group
	})
	w2.HandleBatch([][]byte{announce(key, 1000, "192.0.2.1", t0.Add(time.Second))})
	want := []GroupCount{{3000, 1}, {1000, 3}, {2000, 0}}
	if got := p.AcceptedByGroup(); !slices.Equal(got, want) {
		t.Fatalf("AcceptedByGroup() = %v, want %v", got, want)
	}
	if s := p.Stats(); s.Accepted != 4 {
		t.Fatalf("Stats().Accepted = %d, want the sum 4", s.Accepted)
	}
}
