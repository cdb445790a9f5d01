package propagation

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/rgap-project/rgap/internal/golden"
)

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in   string
		want []scaleSize
		ok   bool
	}{
		{"10000/1,100000/100,1000000/1000", []scaleSize{{10_000, 1}, {100_000, 100}, {1_000_000, 1000}}, true},
		{" 5/5 ", []scaleSize{{5, 5}}, true},
		{"10", nil, false},         // no group count
		{"10/0", nil, false},       // no group
		{"3/4", nil, false},        // more groups than members
		{"16777216/1", nil, false}, // beyond 10.0.0.0/8
		{"x/1", nil, false},
	}
	for _, tt := range tests {
		got, err := parseSizes(tt.in)
		if (err == nil) != tt.ok || len(got) != len(tt.want) {
			t.Errorf("parseSizes(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("parseSizes(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}

// TestScaleReportGolden fixes the report's shape and its verdicts: the
// per-member goals are taken at the largest size, the ingest goal compares
// the largest with the smallest, and lost datagrams fail the check.
func TestScaleReportGolden(t *testing.T) {
	points := []scalePoint{
		{Size: scaleSize{10_000, 1},
			ListenerRSS: []float64{600, 640, 650}, ListenerHeap: []float64{200, 210, 220}, PluginHeap: []float64{75, 74, 76},
			SnapshotMs: []float64{80, 90, 100}, IngestNs: []float64{1000, 1100, 1200}, Events: []float64{0, 0, 0},
			IngestSent: 600_000, IngestAccepted: 600_000, OtherCPU: []float64{50, 60, 70}},
		{Size: scaleSize{1_000_000, 1000},
			ListenerRSS: []float64{120, 125, 130}, ListenerHeap: []float64{100, 110, 120}, PluginHeap: []float64{57, 58, 59},
			SnapshotMs: []float64{1500, 1600, 2600}, IngestNs: []float64{1300, 1400, 1500}, Events: []float64{0, 0, 0},
			IngestSent: 600_000, IngestAccepted: 599_000, OtherCPU: []float64{50, 60, 70}},
	}
	var out bytes.Buffer
	pass, err := writeScaleReport(&out, points)
	if err != nil {
		t.Fatal(err)
	}
	if pass {
		t.Error("pass = true, want false: the ingest ratio (1.27) and the lost datagrams fail")
	}
	golden.Check(t, filepath.Join("testdata", "scale-report.golden"), "scale-report.golden", out.Bytes())
}
