// Package pluginhost runs the listener's outputs as plugin subprocesses over
// hashicorp/go-plugin (gRPC, rgap.output.v1) and keeps them fed with group
// state.
//
// Design decisions, and why:
//
//   - One process per output, supervised. A crash, hang or flood in one
//     output must never stop ingestion or another output, so each output has
//     its own supervisor goroutine, its own subscription to the feed and its
//     own process. go-plugin starts a client once; a restart is a new client
//     and process, after an exponential backoff (RestartMin doubling to
//     RestartMax, reset after HealthyAfter), with a fresh snapshot.
//
//   - Built-ins re-execute the listener. Built-in kinds run Options.Self
//     (default /proc/self/exe, the running image even if the file was
//     replaced by an upgrade) with Options.SelfArgs(kind); out-of-tree kinds
//     run rgap-plugin-<kind> from Options.PluginsDir after the checks of
//     package pluginfile, repeated right before every exec. A sha256 pin on a
//     built-in is refused (ErrPinBuiltin): the image it would pin is the one
//     already running.
//
//   - The plugin gets nothing it does not need. go-plugin runs with
//     SkipHostEnv; the environment is an allowlist (PATH, HOME, TMPDIR, TZ,
//     LANG, LANGUAGE, LC_*, Options.PassEnv) plus the host's PID
//     (handshake.EnvParentPID) and go-plugin's handshake variables. Group
//     information carries no key; stdin is /dev/null. Only gRPC is allowed
//     and both ends check, with the kernel (SO_PEERCRED), that the other end is
//     the process they expect: see package peercred.
//
//   - Plugins die with the host. Every plugin is forked from one goroutine
//     locked to its OS thread for the life of the process, with
//     Pdeathsig=SIGKILL (the signal follows the forking thread, not the
//     process) and its own process group, so that shutdown can kill the
//     plugin together with whatever it started. The SDK also watches its
//     parent.
//
//   - Every shutdown is bounded. go-plugin's Kill sends a shutdown RPC with
//     no deadline; a frozen plugin would hang it. Stop is called with
//     StopTimeout (15s: the command output may need about 12s to end a
//     running program cleanly), Kill runs in a goroutine with a deadline,
//     and then the process group gets SIGKILL.
//
//   - Slow plugins coalesce instead of blocking. Each stream keeps at most
//     Window unacknowledged messages; while the window is full the feed's
//     ring accumulates, and if it laps, the plugin gets a new snapshot
//     instead of the lost events. Snapshots are chunked at ChunkSize members
//     per message so that no message nears gRPC's 4 MiB limit.
//
//   - A hung plugin is replaced within its hang timeout (default 5s,
//     per output). An idle stream carries a heartbeat every second (at
//     most a third of the hang timeout) that the plugin must acknowledge,
//     so a frozen plugin is noticed whether it was busy or idle: it is
//     hung when it has acknowledged nothing for the hang timeout while a
//     message waits. Its process group gets SIGKILL and the host waits for
//     it to be gone before the replacement starts, so that the replacement
//     can bind the same sockets at once.
//
//   - Nothing accumulates in the temporary directory. go-plugin makes one
//     socket folder per plugin; they all go into one runtime directory of
//     the host (Options.RuntimeDir/rgap-<pid>), created by the first plugin
//     and removed after the last. A listener killed with SIGKILL cannot
//     remove its own, so the next host removes every rgap-<pid> directory
//     of this user whose process no longer exists.
//
//   - Reload is a diff (Host.Update). A new output list is matched to the
//     running outputs by what defines a plugin process (kind, spec, sha256
//     pin, hang timeout), one to one, never by position: a matched output
//     keeps its process and stream (no Configure, no snapshot) and only
//     takes its new index for logs and Stats; the others are stopped (in
//     parallel, bounded as at shutdown, with their totals logged) before
//     the new ones start, so that a replacement can bind what its
//     predecessor held. A plugin learns the group list only at Configure,
//     and the SDK refuses a second Configure on a running plugin; a
//     snapshot would update its mirror but not the list its output was
//     built from (the log output dumps the groups of that list). So a
//     kept plugin is restarted when the groups it knows change, and only
//     then: any change for a plugin subscribed to every group, a change of
//     one of its groups for the others. That restart is not a failure: no
//     backoff, no restart count.
//
//   - Plugin output cannot hurt the host. go-plugin's own stderr parser
//     panics on well-formed JSON of an unexpected shape, so it is switched
//     off and package pluginlog re-emits plugin log lines instead: bounded
//     line length, escaped control characters, anything malformed at debug
//     level. The last lines are kept to explain a failed start.
//
// The Feed and Subscription interfaces are what this package consumes from
// the group registry (RegistryFeed), with the registry's own member and
// event types.
package pluginhost
