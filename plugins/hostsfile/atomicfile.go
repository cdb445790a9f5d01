package hostsfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rgap-project/rgap/internal/atomicfile"
)

// defaultMode is the permission of a hosts file this output creates.
const defaultMode fs.FileMode = 0o644

// ErrNotRegular is returned when the destination exists but is not a regular
// file (a directory, a device, a socket): it is never replaced.
var ErrNotRegular = errors.New("not a regular file")

// writeIfChanged makes the file at path hold content, unless it already
// does. It reports whether it wrote.
//
// The comparison is made with what is on disk, not with what was last
// written: that covers a file that already held the right content when the
// output started, and restores a file someone edited or deleted.
//
// The write is atomic: the content goes to a temporary file in the same
// directory, which is flushed, given the existing file's mode (defaultMode
// for a new file) and, when permitted, its owner, then renamed over the
// destination; the directory is flushed last so the rename survives a crash.
// A reader sees the old file or the new one, never a mix or an empty file.
//
// A symbolic link at path is followed to the end of its chain and the final
// target is written, so a link like /etc/hosts -> /run/hosts keeps working,
// also before its target exists: the target is then created, atomically, in
// its own directory, and the link is kept.
func writeIfChanged(path string, content []byte) (bool, error) {
	target, err := linkTarget(path)
	if err != nil {
		return false, err
	}
	wrote, err := writeFile(target, content)
	if err != nil && target != path {
		return false, fmt.Errorf("%s (a symbolic link to %s): %w", path, target, err)
	}
	return wrote, err
}

// maxLinks bounds a chain of symbolic links, as Linux does (MAXSYMLINKS).
const maxLinks = 40

// linkTarget follows path while it is a symbolic link and returns the file
// the chain ends at, which need not exist. A relative link is relative to
// the directory that holds it. The path is not cleaned lexically, so that
// ".." after a linked directory means what the kernel makes of it.
func linkTarget(path string) (string, error) {
	for range maxLinks {
		info, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && info.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		if err != nil {
			return "", fmt.Errorf("stat %s: %w", path, err)
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", fmt.Errorf("read symbolic link %s: %w", path, err)
		}
		if !filepath.IsAbs(dest) {
			dir, _ := filepath.Split(path)
			dest = dir + dest
		}
		path = dest
	}
	return "", fmt.Errorf("%s: following symbolic links: %w", path, syscall.ELOOP)
}

// writeFile is writeIfChanged for a path that is not a symbolic link.
func writeFile(target string, content []byte) (bool, error) {
	mode := defaultMode
	var owner *syscall.Stat_t
	info, err := os.Stat(target)
	switch {
	case err == nil:
		if info.IsDir() {
			return false, fmt.Errorf("%s: %w (%w)", target, syscall.EISDIR, ErrNotRegular)
		}
		if !info.Mode().IsRegular() {
			return false, fmt.Errorf("%s: %w (%s)", target, ErrNotRegular, info.Mode().Type())
		}
		if same, err := sameContent(target, info, content); err != nil {
			return false, err
		} else if same {
			return false, nil
		}
		mode = info.Mode().Perm()
		owner, _ = info.Sys().(*syscall.Stat_t)
	case errors.Is(err, fs.ErrNotExist):
	default:
		return false, fmt.Errorf("stat %s: %w", target, err)
	}

	if err := atomicfile.Replace(target, content, mode, owner); err != nil {
		return false, err
	}
	return true, nil
}

// sameContent reports whether the regular file at path, described by info,
// holds exactly content. Only a file of the right size is read, and never
// more than len(content)+1 bytes of it.
func sameContent(path string, info fs.FileInfo, content []byte) (bool, error) {
	if info.Size() != int64(len(content)) {
		return false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // opened read-only
	got, err := io.ReadAll(io.LimitReader(f, int64(len(content))+1))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return bytes.Equal(got, content), nil
}
