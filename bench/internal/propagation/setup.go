package propagation

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/listenerconf"
	"github.com/rgap-project/rgap/bench/internal/listenerlog"
	"github.com/rgap-project/rgap/bench/internal/loopback"
	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// pluginPackage is the benchmark plugin's import path, built into the
// temporary plugins directory.
const pluginPackage = "github.com/rgap-project/rgap/bench/internal/propagation/benchplugin"

// pluginKind must match benchplugin's Kind.
const pluginKind = "benchjoin"

// Bounds on single steps; the whole run is bounded by -timeout as well.
const (
	startTimeout = 20 * time.Second // the listener listens and its plugin runs
	stopTimeout  = 15 * time.Second // the listener exits after SIGTERM
	portAttempts = 3                // tries to find a port nobody took meanwhile
)

// bench is what both measurements share: the binaries and a temporary
// directory, removed at the end.
type bench struct {
	rgap     string    // the rgap binary
	dir      string    // temporary directory: configurations and records
	plugins  string    // the plugins directory inside dir
	plugin   string    // the installed plugin file (symlinks resolved)
	progress io.Writer // narration of the steps (-v)
	// groups is the number of groups the listener has (0 or 1: one);
	// metrics turns its metrics endpoint on (scale).
	groups  int
	metrics bool
}

// newBench checks the rgap binary and installs the plugin: a copy of
// prebuilt, or a fresh build with goTool.
func newBench(ctx context.Context, rgap, goTool, prebuilt string, progress io.Writer) (*bench, error) {
	if err := harness.CheckBinary(rgap); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(rgap)
	if err != nil {
		return nil, fmt.Errorf("rgap binary %s: %w", rgap, err)
	}
	dir, err := os.MkdirTemp("", "rgap-bench-propagation-")
	if err != nil {
		return nil, err
	}
	b := &bench{rgap: abs, dir: dir, plugins: filepath.Join(dir, "plugins"), progress: progress}
	if err := b.install(ctx, goTool, prebuilt); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// install puts rgap-plugin-benchjoin into the plugins directory, which the
// listener refuses when others can write to it or to the file.
func (b *bench) install(ctx context.Context, goTool, prebuilt string) error {
	if err := os.Mkdir(b.plugins, 0o755); err != nil { //nolint:gosec // a plugin directory as installed for real; the listener refuses only group/other-writable ones
		return err
	}
	dst := filepath.Join(b.plugins, "rgap-plugin-"+pluginKind)
	if prebuilt != "" {
		data, err := os.ReadFile(prebuilt)
		if err != nil {
			return fmt.Errorf("%w: -plugin: %w", harness.ErrEnvironment, err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil { //nolint:gosec // a plugin executable as installed for real
			return fmt.Errorf("install plugin: %w", err)
		}
	} else {
		_, _ = fmt.Fprintf(b.progress, "building %s\n", pluginPackage)
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", dst, pluginPackage) //nolint:gosec // the go tool the user passed (-go), building this module's bench plugin
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%w: build the bench plugin (%s; run from inside the rgap module, or pass -plugin): %w\n%s",
				harness.ErrEnvironment, strings.Join(cmd.Args, " "), err, child.Indent(string(out)))
		}
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

func (b *bench) close() { _ = os.RemoveAll(b.dir) }

// specKeys are the benchjoin spec keys listenerConfig writes, in order.
var specKeys = []string{"out", "mode", "capacity", "expect", "heap"}

// listenerConfig is the configuration of one listener run: groups groups
// from benchGroup on 127.0.0.1:port, ready at once, nothing expiring
// during a run, the metrics endpoint on httpPort (0: off), and one
// benchjoin output with the given spec values.
func listenerConfig(port uint16, groups int, httpPort uint16, spec map[string]string) listenerconf.Config {
	out := listenerconf.Output{Kind: pluginKind}
	for _, k := range specKeys {
		if v, ok := spec[k]; ok {
			out.Spec = append(out.Spec, k+": "+v)
		}
	}
	c := listenerconf.Config{Listen: netip.AddrPortFrom(loopback.Addr, port), PSK: traffic.PSK, Groups: listenerconf.Groups(benchGroup, max(groups, 1)),
		Expire: benchExpire, ReceiveBuffer: receiveBuffer, Outputs: []listenerconf.Output{out}}
	if httpPort != 0 {
		c.HTTPListen = netip.AddrPortFrom(loopback.Addr, httpPort)
	}
	return c
}

// receiveBuffer is the listener's receive_buffer: ample for the fill's
// bursts.
const receiveBuffer = 8 << 20

// runningListener is a listener whose plugin has started.
type runningListener struct {
	*child.Process
	port      uint16
	httpPort  uint16 // the metrics endpoint; 0 when off
	pluginPID int    // the plugin process that announced itself running
}

// startListener writes a configuration for a free port and starts the
// listener on it, with spec for its one output, and waits until the
// listener listens and its plugin applied its first snapshot. A port taken
// by someone else in the meantime is retried with another.
func (b *bench) startListener(ctx context.Context, name string, spec map[string]string) (*runningListener, error) {
	var lastErr error
	for range portAttempts {
		port, err := loopback.FreeUDPPort()
		if err != nil {
			return nil, err
		}
		cfg := filepath.Join(b.dir, name+".yaml")
		var httpPort uint16
		if b.metrics {
			if httpPort, err = loopback.FreeTCPPort(); err != nil {
				return nil, err
			}
		}
		if err := listenerConfig(port, b.groups, httpPort, spec).Write(cfg, "propagation"); err != nil {
			return nil, err
		}
		p, err := child.Start(ctx, child.Options{Name: "listener", MergeOutput: true, Argv: []string{b.rgap, "--log-format", "json", "--log-level", "info",
			"listener", "-c", cfg, "--plugins-dir", b.plugins}})
		if err != nil {
			return nil, err
		}
		want := "127.0.0.1:" + strconv.Itoa(int(port))
		_, err = waitLog(ctx, p, startTimeout, `the "listening" log line`, func(l listenerlog.Line) bool {
			return l.Message == listenerlog.MsgListening && l.Str("address") == want
		})
		var running listenerlog.Line
		if err == nil {
			running, err = waitLog(ctx, p, startTimeout, "the plugin to start", func(l listenerlog.Line) bool { return l.Message == msgPluginRunning })
		}
		if err == nil {
			pid, _ := running.Uint("pid")
			return &runningListener{Process: p, port: port, httpPort: httpPort, pluginPID: int(pid)}, nil
		}
		p.Kill()
		lastErr = err
		if !strings.Contains(p.Stderr.Tail(20), "address already in use") {
			return nil, err
		}
		_, _ = fmt.Fprintf(b.progress, "port %d was taken; retrying\n", port)
	}
	return nil, lastErr
}

// stopListener stops the listener and reads its ingest totals, what its
// plugin host sent, and any message-size errors in its whole log.
func (b *bench) stopListener(ctx context.Context, l *runningListener) (listenerlog.Totals, streamTotals, []string, error) {
	if err := l.Stop(stopTimeout); err != nil {
		return listenerlog.Totals{}, streamTotals{}, nil, err
	}
	line, err := waitLog(ctx, l.Process, time.Second, `the "ingest totals" log line`, func(ll listenerlog.Line) bool {
		return ll.Message == listenerlog.MsgIngestTotals
	})
	if err != nil {
		return listenerlog.Totals{}, streamTotals{}, nil, err
	}
	t, err := line.Totals()
	if err != nil {
		return listenerlog.Totals{}, streamTotals{}, nil, l.Failure(err)
	}
	lines, _ := l.Stderr.Snapshot()
	return t, outputTotals(lines), messageSizeErrors(lines), nil
}
