package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rgap-project/rgap/internal/handshake"
	"github.com/rgap-project/rgap/internal/logdur"
	"github.com/rgap-project/rgap/internal/peercred"
)

const (
	// parentCheckInterval is how often the plugin looks for its parent.
	parentCheckInterval = 500 * time.Millisecond
	// exitGrace bounds how long Run may take to return when the plugin
	// exits without a Stop call (host gone, SIGTERM, go-plugin shutdown).
	exitGrace = 5 * time.Second
)

// Serve runs the plugin; it is the whole main of a plugin binary and never
// returns. It speaks go-plugin's gRPC protocol on a socket whose address it
// prints on stdout for the host, and logs JSON lines on stderr, which the
// host re-emits in its own log. It exits:
//   - 1 at once when started by hand (the host's handshake variables are
//     missing), with a one-line explanation on stderr;
//   - 1 when Output.Run returns an error or panics, so the host restarts it;
//   - when its parent process is gone (checked every 500ms);
//   - 0 after the host shuts it down, or on SIGTERM, once Run returned
//     (waiting at most 5s).
func Serve(p Plugin) {
	os.Exit(serve(p, os.Stderr))
}

// serve is Serve returning the exit status. A message it cannot write to
// stderr has nowhere else to go; the exit status still tells.
func serve(p Plugin, stderr io.Writer) int {
	prog := filepath.Base(os.Args[0])
	if p.Name == "" || p.New == nil {
		_, _ = fmt.Fprintf(stderr, "%s: broken plugin: sdk.Plugin needs a Name and a New function\n", prog)
		return 1
	}
	hs := handshake.Handshake
	if os.Getenv(hs.MagicCookieKey) != hs.MagicCookieValue {
		_, _ = fmt.Fprintf(stderr, "%s: this is the rgap output plugin %q (version %s); `rgap listener` starts it for each output of kind %q in its configuration. It cannot be run by hand.\n",
			prog, p.Name, orUnknown(p.Version), p.Name)
		return 1
	}

	setProcs(p.AllCPUs)

	// The logger keeps the stderr the process started with: go-plugin
	// later points os.Stderr at a pipe of its own, but the host parses the
	// JSON lines (@level, @message, @timestamp) on the original one.
	log := logdur.Wrap(hclog.New(&hclog.LoggerOptions{
		Output:     stderr,
		JSONFormat: true,
		Level:      logLevel(os.Getenv(handshake.EnvLogLevel)),
	}))

	svc := newService(p, log, func(err error) {
		log.Error("plugin exits so that the host restarts it", "error", err)
		os.Exit(1)
	})
	shutdown := func(why string) {
		ctx, cancel := context.WithTimeout(context.Background(), exitGrace)
		defer cancel()
		if err := svc.shutdown(ctx); err != nil {
			log.Warn("output did not stop cleanly", "reason", why, "error", err)
		}
	}

	go watchParent(log, parentPID(os.Getenv(handshake.EnvParentPID)), func() {
		shutdown("parent gone")
		os.Exit(1)
	})

	// go-plugin ignores SIGINT (the host's terminal sends it to the whole
	// process group); SIGTERM is a request to stop.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		<-sigs
		log.Info("SIGTERM received, stopping")
		shutdown("SIGTERM")
		os.Exit(0)
	}()

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		VersionedPlugins: map[int]plugin.PluginSet{
			handshake.ProtocolVersion: {handshake.PluginName: &handshake.ServerPlugin{Service: svc}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			// A host that asked for go-plugin's mTLS (PLUGIN_CLIENT_CERT)
			// gets it; otherwise only the listener that started this
			// plugin may talk to it (see internal/peercred).
			if os.Getenv(envClientCert) == "" {
				host := parentPID(os.Getenv(handshake.EnvParentPID))
				opts = append(opts, grpc.Creds(peercred.New(peercred.Expect(func() int { return host }))))
			}
			return plugin.DefaultGRPCServer(opts)
		},
		Logger: log,
	})
	// The host shut the plugin down (go-plugin's Kill). Normally Stop came
	// first and this returns at once.
	shutdown("host shutdown")
	return 0
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// logLevel maps EnvLogLevel to an hclog level, defaulting to info.
func logLevel(s string) hclog.Level {
	if l := hclog.LevelFromString(s); l != hclog.NoLevel {
		return l
	}
	return hclog.Info
}

// envClientCert is where go-plugin hands a plugin the host's certificate
// when the host uses AutoMTLS.
const envClientCert = "PLUGIN_CLIENT_CERT"

// parentPID reads EnvParentPID; 0 when unset or invalid.
func parentPID(s string) int {
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// watchParent calls gone once the process that started the plugin is gone:
// the plugin was re-parented (its parent PID changed) or the PID the host
// passed no longer exists. The host also asks the kernel for a parent-death
// signal; this catches the cases where that does not fire.
func watchParent(log hclog.Logger, hostPID int, gone func()) {
	start := os.Getppid()
	t := time.NewTicker(parentCheckInterval)
	defer t.Stop()
	for range t.C {
		now := os.Getppid()
		if now != start || (hostPID > 0 && !processExists(hostPID)) {
			log.Warn("the rgap listener that started this plugin is gone; exiting",
				"parent_pid", start, "host_pid", hostPID, "current_parent_pid", now)
			gone()
			return
		}
	}
}

// processExists reports whether pid names a live (or zombie) process.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// setProcs applies Plugin.AllCPUs. The rgap host starts plugins with
// GOMAXPROCS=1 and marks it as its default (handshake.EnvHostGOMAXPROCS):
// a plugin that wants every CPU raises it back to Go's default. Without the
// marker, a GOMAXPROCS in the environment is an operator's choice and
// stays; with none at all (another host), a plugin without AllCPUs lowers
// it to 1 itself.
func setProcs(allCPUs bool) {
	hostDefault := os.Getenv(handshake.EnvHostGOMAXPROCS) != ""
	switch {
	case allCPUs && hostDefault:
		// Go's own default, which honours the CPU affinity mask and
		// a cgroup CPU limit (runtime.NumCPU ignores the limit).
		runtime.SetDefaultGOMAXPROCS()
	case !allCPUs && os.Getenv("GOMAXPROCS") == "":
		runtime.GOMAXPROCS(1)
	}
}
