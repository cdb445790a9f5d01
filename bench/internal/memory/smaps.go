package memory

import (
	"path/filepath"
	"strings"

	promfs "github.com/prometheus/procfs"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

// procMem is the memory of one measured process in one round, from
// /proc/PID/smaps_rollup, in bytes.
type procMem struct {
	Round int
	Kind  string // listenerKind, the output kind, or totalKind
	PID   int
	// RSS is every resident page the process maps; Anon, the anonymous
	// ones among them (heap, stacks, bss); the rest is file-backed. PSS
	// is RSS with each page divided by the number of processes mapping
	// it.
	RSS, Anon, PSS uint64
}

// readMemory reads /proc/PID/smaps_rollup of the process pid, a kind.
func readMemory(round int, kind string, pid int) (procMem, error) {
	m, err := procfs.Read(pid, "smaps_rollup", promfs.Proc.ProcSMapsRollup)
	return procMem{Round: round, Kind: kind, PID: pid, RSS: m.Rss, Anon: m.Anonymous, PSS: m.Pss}, err
}

// pluginKind returns the output kind of a plugin process from its command
// line: a built-in runs as "EXE plugin KIND", an out-of-tree plugin as
// ".../rgap-plugin-KIND". ok is false for anything else.
func pluginKind(argv []string) (kind string, ok bool) {
	if len(argv) >= 3 && argv[1] == "plugin" && argv[2] != "" {
		return argv[2], true
	}
	if len(argv) >= 1 {
		if k, found := strings.CutPrefix(filepath.Base(argv[0]), "rgap-plugin-"); found && k != "" {
			return k, true
		}
	}
	return "", false
}
