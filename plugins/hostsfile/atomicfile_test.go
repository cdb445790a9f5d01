package hostsfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func inode(t *testing.T, path string) (uint64, int64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	return st.Ino, info.ModTime().UnixNano()
}

func TestWriteIfChangedNewFileMode(t *testing.T) {
	// A restrictive umask must not leak into the file's mode.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "hosts")
	wrote, err := writeIfChanged(path, []byte("1.2.3.4 a\n"))
	if err != nil || !wrote {
		t.Fatalf("writeIfChanged = %v, %v; want true, nil", wrote, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("new file mode = %v, want 0644", info.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".hosts.rgap-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestWriteIfChangedKeepsMode(t *testing.T) {
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o664, 0o444} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hosts")
			if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if _, err := writeIfChanged(path, []byte("new\n")); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != mode {
				t.Errorf("mode after rewrite = %v, want %v", info.Mode().Perm(), mode)
			}
			if got, _ := os.ReadFile(path); string(got) != "new\n" {
				t.Errorf("content = %q, want %q", got, "new\n")
			}
		})
	}
}

func TestWriteIfChangedSkipsIdentical(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	content := []byte("10.0.0.1 worker\n")
	// The file already holds the right content (e.g. from a previous run).
	if err := os.WriteFile(path, content, 0o644); err != nil { //nolint:gosec // a hosts file, readable by all like /etc/hosts
		t.Fatal(err)
	}
	ino, mtime := inode(t, path)
	for range 3 {
		wrote, err := writeIfChanged(path, content)
		if err != nil || wrote {
			t.Fatalf("writeIfChanged of identical content = %v, %v; want false, nil", wrote, err)
		}
	}
	if ino2, mtime2 := inode(t, path); ino2 != ino || mtime2 != mtime {
		t.Errorf("identical content rewritten: inode %d->%d, mtime %d->%d", ino, ino2, mtime, mtime2)
	}
	// Same size, different bytes: rewritten.
	wrote, err := writeIfChanged(path, []byte("10.0.0.2 worker\n"))
	if err != nil || !wrote {
		t.Fatalf("writeIfChanged of changed content = %v, %v; want true, nil", wrote, err)
	}
}

func TestWriteIfChangedFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real-hosts")
	link := filepath.Join(dir, "hosts")
	if err := os.WriteFile(real, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real-hosts", link); err != nil {
		t.Fatal(err)
	}
	if _, err := writeIfChanged(link, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("symlink replaced by a file (lstat: %v, %v)", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(real); string(got) != "new\n" {
		t.Errorf("link target content = %q, want %q", got, "new\n")
	}
}

func TestWriteIfChangedRefusesDirectory(t *testing.T) {
	path := t.TempDir()
	_, err := writeIfChanged(path, []byte("x\n"))
	if !errors.Is(err, ErrNotRegular) {
		t.Fatalf("error = %v, want ErrNotRegular", err)
	}
}

func TestWriteIfChangedMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "hosts")
	_, err := writeIfChanged(path, []byte("x\n"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want one wrapping fs.ErrNotExist", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Errorf("error %q does not name the file %s", err, path)
	}
}

// TestWriteAtomic rewrites a file many times while readers read it in a
// loop: every read must return one of the complete contents.
func TestWriteAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	a := bytes.Repeat([]byte("10.0.0.1 worker-a\n"), 2000)
	b := bytes.Repeat([]byte("2001:db8::1 worker-b\n"), 1500)
	if _, err := writeIfChanged(path, a); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				got, err := os.ReadFile(path)
				reads.Add(1)
				if err != nil || !bytes.Equal(got, a) && !bytes.Equal(got, b) {
					if bad.Add(1) == 1 {
						t.Errorf("reader saw a partial file: %d bytes, err %v", len(got), err)
					}
				}
			}
		})
	}
	for i := range 300 {
		content := a
		if i%2 == 0 {
			content = b
		}
		if wrote, err := writeIfChanged(path, content); err != nil || !wrote {
			t.Fatalf("write %d = %v, %v", i, wrote, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("readers never ran")
	}
}
