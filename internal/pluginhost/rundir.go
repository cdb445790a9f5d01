package pluginhost

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// runDirPrefix starts the name of every host's runtime directory:
// rgap-<pid>, or rgap-<pid>-<random> when that name is taken (a second host
// in one process, or a directory left by an earlier process with the same
// PID). The PID is what lets a later host tell a directory left by a killed
// listener from one a running listener still uses.
const runDirPrefix = "rgap-"

// maxRunDirLen bounds the runtime directory's path: go-plugin puts each
// socket at <dir>/plugin-dir<10 digits>/plugin<10 digits>, and a Unix
// socket path has at most 107 bytes on Linux.
const maxRunDirLen = 107 - len("/plugin-dir0123456789/plugin0123456789")

// runDir is the host's one directory for go-plugin's per-plugin socket
// folders (go-plugin would otherwise scatter plugin-dir* folders over the
// temporary directory, and leave one behind for every plugin a killed
// listener ran). It exists while any plugin of the host runs: the first
// plugin creates it, the last one to go removes it. Before creating it for
// the first time the host removes what killed hosts left in the same base
// directory.
type runDir struct {
	base string
	log  hclog.Logger

	mu    sync.Mutex
	path  string
	users int
	swept bool
}

// acquire returns the directory, creating it if no plugin holds it. Every
// successful acquire is paired with one release.
func (r *runDir) acquire() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users > 0 {
		r.users++
		return r.path, nil
	}
	if !r.swept {
		r.swept = true
		sweepRunDirs(r.base, r.log)
	}
	dir, err := makeRunDir(r.base)
	if err != nil {
		return "", err
	}
	r.path, r.users = dir, 1
	return dir, nil
}

// makeRunDir creates a new runtime directory (mode 0700) in base.
func makeRunDir(base string) (string, error) {
	if !filepath.IsAbs(base) {
		abs, err := filepath.Abs(base)
		if err != nil {
			return "", fmt.Errorf("plugins' runtime directory base %s: %w", base, err)
		}
		base = abs
	}
	name := runDirPrefix + strconv.Itoa(os.Getpid())
	tooLong := func(dir string) error {
		return fmt.Errorf("create the plugins' runtime directory %s: the path has %d bytes, too long for the plugins' Unix sockets below it (at most %d); set TMPDIR to a shorter directory",
			dir, len(dir), maxRunDirLen)
	}
	dir := filepath.Join(base, name)
	if len(dir) > maxRunDirLen {
		return "", tooLong(dir)
	}
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		dir, err = os.MkdirTemp(base, name+"-")
	}
	if err != nil {
		return "", fmt.Errorf("create the plugins' runtime directory in %s: %w", base, err)
	}
	if len(dir) > maxRunDirLen {
		_ = os.Remove(dir)
		return "", tooLong(dir)
	}
	return dir, nil
}

// release drops one user; the last one removes the directory with
// whatever sockets are left in it.
func (r *runDir) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users == 0 {
		return
	}
	r.users--
	if r.users > 0 {
		return
	}
	if err := os.RemoveAll(r.path); err != nil {
		r.log.Warn("could not remove the plugins' runtime directory", "dir", r.path, "error", err)
	}
	r.path = ""
}

// sweepRunDirs removes the runtime directories in base that were left by
// hosts that are gone (a listener killed with SIGKILL cannot clean up). A
// directory is removed only when it is a real directory (not a symbolic
// link) named rgap-<pid> or rgap-<pid>-*, owned by this user, and no process <pid>
// exists. A directory of a running listener is never touched; one whose
// PID was reused by another process stays until that process ends.
// (Listeners in other PID namespaces must not share the directory.)
func sweepRunDirs(base string, log hclog.Logger) {
	ents, err := os.ReadDir(base)
	if err != nil {
		log.Debug("cannot look for stale runtime directories", "dir", base, "error", err)
		return
	}
	uid := os.Geteuid()
	self := os.Getpid()
	for _, e := range ents {
		pid, ok := runDirPID(e.Name())
		if !ok || pid == self || !e.IsDir() { // IsDir is false for a symlink
			continue
		}
		path := filepath.Join(base, e.Name())
		fi, err := os.Lstat(path)
		if err != nil || !fi.IsDir() {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid {
			continue
		}
		if !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // alive (or not ours to signal): in use
		}
		if err := os.RemoveAll(path); err != nil {
			log.Warn("could not remove the runtime directory of a listener that is gone", "dir", path, "error", err)
			continue
		}
		log.Info("removed the runtime directory of a listener that is gone", "dir", path, "pid", pid)
	}
}

// runDirPID parses the PID out of a runtime directory's name.
func runDirPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, runDirPrefix)
	if !ok {
		return 0, false
	}
	digits, suffix, hasSuffix := strings.Cut(rest, "-")
	if (hasSuffix && suffix == "") || digits == "" || digits[0] == '0' {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}
