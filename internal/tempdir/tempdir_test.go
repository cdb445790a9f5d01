package tempdir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestShortIsBelowTempDirAndRemoved(t *testing.T) {
	var dir string
	t.Run("inner", func(t *testing.T) {
		dir = Short(t, "rgtd")
		if filepath.Dir(dir) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(dir), "rgtd") {
			t.Errorf("Short = %s, want rgtd* directly below %s", dir, os.TempDir())
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s after the test ended: %v, want it removed", dir, err)
	}
}

func TestNamesSorted(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b", "a", "c"} {
		if err := os.Mkdir(filepath.Join(dir, n), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if got := Names(t, dir); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Names = %q, want [a b c]", got)
	}
	if got := Names(t, t.TempDir()); len(got) != 0 {
		t.Errorf("Names of an empty directory = %q", got)
	}
}
