package pluginfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// symlinkToExec makes, in d, an executable "real" with mode perm and a
// symbolic link "link" to it, and returns the link.
func symlinkToExec(perm os.FileMode) func(t *testing.T, d string) string {
	return func(t *testing.T, d string) string {
		target := writeExec(t, d, "real", perm)
		link := filepath.Join(d, "link")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		return link
	}
}

func writeExec(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // bypass umask
		t.Fatal(err)
	}
	return p
}

func TestVerify(t *testing.T) {
	sum := sha256.Sum256([]byte("#!/bin/sh\nexit 0\n"))
	wrong := sha256.Sum256([]byte("something else"))
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string
		pin     []byte
		wantErr error
		wantMsg string
	}{
		{"executable 0755", func(t *testing.T, d string) string { return writeExec(t, d, "p", 0o755) }, nil, nil, ""},
		{"owner-only 0700", func(t *testing.T, d string) string { return writeExec(t, d, "p", 0o700) }, nil, nil, ""},
		{"pin matches", func(t *testing.T, d string) string { return writeExec(t, d, "p", 0o755) }, sum[:], nil, ""},
		{"pin mismatch", func(t *testing.T, d string) string { return writeExec(t, d, "p", 0o755) }, wrong[:], ErrPinMismatch, hex.EncodeToString(sum[:])},
		{"group-writable", func(t *testing.T, d string) string { return writeExec(t, d, "p", 0o775) }, nil, ErrUnsafe, "writable by group or others"},
		{"world-writable", func(t *testing.T, d string) string { return writeExec(t, d, "p", 0o757) }, nil, ErrUnsafe, "writable by group or others"},
		{"not executable", func(t *testing.T, d string) string { return writeExec(t, d, "p", 0o644) }, nil, ErrUnsafe, "not executable"},
		{"directory", func(t *testing.T, d string) string {
			p := filepath.Join(d, "sub")
			if err := os.Mkdir(p, 0o755); err != nil { //nolint:gosec // a directory, as a plugin path, must be refused whatever its mode
				t.Fatal(err)
			}
			return p
		}, nil, ErrUnsafe, "not a regular file"},
		{"fifo", func(t *testing.T, d string) string {
			p := filepath.Join(d, "fifo")
			if err := syscall.Mkfifo(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil, ErrUnsafe, "not a regular file"},
		{"missing", func(t *testing.T, d string) string { return filepath.Join(d, "nope") }, nil, ErrNotFound, "nope"},
		{"symlink to good file", symlinkToExec(0o755), nil, nil, ""},
		{"symlink to group-writable file", symlinkToExec(0o775), nil, ErrUnsafe, "real"},
		{"directory writable by others", func(t *testing.T, d string) string {
			sub := filepath.Join(d, "open")
			if err := os.Mkdir(sub, 0o755); err != nil { //nolint:gosec // a plugins directory as installed for real, opened up below
				t.Fatal(err)
			}
			p := writeExec(t, sub, "p", 0o755)
			if err := os.Chmod(sub, 0o777); err != nil { //nolint:gosec // world-writable on purpose: the plugin in it must be refused
				t.Fatal(err)
			}
			return p
		}, nil, ErrUnsafe, "could be replaced"},
		{"sticky directory writable by others", func(t *testing.T, d string) string {
			sub := filepath.Join(d, "tmp")
			if err := os.Mkdir(sub, 0o755); err != nil { //nolint:gosec // a plugins directory as installed for real, made a sticky /tmp below
				t.Fatal(err)
			}
			p := writeExec(t, sub, "p", 0o755)
			if err := os.Chmod(sub, 0o777|os.ModeSticky); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil, nil, ""},
		{"owned by another user", func(t *testing.T, d string) string {
			if os.Geteuid() != 0 {
				t.Skip("changing a file's owner needs root")
			}
			p := writeExec(t, d, "p", 0o755)
			if err := os.Chown(p, 12345, 12345); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil, ErrUnsafe, "owned by uid 12345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := tt.setup(t, dir)
			got, err := Verify(p, tt.pin)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify(%s) = %v, want nil", p, err)
				}
				want, _ := filepath.EvalSymlinks(p)
				if got != want {
					t.Errorf("resolved path = %q, want %q", got, want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify(%s) = %v, want %v", p, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParsePin(t *testing.T) {
	good := strings.Repeat("aB", 32)
	tests := []struct {
		in      string
		wantLen int
		wantErr bool
	}{
		{"", 0, false},
		{good, 32, false},
		{good[:63], 0, true},
		{good + "00", 0, true},
		{strings.Repeat("zz", 32), 0, true},
		{"sha256:" + good[:57], 0, true},
	}
	for _, tt := range tests {
		b, err := ParsePin(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParsePin(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, ErrBadPin) {
			t.Errorf("ParsePin(%q) error %v does not wrap ErrBadPin", tt.in, err)
		}
		if len(b) != tt.wantLen {
			t.Errorf("ParsePin(%q) = %d bytes, want %d", tt.in, len(b), tt.wantLen)
		}
	}
}

func TestValidKind(t *testing.T) {
	for _, ok := range []string{"dns", "hostsfile", "my-output", "x_2", "9p"} {
		if err := ValidKind(ok); err != nil {
			t.Errorf("ValidKind(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "../dns", "a/b", "DNS", "-x", "_x", "a b", "a.b", strings.Repeat("a", 65)} {
		if err := ValidKind(bad); !errors.Is(err, ErrBadKind) {
			t.Errorf("ValidKind(%q) = %v, want ErrBadKind", bad, err)
		}
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"rgap-plugin-zeta", "rgap-plugin-alpha", "README", "rgap-plugin-", "rgap-plugin-Bad.sh"} {
		writeExec(t, dir, n, 0o755)
	}
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{"alpha", filepath.Join(dir, "rgap-plugin-alpha")}, {"zeta", filepath.Join(dir, "rgap-plugin-zeta")}}
	if len(got) != len(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("List[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	missing, err := List(filepath.Join(dir, "absent"))
	if err != nil || missing != nil {
		t.Errorf("List(missing dir) = %v, %v; want nil, nil", missing, err)
	}
}
