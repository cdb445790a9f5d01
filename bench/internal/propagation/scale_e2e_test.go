package propagation

import (
	"testing"
)

// TestScaleSmall runs the scale measurement end to end on two small sizes
// (one group, then members spread over four): a freshly built rgap with its
// metrics endpoint, the bench plugin noting its heap, the restarts and the
// ingest rounds. No figure is asserted, only that each was measured and
// that the refreshes were all accepted without publishing events.
func TestScaleSmall(t *testing.T) {
	ctx, b := testBench(t)
	b.metrics = true
	o := scaleOptions{rounds: 2, ingestCount: 3_000, ingestRate: 20_000, fillRate: 20_000, samples: 2}
	for _, size := range []scaleSize{{1_000, 1}, {2_000, 4}} {
		p, err := measureScale(ctx, b, size, o)
		if err != nil {
			t.Fatalf("%+v: %v", size, err)
		}
		if len(p.ListenerRSS) != 2 || len(p.ListenerHeap) != 2 || len(p.PluginHeap) != 2 || len(p.SnapshotMs) != 2 || len(p.IngestNs) != 2 {
			t.Errorf("%+v: %+v; want 2 memory samples, 2 restarts and 2 ingest rounds", size, p)
		}
		for _, x := range append(append(p.PluginHeap, p.SnapshotMs...), p.IngestNs...) {
			if !(x > 0) {
				t.Errorf("%+v: a figure is %v, want a positive measurement: %+v", size, x, p)
			}
		}
		if p.IngestSent != 2*3_000 || p.IngestAccepted != p.IngestSent {
			t.Errorf("%+v: accepted %d of %d, want all of 6,000", size, p.IngestAccepted, p.IngestSent)
		}
		for _, e := range p.Events {
			if e != 0 {
				t.Errorf("%+v: %v events per refresh, want none (the refreshes move no expiry)", size, e)
			}
		}
	}
}
