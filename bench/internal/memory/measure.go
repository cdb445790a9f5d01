package memory

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	promfs "github.com/prometheus/procfs"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/procfs"
	"github.com/rgap-project/rgap/internal/config"
)

// Polling of the listener's plugin processes while it starts.
const (
	startTimeout = 20 * time.Second // the listener has all its plugins up
	pollInterval = 50 * time.Millisecond
	// settle is how long the set of plugin processes must stay the same
	// to count as started: the listener first runs each plugin briefly to
	// check its settings.
	settle = time.Second
)

// listenerKind is the name of the listener in the report.
const listenerKind = "listener"

// measure runs every round and writes the report. It returns whether
// both goals were met.
func measure(ctx context.Context, o options, out io.Writer) (bool, error) {
	if err := checkEnvironment(o); err != nil {
		return false, err
	}
	// A private copy of the executable: PSS divides a file's pages among
	// every process mapping them, so other processes running the same
	// bin/rgap (tests, other benchmarks) would otherwise lower the figure.
	rgap, err := copyExecutable(o.RGAP, filepath.Join(o.Dir, "rgap"))
	if err != nil {
		return false, err
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		return false, fmt.Errorf("configuration: %w", err)
	}
	data, err := os.ReadFile(o.config)
	if err != nil {
		return false, err
	}
	kinds := make([]string, len(cfg.Outputs))
	for i, oc := range cfg.Outputs {
		kinds[i] = oc.Kind
	}
	slices.Sort(kinds)

	var command string
	rounds, err := harness.Rounds(ctx, o.Rounds, []string{listenerKind}, o.Progress, func(round int, _ string) ([]procMem, error) {
		procs, cmd, err := measureRound(ctx, round, rgap, data, kinds, o)
		command = cmd
		return procs, err
	})
	if err != nil {
		return false, err
	}
	procs := slices.Concat(rounds...)
	v := evaluate(procs)
	if err := writeReport(out, o, kinds, command, procs, v); err != nil {
		return false, fmt.Errorf("writing the report: %w", err)
	}
	return v.pass(), nil
}

// copyExecutable copies the executable src to dst and returns dst.
//
// It copies with io.Copy (copy_file_range on Linux), not one large write:
// the way the file enters the page cache decides the size of its folios,
// and the kernel maps a whole folio around each fault, so a copy made with
// one os.WriteFile measured 2.5 MiB more file-backed RSS per process (16.7
// against 14.2 MiB) for the same binary.
func copyExecutable(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("copy rgap binary: %w", err)
	}
	// Read-only: its Close cannot lose data.
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755) //nolint:gosec // an executable, in a private MkdirTemp directory
	if err != nil {
		return "", fmt.Errorf("copy rgap binary: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return "", fmt.Errorf("copy rgap binary %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("copy rgap binary %s to %s: %w", src, dst, err)
	}
	return dst, nil
}

// measureRound starts the listener on a copy of the configuration, in a
// private network namespace (inNetns), lets it idle once every plugin
// runs, and reads the memory of every process (the listener first, then
// plugins by kind). It also returns the listener's command line.
func measureRound(ctx context.Context, round int, rgap string, cfg []byte, kinds []string, o options) ([]procMem, string, error) {
	var res []procMem
	dir := filepath.Join(o.Dir, fmt.Sprintf("round-%d", round))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return res, "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "rgap.yaml"), cfg, 0o600); err != nil {
		return res, "", err
	}
	argv := []string{rgap, "listener", "-c", "rgap.yaml", "--log-format", "json"}
	p, err := child.Start(ctx, child.Options{Name: "rgap listener", Dir: dir, Argv: inNetns(argv...)})
	if err != nil {
		return res, "", err
	}
	defer func() { _ = p.Stop(child.StopTimeout) }() // measured already; this only ends it
	command := fmt.Sprintf("(cd %s && %s)", dir, strings.Join(argv, " "))

	plugins, err := waitPlugins(ctx, p, kinds)
	if err != nil {
		return res, command, err
	}
	select {
	case <-ctx.Done():
		return res, command, ctx.Err()
	case <-time.After(o.idle):
	}
	if err := p.Running(); err != nil {
		return res, command, err
	}
	if now := pluginChildren(p.PID()); !maps.Equal(now, plugins) {
		return res, command, p.Failure(fmt.Errorf("plugin processes changed while idle (%v, then %v): a plugin restarted", plugins, now))
	}

	m, err := readMemory(round, listenerKind, p.PID())
	if err != nil {
		return res, command, p.Failure(err)
	}
	res = append(res, m)
	pids := slices.Sorted(maps.Keys(plugins))
	slices.SortStableFunc(pids, func(a, b int) int { return cmp.Compare(plugins[a], plugins[b]) })
	for _, pid := range pids {
		m, err := readMemory(round, plugins[pid], pid)
		if err != nil {
			return res, command, p.Failure(fmt.Errorf("plugin %s: %w", plugins[pid], err))
		}
		res = append(res, m)
	}
	return res, command, nil
}

// waitPlugins waits until the listener has one plugin process per
// configured output and that set has not changed for settle, and returns
// it (pid to kind).
func waitPlugins(ctx context.Context, p *child.Process, kinds []string) (map[int]string, error) {
	deadline := time.Now().Add(startTimeout)
	var last map[int]string
	var since time.Time
	for {
		if err := p.Running(); err != nil {
			return nil, err
		}
		now := pluginChildren(p.PID())
		if !maps.Equal(now, last) {
			last, since = now, time.Now()
		}
		got := slices.Sorted(maps.Values(now))
		if slices.Equal(got, kinds) && time.Since(since) >= settle {
			return now, nil
		}
		if time.Now().After(deadline) {
			return nil, p.Failure(fmt.Errorf("plugin processes %v after %v, want one each of %v", got, startTimeout, kinds))
		}
		select {
		case <-ctx.Done():
			return nil, p.Failure(ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// pluginChildren returns pid's child processes that are plugins, with
// their kinds.
func pluginChildren(pid int) map[int]string {
	out := map[int]string{}
	for _, c := range procfs.Children(pid) {
		argv, err := procfs.Read(c, "cmdline", promfs.Proc.CmdLine)
		if err != nil {
			continue
		}
		if kind, ok := pluginKind(argv); ok {
			out[c] = kind
		}
	}
	return out
}
