package pluginhost

import (
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/pluginhost/pluginfile"
)

// DefaultPluginsDir is where out-of-tree plugins (rgap-plugin-<kind>) are
// looked up unless Options.PluginsDir says otherwise. The lead wires the
// overrides: configuration key, --plugins-dir flag, RGAP_PLUGINS_DIR.
const DefaultPluginsDir = pluginfile.DefaultDir

// DefaultSelf is the executable started for built-in kinds when
// Options.Self is empty. /proc/self/exe names the very image the listener
// is running, even after a package upgrade replaced or deleted the file on
// disk, so a built-in output always speaks exactly the host's protocol.
const DefaultSelf = "/proc/self/exe"

// Defaults for the zero fields of Options (see there for their meaning).
const (
	DefaultStartTimeout      = 10 * time.Second       // Options.StartTimeout
	DefaultCallTimeout       = 10 * time.Second       // Options.CallTimeout
	DefaultStopTimeout       = 15 * time.Second       // Options.StopTimeout
	DefaultHangTimeout       = 5 * time.Second        // Options.HangTimeout
	DefaultHeartbeatInterval = time.Second            // Options.HeartbeatInterval
	DefaultWindow            = 8                      // Options.Window
	DefaultChunkSize         = 8192                   // Options.ChunkSize
	DefaultRestartMin        = 100 * time.Millisecond // Options.RestartMin
	DefaultRestartMax        = 30 * time.Second       // Options.RestartMax
	DefaultHealthyAfter      = time.Minute            // Options.HealthyAfter
)

// Options configures a Host. Zero fields take the documented defaults.
type Options struct {
	// Logger receives the host's logs and, re-emitted with their level,
	// every plugin's logs. Default: hclog.NewNullLogger().
	Logger hclog.Logger

	// Self is the executable run for built-in kinds. Default DefaultSelf.
	Self string
	// SelfArgs returns the arguments (without argv[0]) that make Self
	// serve the built-in kind. Default: {"plugin", kind}.
	SelfArgs func(kind string) []string
	// Builtins is the set of kinds served by Self. A built-in kind shadows
	// an out-of-tree plugin file of the same name.
	Builtins map[string]bool
	// PluginsDir holds out-of-tree plugins. Default DefaultPluginsDir.
	PluginsDir string

	// PassEnv names environment variables passed to plugins in addition to
	// the fixed allowlist (PATH, HOME, TZ, TMPDIR, LANG, LANGUAGE, LC_*).
	// Plugins see nothing else of the host's environment, and never the
	// service manager's NOTIFY_SOCKET, WATCHDOG_* or LISTEN_* (see
	// hostOnly), even when named here.
	PassEnv []string

	// StartTimeout bounds the go-plugin handshake. Default 10s.
	StartTimeout time.Duration
	// CallTimeout bounds each unary call (GetInfo, ValidateConfig,
	// Configure). Default 10s.
	CallTimeout time.Duration
	// StopTimeout bounds the Stop call at shutdown; the process group is
	// then killed. It is long enough for an output to finish what it is
	// doing (the command output lets a running program end within its
	// stop grace). Default 15s.
	StopTimeout time.Duration
	// HangTimeout: a plugin that acknowledges nothing for this long while
	// a message waits for its acknowledgement is declared hung, killed
	// (SIGKILL to its process group, and waited for) and restarted.
	// Output.HangTimeout overrides it per output. Default 5s.
	HangTimeout time.Duration
	// HeartbeatInterval: an idle stream gets an empty Events message this
	// often, which the plugin must acknowledge like any other, so a hung
	// idle plugin is noticed too. Default 1s, at most a third of the
	// output's hang timeout.
	HeartbeatInterval time.Duration

	// RuntimeDir is where the host creates its runtime directory,
	// rgap-<pid> (rgap-<pid>-<random> if that is taken), which holds the plugins' socket folders while
	// any plugin runs and is removed after the last one. Directories of
	// that form left by a listener that no longer runs (killed with
	// SIGKILL) are removed at the first plugin start. Default: the
	// temporary directory ($TMPDIR or /tmp).
	RuntimeDir string

	// Window is the number of unacknowledged messages per plugin; while it
	// is full nothing is sent and the feed coalesces. Default 8.
	Window int
	// ChunkSize caps the members (snapshot) or events per message, keeping
	// every message far below gRPC's 4 MiB default limit. Default 8192.
	ChunkSize int

	// RestartMin and RestartMax bound the exponential restart backoff
	// (doubling). Defaults 100ms and 30s.
	RestartMin, RestartMax time.Duration
	// HealthyAfter: a plugin that ran this long resets the backoff and the
	// crash-loop count. Default 1m.
	HealthyAfter time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Self == "" {
		o.Self = DefaultSelf
	}
	if o.SelfArgs == nil {
		o.SelfArgs = func(kind string) []string { return []string{"plugin", kind} }
	}
	if o.PluginsDir == "" {
		o.PluginsDir = DefaultPluginsDir
	}
	if o.RuntimeDir == "" {
		o.RuntimeDir = os.TempDir()
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&o.StartTimeout, DefaultStartTimeout)
	setDur(&o.CallTimeout, DefaultCallTimeout)
	setDur(&o.StopTimeout, DefaultStopTimeout)
	setDur(&o.HangTimeout, DefaultHangTimeout)
	setDur(&o.HeartbeatInterval, DefaultHeartbeatInterval)
	setDur(&o.RestartMin, DefaultRestartMin)
	setDur(&o.RestartMax, DefaultRestartMax)
	if o.RestartMax < o.RestartMin {
		o.RestartMax = o.RestartMin
	}
	setDur(&o.HealthyAfter, DefaultHealthyAfter)
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	return o
}

// streamTimes returns the hang timeout and heartbeat interval of output o:
// its own hang timeout if set, else the host's, and a heartbeat at most a
// third of it, so that an idle plugin always has one to acknowledge well
// before it would be declared hung.
func (o *Options) streamTimes(out *Output) (hang, heartbeat time.Duration) {
	hang = o.HangTimeout
	if out.HangTimeout > 0 {
		hang = out.HangTimeout
	}
	return hang, min(o.HeartbeatInterval, hang/3)
}
