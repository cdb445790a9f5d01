package golden

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.golden")
	if err := os.WriteFile(path, []byte("one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		got      string
		wantDiff string
		wantErr  error
	}{
		{"equal", path, "one\n", "", nil},
		{"different", path, "two\n", "output differs from " + path + "\n--- got:\ntwo\n--- want:\none\n", nil},
		{"missing file", path + ".missing", "one\n", "", os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff, err := compare(tt.path, "output", []byte(tt.got))
			if diff != tt.wantDiff || !errors.Is(err, tt.wantErr) {
				t.Errorf("compare = %q, %v; want %q, %v", diff, err, tt.wantDiff, tt.wantErr)
			}
		})
	}
}

func TestCheckUpdateWrites(t *testing.T) {
	*update = true
	defer func() { *update = false }()
	path := filepath.Join(t.TempDir(), "new", "b.golden")
	Check(t, path, "output", []byte("three\n"))
	if b, err := os.ReadFile(path); err != nil || string(b) != "three\n" {
		t.Errorf("golden file after -update: %q, %v; want %q", b, err, "three\n")
	}
	*update = false
	Check(t, path, "output", []byte("three\n")) // the written file now matches
}
