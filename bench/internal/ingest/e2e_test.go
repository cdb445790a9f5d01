package ingest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/harness"
)

// childEnv makes the test binary act as this tool, so that the orchestrator
// under test can re-execute it (os.Executable) as its children.
const childEnv = "RGAP_BENCHCMD_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(Run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestOrchestrateSmall runs the whole measurement on a small burst: both
// receivers pinned by taskset, the sender, the drain detection, and the
// listener (freshly built from the product module). Sizes keep it short;
// no speed is asserted, only that the counts add up.
func TestOrchestrateSmall(t *testing.T) {
	t.Setenv(childEnv, "1")
	rgap := filepath.Join(t.TempDir(), "rgap")
	if out, err := exec.Command("go", "build", "-C", "../../..", "-o", rgap, "./cmd/rgap").CombinedOutput(); err != nil { //nolint:gosec // the go command on PATH, building the product module (bench/ is a module of its own)
		t.Skipf("cannot build rgap: %v\n%s", err, out)
	}
	opts := orchestrateOptions{
		Common:    harness.Common{RGAP: rgap, Rounds: 2, Progress: testWriter{t}, Dir: t.TempDir()},
		datagrams: 25_000, batch: 64, senderCPU: 0, receiverCPU: 1, protocols: []int{1, 2},
	}
	if err := checkEnvironment(opts); errors.Is(err, harness.ErrEnvironment) {
		t.Skipf("cannot pin sender and receiver here: %v", err)
	}
	// orchestrate pins this process to the sender's CPU; undo that.
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := child.SetAffinity(&all); err != nil {
			t.Errorf("restore CPU affinity: %v", err)
		}
	})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := orchestrate(ctx, opts, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", &out)
	if len(v.Ratios[kindListener]) != 2 || len(v.Ratios[listenerKind(2)]) != 2 {
		t.Errorf("ratios %v, want one per round and protocol", v.Ratios)
	}
	if v.ListenerSent != 2*2*25_000 {
		t.Errorf("listeners were sent %d datagrams, want %d", v.ListenerSent, 2*2*25_000)
	}
	// 25,000 datagrams announce the 10,000 addresses up to three times
	// each: every repeat must be newer, or the listener drops it as a
	// replay.
	if v.ListenerRefused != 0 {
		t.Errorf("listeners refused %d datagrams, want 0: the bench traffic must all verify and none be a replay", v.ListenerRefused)
	}
	for _, want := range []string{"goal CPU:   listener/bare", "goal CPU: listener v2/bare", "v2 traffic: listener v2/listener", "goal drops:", "median  listener", "sender rate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestCheckEnvironment covers the refusals that do not depend on the
// machine.
func TestCheckEnvironment(t *testing.T) {
	base := orchestrateOptions{senderCPU: 0, receiverCPU: 1, Common: harness.Common{RGAP: filepath.Join(t.TempDir(), "no-rgap")}}
	same := base
	same.receiverCPU = 0
	absent := base
	absent.receiverCPU = 4096
	for name, opts := range map[string]orchestrateOptions{"same CPU": same, "no such CPU": absent, "no rgap": base} {
		if err := checkEnvironment(opts); !errors.Is(err, harness.ErrEnvironment) {
			t.Errorf("%s: checkEnvironment = %v, want harness.ErrEnvironment", name, err)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
