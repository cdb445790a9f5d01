package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"

	"github.com/rgap-project/rgap/internal/handshake"
	"github.com/rgap-project/rgap/internal/peercred"
	"github.com/rgap-project/rgap/internal/pluginhost/pluginfile"
	"github.com/rgap-project/rgap/internal/pluginhost/pluginlog"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// maxMsgSize caps gRPC messages in both directions on the host. Snapshots
// are chunked far below gRPC's default 4 MiB (which the plugin side keeps),
// so this is only headroom; go-plugin's own default would be 2 GiB, which
// would let a misbehaving plugin make the host allocate without bound.
const maxMsgSize = 16 << 20

// killWait bounds each step of the forced part of a shutdown.
const killWait = 3 * time.Second

// grpcOutput is the host side of the go-plugin plugin set: it hands out the
// generated OutputService client for the negotiated connection.
type grpcOutput struct{ plugin.NetRPCUnsupportedPlugin }

func (grpcOutput) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("pluginhost: the host does not serve outputs")
}

func (grpcOutput) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return outputv1.NewOutputServiceClient(c), nil
}

// stderrLoggerName is the name go-plugin gives the logger for plugin stderr
// (it calls Logger.Named(runner.Name())).
const stderrLoggerName = "plugin-stderr"

// goPluginLogger is the logger handed to go-plugin: the host's logger for
// go-plugin's own messages, but a disabled logger for plugin stderr, which
// go-plugin skips parsing when its logger is off. Its parser panics on
// well-formed JSON of an unexpected shape; package pluginlog parses the
// lines instead (ClientConfig.Stderr receives every raw line).
type goPluginLogger struct {
	hclog.Logger
}

var offLogger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})

// Info logs at debug level: go-plugin's informational messages ("plugin
// process exited" on every stop) repeat what the host logs itself.
func (l goPluginLogger) Info(msg string, args ...any) { l.Debug(msg, args...) }

// Error logs go-plugin's "plugin process exited" at debug level: when the
// host did not end the plugin itself, its one error line about the
// failure (with the restart count and backoff) carries the exit status.
func (l goPluginLogger) Error(msg string, args ...any) {
	if msg == "plugin process exited" {
		l.Debug(msg, args...)
		return
	}
	l.Logger.Error(msg, args...)
}

// Named implements hclog.Logger.
func (l goPluginLogger) Named(name string) hclog.Logger {
	if name == stderrLoggerName {
		return offLogger
	}
	return l.Logger.Named(name)
}

// target is a resolved output kind: what to execute and how.
type target struct {
	kind    string
	builtin bool
	path    string
	argv0   string // shown by ps; defaults to path
	args    []string
	pin     []byte
}

// resolve decides which executable serves kind. It touches no files: an
// out-of-tree file is checked (and hashed, when pinned) right before exec.
func (h *Host) resolve(kind, sha string) (target, error) {
	if err := pluginfile.ValidKind(kind); err != nil {
		return target{}, err
	}
	if h.opts.Builtins[kind] {
		if sha != "" {
			return target{}, fmt.Errorf("%w: %q runs the rgap executable itself, which is already running; remove the sha256 key", ErrPinBuiltin, kind)
		}
		t := target{kind: kind, builtin: true, path: h.opts.Self, args: h.opts.SelfArgs(kind)}
		if exe, err := os.Executable(); err == nil && h.opts.Self == DefaultSelf {
			t.argv0 = exe // "rgap plugin dns" in ps, rather than "/proc/self/exe ..."
		}
		return t, nil
	}
	pin, err := pluginfile.ParsePin(sha)
	if err != nil {
		return target{}, err
	}
	return target{kind: kind, path: pluginfile.Path(h.opts.PluginsDir, kind), pin: pin}, nil
}

// instance is one running plugin process with its gRPC client.
type instance struct {
	log    hclog.Logger
	opts   *Options
	client *plugin.Client
	proc   *proc
	rpc    outputv1.OutputServiceClient
	info   *outputv1.GetInfoResponse
	// version is the plugin protocol version in use: the highest one both
	// speak (handshake.Negotiate).
	version uint32
	stderr  *pluginlog.Writer
	// release gives the host's runtime directory back once the plugin is
	// gone (see runDir).
	release func()
}

// launch starts the plugin for t, completes the go-plugin handshake and
// calls GetInfo. It returns when ctx is done, killing a plugin that is still
// starting.
func (h *Host) launch(ctx context.Context, t target, log hclog.Logger) (*instance, error) {
	runDir, err := h.runDir.acquire()
	if err != nil {
		return nil, err
	}
	plog := pluginlog.NewWriter(log.Named("plugin"))
	p := &proc{kind: t.kind, path: t.path, argv0: t.argv0, args: t.args, verify: !t.builtin, pin: t.pin}
	client := plugin.NewClient(h.clientConfig(p, runDir, plog, log))
	in := &instance{log: log, opts: &h.opts, client: client, proc: p, stderr: plog, release: sync.OnceFunc(h.runDir.release)}
	if err := in.connect(ctx, t); err != nil {
		return nil, err
	}
	if err := in.getInfo(ctx, t); err != nil {
		return nil, err
	}
	return in, nil
}

// clientConfig is go-plugin's configuration for starting p, with its
// socket in runDir and its stderr going to plog.
func (h *Host) clientConfig(p *proc, runDir string, plog *pluginlog.Writer, log hclog.Logger) *plugin.ClientConfig {
	hostEnv := pluginEnv(os.Environ(), h.opts.PassEnv, h.opts.Logger.GetLevel())
	// What the plugin writes to its os.Stdout/os.Stderr after the handshake
	// arrives over go-plugin's stdio stream; it is as untrusted as stderr.
	stdio := pluginlog.NewWriter(log.Named("stdio"))
	return &plugin.ClientConfig{
		HandshakeConfig:  handshake.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{handshake.ProtocolVersion: {handshake.PluginName: grpcOutput{}}},
		RunnerFunc: func(_ hclog.Logger, cmd *exec.Cmd, tmpDir string) (runner.Runner, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			// cmd carries only go-plugin's variables (SkipHostEnv).
			p.env = append(slices.Clip(hostEnv), cmd.Env...)
			p.tmpDir = tmpDir
			return p, nil
		},
		// go-plugin makes one socket folder per plugin; all of them go
		// into the host's runtime directory (see runDir).
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: runDir},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		// Not AutoMTLS: both ends check the other's process with the
		// kernel instead (package peercred says why).
		SkipHostEnv:  true,
		Logger:       goPluginLogger{Logger: log},
		StartTimeout: h.opts.StartTimeout,
		Stderr:       plog,
		SyncStdout:   stdio,
		SyncStderr:   stdio,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
			// The plugin process we started, or a child it handed the
			// socket to (an out-of-tree plugin may be a wrapper script).
			grpc.WithTransportCredentials(peercred.New(peercred.ExpectTree(p.Pid))),
		},
	}
}

// connect starts the process, completes the handshake and dispenses the
// OutputService client, or shuts the plugin down and fails. It gives up
// when ctx is done.
func (in *instance) connect(ctx context.Context, t target) error {
	type result struct {
		rpc outputv1.OutputServiceClient
		err error
	}
	ch := make(chan result, 1)
	go func() {
		cp, err := in.client.Client()
		if err != nil {
			ch <- result{err: err}
			return
		}
		raw, err := cp.Dispense(handshake.PluginName)
		if err != nil {
			ch <- result{err: err}
			return
		}
		rpc, ok := raw.(outputv1.OutputServiceClient)
		if !ok {
			ch <- result{err: fmt.Errorf("dispensed %T, want an OutputService client", raw)}
			return
		}
		ch <- result{rpc: rpc}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		in.proc.cancel() // a pending exec is skipped, a started process killed
		if r = <-ch; r.err == nil {
			in.rpc = r.rpc
		}
		in.shutdown(false)
		return fmt.Errorf("start of %s abandoned: %w", t, ctx.Err())
	}
	if r.err != nil {
		in.shutdown(false)
		return in.startErr(t, r.err)
	}
	in.rpc = r.rpc
	return nil
}

// getInfo asks the plugin who it is and picks the protocol version, or
// shuts the plugin down and fails.
func (in *instance) getInfo(ctx context.Context, t target) error {
	cctx, cancel := context.WithTimeout(ctx, in.opts.CallTimeout)
	info, err := in.rpc.GetInfo(cctx, &outputv1.GetInfoRequest{})
	cancel()
	if err != nil {
		in.shutdown(false)
		return in.startErr(t, fmt.Errorf("GetInfo: %w", err))
	}
	in.version = handshake.Negotiate(info.GetProtocolVersions())
	if in.version == 0 {
		in.shutdown(false)
		return fmt.Errorf("%w: %s reports protocol versions %v, this rgap speaks %v",
			ErrProtocolVersion, t, info.GetProtocolVersions(), handshake.ProtocolVersions)
	}
	if info.GetName() != t.kind {
		in.log.Warn("plugin reports another kind than it was started for", "reported", info.GetName(), "plugin", t.String())
	}
	in.info = info
	return nil
}

// startErr wraps a start failure with the file and what the plugin wrote
// to stderr.
func (in *instance) startErr(t target, err error) error {
	if errors.Is(err, pluginfile.ErrNotFound) || errors.Is(err, pluginfile.ErrUnsafe) ||
		errors.Is(err, pluginfile.ErrPinMismatch) || errors.Is(err, context.Canceled) {
		return err // already names the file and the reason; nothing ran
	}
	msg := strings.TrimSpace(strings.ReplaceAll(err.Error(), "\n", "; "))
	if s := in.stderr.Tail(); s != "" {
		msg += " (plugin stderr: " + s + ")"
	}
	return fmt.Errorf("%w: %s: %w", ErrStart, t, &flatError{msg: msg, err: err})
}

// flatError is err on one line, with the plugin's stderr appended.
type flatError struct {
	msg string
	err error
}

func (e *flatError) Error() string { return e.msg }
func (e *flatError) Unwrap() error { return e.err }

// String names the target in errors.
func (t target) String() string {
	if t.builtin {
		return fmt.Sprintf("built-in %q (%s %s)", t.kind, t.path, strings.Join(t.args, " "))
	}
	return t.path
}

// hasCapability reports whether the plugin declared c in GetInfo.
func (in *instance) hasCapability(c outputv1.Capability) bool {
	return slices.Contains(in.info.GetCapabilities(), c)
}

// shutdown ends the plugin within a bounded time. graceful first asks the
// plugin to Stop (bounded by StopTimeout). Then go-plugin's Kill runs, which
// sends a shutdown RPC without a deadline and waits for the exit: it runs in
// a goroutine and is given killWait before the process group is SIGKILLed,
// and killWait again before it is abandoned.
func (in *instance) shutdown(graceful bool) {
	defer in.release()
	if graceful && in.rpc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), in.opts.StopTimeout)
		_, err := in.rpc.Stop(ctx, &outputv1.StopRequest{})
		cancel()
		if err != nil {
			in.log.Warn("plugin did not stop cleanly", "error", err)
		}
	} else {
		in.proc.killGroup()
	}
	done := make(chan struct{})
	go func() {
		in.client.Kill()
		close(done)
	}()
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-done:
		in.stderr.Flush()
		return
	case <-t.C:
	}
	in.log.Warn("plugin did not exit; killing its process group", "pid", in.proc.Pid())
	in.proc.killGroup()
	t.Reset(killWait)
	select {
	case <-done:
	case <-t.C:
		in.log.Error("plugin cleanup did not finish; abandoning it", "pid", in.proc.Pid())
	}
}
