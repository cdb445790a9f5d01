// Package pluginfile decides whether an out-of-tree plugin executable may be
// run: where it lives, whether its file is safe to execute, and whether it is
// the exact file the operator pinned.
//
// Why these checks: go-plugin's magic cookie only stops a plugin from being
// started by hand by mistake; it authenticates nothing. The listener runs
// plugins with its own privileges (often root), so anyone who can rewrite a
// plugin file can run code as the listener. We therefore refuse a file that
// someone other than its owner could modify (group- or world-writable file,
// or a directory others can write to without the sticky bit), a file owned by
// another unprivileged user, and anything that is not a regular executable
// file. An operator who wants more than "the file is not writable by others"
// pins the file's SHA-256 per output; Verify hashes the file right before
// every start (including restarts), so a file replaced after startup is
// refused instead of run.
//
// Symbolic links are followed and the checks apply to the final target, which
// is also the path the caller must execute, so that what was checked and what
// runs are the same file. Hashing reads from the same open descriptor that was
// inspected. A residual window between the hash and execve(2) remains; closing
// it would need fexecve, which breaks "#!" scripts. Anyone able to use that
// window can already write to the plugin's directory, which the directory
// check refuses.
package pluginfile

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// DefaultDir is where out-of-tree plugins are looked up when the operator
// does not choose another directory.
const DefaultDir = "/usr/lib/rgap/plugins"

// Prefix starts the file name of every out-of-tree plugin executable:
// the plugin for output kind "k" is the file Prefix+"k".
const Prefix = "rgap-plugin-"

var (
	// ErrBadKind: the output kind cannot name a plugin file (empty, or
	// characters other than lowercase letters, digits, '-' and '_').
	ErrBadKind = errors.New("invalid output kind")
	// ErrNotFound: no plugin file exists for the kind.
	ErrNotFound = errors.New("plugin not found")
	// ErrUnsafe: the file exists but is refused (writable by others, wrong
	// owner, not a regular file, not executable).
	ErrUnsafe = errors.New("plugin file refused")
	// ErrBadPin: the configured sha256 pin is not 64 hexadecimal digits.
	ErrBadPin = errors.New("invalid sha256 pin")
	// ErrPinMismatch: the file's SHA-256 differs from the pin.
	ErrPinMismatch = errors.New("sha256 mismatch")
)

// ValidKind reports whether kind may name a plugin file: 1 to 64 characters
// from [a-z0-9_-], starting with a letter or digit. This keeps path
// separators and ".." out of file names built from configuration.
func ValidKind(kind string) error {
	if kind == "" || len(kind) > 64 {
		return fmt.Errorf("%w %q: want 1 to 64 characters", ErrBadKind, kind)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return fmt.Errorf("%w %q: character %q at %d (want a-z, 0-9, '-' or '_')", ErrBadKind, kind, c, i)
		}
	}
	return nil
}

// Path is the file that implements kind in dir. It does not check the kind;
// call ValidKind first.
func Path(dir, kind string) string { return filepath.Join(dir, Prefix+kind) }

// ParsePin decodes a pin written as 64 hexadecimal digits (either case).
// The empty string means "not pinned" and returns nil, nil.
func ParsePin(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) != 2*sha256.Size {
		return nil, fmt.Errorf("%w: %d characters, want %d hexadecimal digits", ErrBadPin, len(s), 2*sha256.Size)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPin, err)
	}
	return b, nil
}

// Verify checks the plugin file at path and, when pin is not nil, that its
// SHA-256 equals pin. It returns the resolved path (symbolic links followed)
// that the caller must execute. Every refusal wraps ErrNotFound, ErrUnsafe or
// ErrPinMismatch and names the file and the reason.
func Verify(path string, pin []byte) (string, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s: %w", ErrNotFound, path, err)
		}
		return "", fmt.Errorf("%w: %s: %w", ErrUnsafe, path, err)
	}
	resolved, err = filepath.Abs(resolved)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrUnsafe, path, err)
	}
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer; it is refused below as not a regular file.
	f, err := os.OpenFile(resolved, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrUnsafe, resolved, err)
	}
	defer func() { _ = f.Close() }() // opened read-only, to check and hash it
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrUnsafe, resolved, err)
	}
	if err := checkFile(resolved, fi); err != nil {
		return "", err
	}
	dir := filepath.Dir(resolved)
	di, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %s: directory %s: %w", ErrUnsafe, resolved, dir, err)
	}
	if err := checkDir(resolved, dir, di); err != nil {
		return "", err
	}
	if pin != nil {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("%w: %s: hashing: %w", ErrUnsafe, resolved, err)
		}
		sum := h.Sum(nil)
		if len(pin) != len(sum) || subtle.ConstantTimeCompare(sum, pin) != 1 {
			return "", fmt.Errorf("%w: %s: file has sha256 %x, configuration pins %x", ErrPinMismatch, resolved, sum, pin)
		}
	}
	return resolved, nil
}

// trustedOwner reports whether uid may own a plugin file: root or the user
// the listener runs as. A file owned by anyone else can be rewritten by them.
func trustedOwner(uid uint32) bool {
	return uid == 0 || int(uid) == os.Geteuid()
}

func checkFile(path string, fi fs.FileInfo) error {
	mode := fi.Mode()
	if !mode.IsRegular() {
		return fmt.Errorf("%w: %s: not a regular file (mode %s)", ErrUnsafe, path, mode)
	}
	if mode.Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s: not executable (mode %s)", ErrUnsafe, path, mode.Perm())
	}
	if mode.Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s: writable by group or others (mode %s); run chmod go-w", ErrUnsafe, path, mode.Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && !trustedOwner(st.Uid) {
		return fmt.Errorf("%w: %s: owned by uid %d, want root or uid %d", ErrUnsafe, path, st.Uid, os.Geteuid())
	}
	return nil
}

func checkDir(file, dir string, di fs.FileInfo) error {
	mode := di.Mode()
	if mode.Perm()&0o022 != 0 && mode&fs.ModeSticky == 0 {
		return fmt.Errorf("%w: %s: directory %s is writable by group or others (mode %s), so the file could be replaced", ErrUnsafe, file, dir, mode.Perm())
	}
	if st, ok := di.Sys().(*syscall.Stat_t); ok && !trustedOwner(st.Uid) {
		return fmt.Errorf("%w: %s: directory %s owned by uid %d, want root or uid %d", ErrUnsafe, file, dir, st.Uid, os.Geteuid())
	}
	return nil
}

// Entry is a candidate plugin file found in a plugins directory.
type Entry struct {
	// Kind is the output kind the file implements (its name without Prefix).
	Kind string
	// Path is the file's path in the directory (not resolved).
	Path string
}

// List returns the files in dir whose names start with Prefix and end in a
// valid kind, sorted by kind. It does not check them: call Verify before
// running one. A missing directory is not an error (no plugins installed).
func List(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("plugins directory %s: %w", dir, err)
	}
	var out []Entry
	for _, de := range des {
		kind, ok := strings.CutPrefix(de.Name(), Prefix)
		if !ok || ValidKind(kind) != nil {
			continue
		}
		out = append(out, Entry{Kind: kind, Path: filepath.Join(dir, de.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, nil
}
