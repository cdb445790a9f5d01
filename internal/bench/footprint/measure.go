package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/rgap-project/rgap/internal/bench/child"
	"github.com/rgap-project/rgap/internal/bench/procfs"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/handshake"
)

// Polling of the listener's plugin processes while it starts.
const (
	pollInterval = 50 * time.Millisecond
	// settle is how long the set of plugin processes must stay the same
	// to count as started: the listener first runs each plugin briefly to
	// check its settings.
	settle = time.Second
)

// listenerKind is the name of the listener in the report.
const listenerKind = "listener"

// procMem is the memory of one measured process.
type procMem struct {
	Kind    string // listenerKind or the output kind
	PID     int
	Threads int
	memory
}

// roundResult is one listener start.
type roundResult struct {
	Round int
	Procs []procMem // the listener first, then plugins by kind
	// PluginEnv tells, for each -env key, whether the plugins had it.
	PluginEnv map[string]bool
	// Detail breaks the listener's and one plugin's memory down by
	// mapping class (-detail, last round only).
	Detail map[string]map[string]memory
	// DetailPlugin is the kind of the plugin in Detail.
	DetailPlugin string
}

// measureInNetns runs every round inside the private network namespace
// this process was started in, and writes the report. It returns whether
// both goals were met.
func measureInNetns(ctx context.Context, o options, out io.Writer) (bool, error) {
	if err := checkInputs(o); err != nil {
		return false, err
	}
	if err := setupLoopback(ctx); err != nil {
		return false, err
	}
	// A private copy of the executable: PSS divides a file's pages among
	// every process mapping them, so other processes running the same
	// bin/rgap (tests, other benchmarks) would otherwise lower the figure.
	bin, err := os.MkdirTemp("", "rgap-bench-memory-bin-")
	if err != nil {
		return false, err
	}
	defer func() { _ = os.RemoveAll(bin) }()
	rgap, err := copyExecutable(o.rgap, filepath.Join(bin, "rgap"))
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

	setup := reportSetup{rgap: o.rgap, config: o.config, idle: o.idle, window: o.window, env: o.env, kinds: kinds}
	var rounds []roundResult
	for r := 1; r <= o.rounds; r++ {
		res, command, err := measureRound(ctx, r, rgap, data, kinds, o, o.detail && r == o.rounds)
		if err != nil {
			return false, fmt.Errorf("round %d: %w", r, err)
		}
		setup.command = command
		rounds = append(rounds, res)
	}
	var alone []procMem
	if o.alone {
		if alone, err = measureAlone(ctx, rgap, kinds, o); err != nil {
			return false, fmt.Errorf("plugins alone: %w", err)
		}
	}
	v := evaluate(rounds)
	if err := writeReport(out, setup, rounds, alone, v); err != nil {
		return false, fmt.Errorf("writing the report: %w", err)
	}
	return v.pass(), nil
}

// copyExecutable copies the executable src to dst and returns dst.
func copyExecutable(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("copy rgap binary: %w", err)
	}
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

// measureRound starts the listener on a copy of the configuration, lets it
// idle once every plugin runs, and reads the memory of every process. It
// also returns the listener's command line.
func measureRound(ctx context.Context, round int, rgap string, cfg []byte, kinds []string, o options, detail bool) (roundResult, string, error) {
	res := roundResult{Round: round}
	dir, err := os.MkdirTemp("", "rgap-bench-memory-")
	if err != nil {
		return res, "", err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := os.WriteFile(filepath.Join(dir, "rgap.yaml"), cfg, 0o600); err != nil {
		return res, "", err
	}
	argv := []string{rgap, "listener", "-c", "rgap.yaml", "--log-format", "json"}
	p, err := child.Start(ctx, child.Options{Name: "rgap listener", Dir: dir, Env: o.env, Argv: argv})
	if err != nil {
		return res, "", err
	}
	defer func() { _ = p.Stop(stopTimeout) }() // measured already; this only ends it
	command := fmt.Sprintf("(cd %s && %s)", dir, joinArgs(o.env, argv))

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
	all := append([]int{p.PID()}, slices.Collect(maps.Keys(plugins))...)
	for _, pid := range all {
		if err := clearRefs(pid); err != nil {
			return res, command, p.Failure(err)
		}
	}
	select {
	case <-ctx.Done():
		return res, command, ctx.Err()
	case <-time.After(o.window):
	}
	if err := p.Running(); err != nil {
		return res, command, err
	}
	if now := pluginChildren(p.PID()); !maps.Equal(now, plugins) {
		return res, command, p.Failure(fmt.Errorf("plugin processes changed in the working-set window (%v, then %v): a plugin restarted", plugins, now))
	}

	m, err := readRollup(p.PID())
	if err != nil {
		return res, command, p.Failure(err)
	}
	res.Procs = append(res.Procs, procMem{Kind: listenerKind, PID: p.PID(), Threads: procfs.Threads(p.PID()), memory: m})
	pids := slices.Sorted(maps.Keys(plugins))
	slices.SortStableFunc(pids, func(a, b int) int { return cmp.Compare(plugins[a], plugins[b]) })
	for _, pid := range pids {
		m, err := readRollup(pid)
		if err != nil {
			return res, command, p.Failure(fmt.Errorf("plugin %s: %w", plugins[pid], err))
		}
		res.Procs = append(res.Procs, procMem{Kind: plugins[pid], PID: pid, Threads: procfs.Threads(pid), memory: m})
	}
	if len(o.env) > 0 && len(pids) > 0 {
		if res.PluginEnv, err = environHas(pids[0], o.env.keys()); err != nil {
			return res, command, err
		}
	}
	if detail {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID()))
		if err != nil {
			return res, command, err
		}
		probe := pids[0]
		for _, pid := range pids {
			if plugins[pid] == "dns" {
				probe = pid
			}
		}
		res.Detail = map[string]map[string]memory{}
		for _, d := range []struct {
			name string
			pid  int
		}{{listenerKind, p.PID()}, {plugins[probe], probe}} {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", d.pid))
			if err != nil {
				return res, command, err
			}
			rs, err := parseSmaps(b)
			if err != nil {
				return res, command, fmt.Errorf("/proc/%d/smaps: %w", d.pid, err)
			}
			res.Detail[d.name] = breakdown(rs, exe)
		}
		res.DetailPlugin = plugins[probe]
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
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
		if err != nil {
			continue
		}
		if kind, ok := pluginKind(procfs.SplitNUL(b)); ok {
			out[c] = kind
		}
	}
	return out
}

// readRollup reads /proc/PID/smaps_rollup.
// clearRefs resets the referenced bits of every page pid maps, so that
// smaps' Referenced counts what it touches from now on.
func clearRefs(pid int) error {
	path := fmt.Sprintf("/proc/%d/clear_refs", pid)
	if err := os.WriteFile(path, []byte("1"), 0); err != nil {
		return fmt.Errorf("reset referenced bits: %w", err)
	}
	return nil
}

func readRollup(pid int) (memory, error) {
	path := fmt.Sprintf("/proc/%d/smaps_rollup", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return memory{}, err
	}
	m, err := parseRollup(b)
	if err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// measureAlone starts one plugin process of each kind by itself, as the
// listener would (the go-plugin handshake variables, this process as the
// parent to watch) but with the -env variables too, waits for their
// handshakes, lets them idle and reads their memory.
func measureAlone(ctx context.Context, rgap string, kinds []string, o options) ([]procMem, error) {
	env := append([]string{
		handshake.Handshake.MagicCookieKey + "=" + handshake.Handshake.MagicCookieValue,
		handshake.EnvParentPID + "=" + strconv.Itoa(os.Getpid()),
	}, o.env...)
	dir, err := os.MkdirTemp("", "rgap-bench-memory-alone-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	uniq := slices.Compact(slices.Clone(kinds))
	var ps []*child.Process
	defer func() {
		for _, p := range ps {
			_ = p.Stop(stopTimeout)
		}
	}()
	for _, kind := range uniq {
		p, err := child.Start(ctx, child.Options{Name: "plugin " + kind + " alone", Dir: dir, Env: env, Argv: []string{rgap, "plugin", kind}})
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		// The go-plugin handshake is the first line on standard output.
		if _, err := p.WaitLine(ctx, p.Stdout, startTimeout, "its handshake", func(string) bool { return true }); err != nil {
			return nil, err
		}
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(o.idle):
	}
	var out []procMem
	for i, p := range ps {
		if err := p.Running(); err != nil {
			return nil, err
		}
		m, err := readRollup(p.PID())
		if err != nil {
			return nil, p.Failure(err)
		}
		out = append(out, procMem{Kind: uniq[i], PID: p.PID(), Threads: procfs.Threads(p.PID()), memory: m})
	}
	return out, nil
}
