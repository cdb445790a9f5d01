package memory

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

// memory is what /proc/PID/smaps_rollup says about one process, in bytes.
type memory struct {
	// RSS is every resident page the process maps; Anon, the anonymous
	// ones among them (heap, stacks, bss); the rest is file-backed.
	RSS, Anon uint64
	// PSS is RSS with each page divided by the number of processes
	// mapping it; PSSAnon and PSSFile split it like RSS.
	PSS, PSSAnon, PSSFile uint64
}

// File is the file-backed part of RSS.
func (m memory) File() uint64 { return m.RSS - min(m.Anon, m.RSS) }

func (m memory) add(n memory) memory {
	return memory{RSS: m.RSS + n.RSS, Anon: m.Anon + n.Anon, PSS: m.PSS + n.PSS, PSSAnon: m.PSSAnon + n.PSSAnon, PSSFile: m.PSSFile + n.PSSFile}
}

// parseRollup reads the "Key:   N kB" lines of smaps_rollup. Rss, Pss and
// Anonymous are required; Pss_Anon and Pss_File (Linux 5.9
// and later) are read when present.
func parseRollup(b []byte) (memory, error) {
	var m memory
	fields := map[string]*uint64{"Rss": &m.RSS, "Pss": &m.PSS, "Anonymous": &m.Anon, "Pss_Anon": &m.PSSAnon, "Pss_File": &m.PSSFile}
	seen := map[string]bool{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		key, n, ok, err := kbLine(line)
		if err != nil {
			return m, fmt.Errorf("%w: line %d: %w", procfs.ErrFormat, i+1, err)
		}
		if p, want := fields[key]; ok && want {
			*p = n
			seen[key] = true
		}
	}
	for _, k := range []string{"Rss", "Pss", "Anonymous"} {
		if !seen[k] {
			return m, fmt.Errorf("%w: no %s line", procfs.ErrFormat, k)
		}
	}
	return m, nil
}

// kbLine parses "Key:   123 kB" into the key and bytes; ok is false for
// lines of another shape (the rollup header, VmFlags, empty lines).
func kbLine(line []byte) (key string, n uint64, ok bool, err error) {
	k, rest, found := bytes.Cut(line, []byte(":"))
	if !found || bytes.ContainsAny(k, " \t") {
		return "", 0, false, nil
	}
	f := bytes.Fields(rest)
	if len(f) != 2 || string(f[1]) != "kB" {
		return "", 0, false, nil
	}
	v, err := strconv.ParseUint(string(f[0]), 10, 64)
	if err != nil || v > 1<<50 {
		return string(k), 0, false, fmt.Errorf("%s: %q is not a size in kB", k, f[0])
	}
	return string(k), v << 10, true, nil
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
