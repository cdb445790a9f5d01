// Package atomicfile replaces a file so that a reader sees either the old
// content or the new, never a mix or an empty file, and so that the new
// content survives a crash once Replace has returned: it is written to a
// temporary file in the same directory, flushed, renamed over the
// destination, and the directory is flushed last.
//
// The hostsfile output and the listener's state file both write this way.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Replace atomically replaces path with a file holding content, with
// permission bits mode (the umask does not apply) and, if owner is not nil
// and differs from the process's own, owner's uid and gid (best effort: only
// a privileged process can give a file away). path must not be a symbolic
// link the caller wants kept: the link itself is replaced.
//
// On failure the temporary file is removed and the destination is as it
// was, except when only the final directory flush fails: the new content is
// then in place, and the error says so.
func Replace(path string, content []byte, mode fs.FileMode, owner *syscall.Stat_t) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".rgap-*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close() // it may be closed already; its content is discarded
			if rerr := os.Remove(tmpName); rerr != nil {
				err = errors.Join(err, fmt.Errorf("temporary file left behind: %w", rerr))
			}
		}
	}()
	if _, err := tmp.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	// CreateTemp uses 0600 and the umask would spoil a mode passed at
	// creation, so the mode is set explicitly.
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmpName, err)
	}
	if owner != nil && (int(owner.Uid) != os.Geteuid() || int(owner.Gid) != os.Getegid()) {
		_ = tmp.Chown(int(owner.Uid), int(owner.Gid)) // best effort, see above
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmpName, path, err)
	}
	if err := syncDir(dir); err != nil {
		// The new content is in place; only its durability across a crash
		// is in doubt. Report it all the same.
		return fmt.Errorf("%s replaced, but: %w", path, err)
	}
	return nil
}

// syncDir flushes a directory, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }() // opened read-only; only its Sync matters
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
