package propagation

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/listener"
	"github.com/rgap-project/rgap/bench/internal/listenerlog"
	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// pluginPackage is the benchmark plugin's import path, built into the
// temporary plugins directory.
const pluginPackage = "github.com/rgap-project/rgap/bench/internal/propagation/benchplugin"

// pluginKind must match benchplugin's Kind.
const pluginKind = "benchjoin"

// bench is what the measurements share: the binaries and the run's
// temporary directory.
type bench struct {
	rgap     string    // the rgap binary
	dir      string    // the run's directory: configurations and records
	plugins  string    // the plugins directory inside dir
	plugin   string    // the installed plugin file (symlinks resolved)
	progress io.Writer // narration of the steps (-v)
	// groups is the number of groups the listener has (0 or 1: one);
	// metrics turns its metrics endpoint on (scale).
	groups  int
	metrics bool
}

// newBench checks the rgap binary and builds the plugin into dir's
// plugins directory.
func newBench(ctx context.Context, rgap, dir string, progress io.Writer) (*bench, error) {
	if err := harness.CheckBinary(rgap); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(rgap)
	if err != nil {
		return nil, fmt.Errorf("rgap binary %s: %w", rgap, err)
	}
	b := &bench{rgap: abs, dir: dir, plugins: filepath.Join(dir, "plugins"), progress: progress}
	return b, b.install(ctx)
}

// install builds rgap-plugin-benchjoin into the plugins directory, which
// the listener refuses when others can write to it or to the file.
func (b *bench) install(ctx context.Context) error {
	if err := os.Mkdir(b.plugins, 0o755); err != nil { //nolint:gosec // a plugin directory as installed for real; the listener refuses only group/other-writable ones
		return err
	}
	dst := filepath.Join(b.plugins, "rgap-plugin-"+pluginKind)
	_, _ = fmt.Fprintf(b.progress, "building %s\n", pluginPackage)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dst, pluginPackage) //nolint:gosec // the go command building this module's bench plugin into the run's directory
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: build the bench plugin (%s; run from inside bench/): %w\n%s",
			harness.ErrEnvironment, strings.Join(cmd.Args, " "), err, child.Indent(string(out)))
	}
	if err := os.Chmod(dst, 0o755); err != nil { //nolint:gosec // whatever the umask: a plugin executable as installed for real
		return fmt.Errorf("install plugin: %w", err)
	}
	p, err := filepath.EvalSymlinks(dst)
	if err != nil {
		return fmt.Errorf("install plugin: %w", err)
	}
	b.plugin = p
	return nil
}

// listenerConfig is the configuration of one listener run: groups groups
// from traffic.Group, nothing expiring during a run, and one benchjoin output
// with the given spec lines (key: value).
func listenerConfig(groups int, spec ...string) listener.Config {
	return listener.Config{PSK: traffic.PSK, Groups: listener.Groups(traffic.Group, max(groups, 1)),
		Expire: benchExpire, ReceiveBuffer: receiveBuffer, Outputs: []listener.Output{{Kind: pluginKind, Spec: spec}}}
}

// benchExpire is far longer than a run: nothing expires, nothing is stale.
const benchExpire = time.Hour

// warmupBase is added to the index of warm-up addresses, so that they
// never collide with measured ones (10.0.0.0/9 vs 10.128.0.0/9).
const warmupBase = 1 << 23

// maxAddresses bounds the addresses one run may announce: they must stay
// inside 10.0.0.0/9.
const maxAddresses = warmupBase

// receiveBuffer is the listener's receive_buffer: ample for the fill's
// bursts.
const receiveBuffer = 8 << 20

// startListener starts the listener with spec for its one output, and
// waits until it listens and its plugin applied its first snapshot.
func (b *bench) startListener(ctx context.Context, name string, spec ...string) (*listener.Run, error) {
	return listener.Start(ctx, listenerConfig(b.groups, spec...), listener.Options{RGAP: b.rgap, Path: filepath.Join(b.dir, name+".yaml"), Bench: "propagation",
		CPU: -1, Metrics: b.metrics, Args: []string{"--plugins-dir", b.plugins},
		Ready: msgPluginRunning})
}

// stopListener stops the listener and reads its ingest totals and any
// message-size errors in its whole log.
func (b *bench) stopListener(ctx context.Context, l *listener.Run) (listenerlog.Totals, []string, error) {
	t, err := l.Shutdown(ctx)
	if err != nil {
		return t, nil, err
	}
	lines, _ := l.Stderr.Snapshot()
	return t, messageSizeErrors(lines), nil
}
