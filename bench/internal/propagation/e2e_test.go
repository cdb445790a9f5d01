package propagation

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testBench builds rgap and the bench plugin afresh and returns a bench
// using them, closed with the test, and a context bounding the test; it
// skips the test under -short or without a go command.
func testBench(t *testing.T) (context.Context, *bench) {
	if testing.Short() {
		t.Skip("builds rgap and the bench plugin")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build rgap with: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	rgap := filepath.Join(t.TempDir(), "rgap")
	if out, err := exec.CommandContext(ctx, goTool, "build", "-C", "../../..", "-o", rgap, "./cmd/rgap").CombinedOutput(); err != nil { //nolint:gosec // the go command found on PATH, building the product module (bench/ is a module of its own)
		t.Fatalf("build rgap: %v\n%s", err, out)
	}
	b, err := newBench(ctx, rgap, t.TempDir(), testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, b
}

// TestMeasureSmall runs both measurements end to end on small sizes, with
// a freshly built rgap and plugin: the listener, the plugin's records, the
// kill-and-restart loop and the clean-up. No speed is
// asserted, only that every count adds up and nothing outlives the run.
func TestMeasureSmall(t *testing.T) {
	ctx, b := testBench(t)

	jopts := joinOptions{rounds: 1, events: 300, warmup: 20, rate: 2_000}
	rounds, err := measureJoins(ctx, b, jopts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 1 || rounds[0].Path != pathListener {
		t.Fatalf("rounds %+v, want the listener's", rounds)
	}
	for _, r := range rounds {
		if r.Seen != r.Sent || r.Unknown != 0 || r.Duplicates != 0 || len(r.Latencies) != r.Sent {
			t.Errorf("%s: seen %d of %d, %d unknown, %d duplicates", r.Path, r.Seen, r.Sent, r.Unknown, r.Duplicates)
		}
	}
	if l := rounds[0]; l.Totals.Accepted != 320 || l.Totals.Joined != 320 {
		t.Errorf("listener totals %+v; want 320 accepted and joined", l.Totals)
	}

	sopts := snapshotOptions{rounds: 2, members: 3_000, fillRate: 20_000}
	run, err := measureSnapshots(ctx, b, sopts)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Rounds) != 2 || run.Totals.Joined != 3_000 || len(run.SizeErrors) != 0 {
		t.Fatalf("snapshot run %+v, want 2 restarts, 3,000 members joined, no size errors", run)
	}
	pids := map[int]bool{}
	for _, r := range run.Rounds {
		// The fork time is read in 10 ms ticks, truncated down: one tick
		// of slack.
		if r.Members != 3_000 || pids[r.PID] || r.Start <= 0 || r.Backoff <= 0 || r.Fork+10*time.Millisecond < r.Backoff {
			t.Errorf("restart %+v: want 3,000 members in the first snapshot of a new process, after the backoff (within a 10 ms tick)", r)
		}
		pids[r.PID] = true
	}
	// The listener stopped its plugins: none may be left.
	deadline := time.Now().Add(5 * time.Second)
	for pid := range pids {
		for {
			_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("plugin process %d still exists after the run", pid)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
