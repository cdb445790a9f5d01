package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReplace(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	tests := []struct {
		name     string
		existing string // "" means no file yet
		mode     fs.FileMode
	}{
		{"new file gets the mode despite the umask", "", 0o644},
		{"existing file is replaced", "old content that is longer\n", 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state")
			if tt.existing != "" {
				if err := os.WriteFile(path, []byte(tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := Replace(path, []byte("new\n"), tt.mode, nil); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "new\n" {
				t.Errorf("content = %q, %v; want %q", got, err, "new\n")
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != tt.mode {
				t.Errorf("mode = %v, want %v", info.Mode().Perm(), tt.mode)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".state.rgap-*")); len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

// TestReplaceFailureKeepsOld: a failed replacement (here: the destination
// is a non-empty directory, so the rename fails) names the path, leaves
// no temporary file and keeps what was there.
func TestReplaceFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := os.MkdirAll(filepath.Join(path, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := Replace(path, []byte("x"), 0o600, nil)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Replace = %v, want an error naming %s", err, path)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".state.rgap-*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	if _, err := os.Stat(filepath.Join(path, "sub")); err != nil {
		t.Errorf("the existing directory was touched: %v", err)
	}
}

func TestReplaceMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "state")
	err := Replace(path, []byte("x"), 0o600, nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Replace = %v, want ErrNotExist naming %s", err, path)
	}
}
