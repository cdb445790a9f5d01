package logdur

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestJSONDurationsAreText(t *testing.T) {
	var buf bytes.Buffer
	l := Wrap(hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true, Level: hclog.Trace}))
	d := 1199219304 * time.Nanosecond
	l.Info("run finished", "took", d, "count", 3)
	l.Named("sub").With("timeout", 30*time.Second).Warn("slow", "waited", time.Duration(0))
	l.Log(hclog.Error, "x", "backoff", 100*time.Millisecond)

	want := []map[string]any{
		{"@message": "run finished", "took": "1.199219304s", "count": float64(3)},
		{"@message": "slow", "@module": "sub", "timeout": "30s", "waited": "0s"},
		{"@message": "x", "backoff": "100ms"},
	}
	dec := json.NewDecoder(&buf)
	for i, w := range want {
		var got map[string]any
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		for k, v := range w {
			if got[k] != v {
				t.Errorf("line %d: %s = %#v, want %#v", i, k, got[k], v)
			}
		}
	}
}

func TestNoCopyWithoutDurations(t *testing.T) {
	args := []any{"a", 1, "b", "x"}
	if n := testing.AllocsPerRun(100, func() { _ = text(args) }); n != 0 {
		t.Errorf("text allocates %v times for arguments without a duration", n)
	}
	if Wrap(Wrap(hclog.NewNullLogger())).(logger).Logger == nil {
		t.Fatal("double wrap lost the logger")
	}
}
