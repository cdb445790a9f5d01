package hostsfile

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// A filename that is a symbolic link whose target does not exist yet (as
// /etc/hosts -> /run/... right after boot) keeps the link: the target is
// created, in the target's directory, following every link of the chain.
func TestWriteIfChangedDanglingSymlink(t *testing.T) {
	tests := []struct {
		name   string
		links  map[string]string // link (relative to the test dir) -> its content
		dirs   []string          // directories to create
		target string            // the file that must be created
	}{
		{
			name:   "relative link",
			links:  map[string]string{"etc_hosts": "run/hosts"},
			dirs:   []string{"run"},
			target: "run/hosts",
		},
		{
			name:   "relative to the link's own directory",
			links:  map[string]string{"etc/hosts": "../run/rgap/hosts"},
			dirs:   []string{"etc", "run/rgap"},
			target: "run/rgap/hosts",
		},
		{
			name:   "chain of links",
			links:  map[string]string{"etc_hosts": "run/hosts", "run/hosts": "../var/hosts.real"},
			dirs:   []string{"run", "var"},
			target: "var/hosts.real",
		},
		{
			name:   "absolute link",
			links:  map[string]string{"etc_hosts": "ABS/run/hosts"},
			dirs:   []string{"run"},
			target: "run/hosts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range tt.dirs {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil { //nolint:gosec // the directories of a hosts file, like /etc
					t.Fatal(err)
				}
			}
			for link, dest := range tt.links {
				dest = strings.Replace(dest, "ABS", dir, 1)
				if err := os.Symlink(dest, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "etc_hosts")
			if _, ok := tt.links["etc/hosts"]; ok {
				path = filepath.Join(dir, "etc/hosts")
			}
			wrote, err := writeIfChanged(path, []byte("10.0.0.1 worker\n"))
			if err != nil || !wrote {
				t.Fatalf("writeIfChanged = %v, %v; want true, nil", wrote, err)
			}
			for link := range tt.links {
				if fi, err := os.Lstat(filepath.Join(dir, link)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
					t.Errorf("%s is no longer a symbolic link (lstat: %v)", link, err)
				}
			}
			target := filepath.Join(dir, tt.target)
			fi, err := os.Lstat(target)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != defaultMode {
				t.Fatalf("target %s: %v, %v; want a regular file with mode %v", tt.target, fi, err, defaultMode)
			}
			if got, _ := os.ReadFile(path); string(got) != "10.0.0.1 worker\n" {
				t.Errorf("reading through the link: %q", got)
			}
			// Written again with the same content: nothing to do.
			if wrote, err := writeIfChanged(path, []byte("10.0.0.1 worker\n")); err != nil || wrote {
				t.Errorf("second writeIfChanged = %v, %v; want false, nil", wrote, err)
			}
			// No temporary file is left anywhere.
			if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if strings.Contains(d.Name(), ".rgap-") {
					t.Errorf("temporary file left: %s", p)
				}
				return nil
			}); err != nil {
				t.Fatalf("looking for temporary files: %v", err)
			}
		})
	}
}

// A link to a target in a directory that does not exist names the link,
// the target and the cause; a link loop is refused.
func TestWriteIfChangedBrokenSymlinks(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "etc_hosts")
	if err := os.Symlink("nodir/hosts", link); err != nil {
		t.Fatal(err)
	}
	_, err := writeIfChanged(link, []byte("x\n"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), filepath.Join(dir, "nodir/hosts")) {
		t.Errorf("error = %v, want ErrNotExist naming %s and its target", err, link)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link replaced (lstat: %v)", err)
	}

	loop := filepath.Join(dir, "loop")
	if err := os.Symlink("loop", loop); err != nil {
		t.Fatal(err)
	}
	if _, err := writeIfChanged(loop, []byte("x\n")); !errors.Is(err, syscall.ELOOP) || !strings.Contains(err.Error(), loop) {
		t.Errorf("error = %v, want ELOOP naming %s", err, loop)
	}
}

// A directory where the file should be says so, also behind a link.
func TestWriteIfChangedDirectorySaysSo(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "hosts")
	if err := os.Symlink(".", link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, link} {
		_, err := writeIfChanged(path, []byte("x\n"))
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("writeIfChanged(%s) = %v, want ErrNotRegular saying \"is a directory\"", path, err)
		}
	}
}

// The report of issue 8: `filename: etc_hosts` with etc_hosts -> run/hosts
// and no run/hosts yet. The running output creates run/hosts and keeps the
// link, through the SDK exactly as the listener runs it.
func TestRunDanglingSymlinkFilename(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("run", 0o755); err != nil { //nolint:gosec // the directory of a hosts file, like /etc
		t.Fatal(err)
	}
	if err := os.Symlink("run/hosts", "etc_hosts"); err != nil {
		t.Fatal(err)
	}
	h := sdktest.Start(t, Plugin, "interval: 1h\nfilename: etc_hosts\nmappings: [{group: 1000, hostname: worker}]\n", sdk.GroupInfo{ID: 1000})
	h.Join(1000, netip.MustParseAddr("10.0.0.7"), far)
	h.Ready(1000)
	h.Sync()
	sdktest.Eventually(t, "run/hosts written", fileIs(filepath.Join(dir, "run", "hosts"), "10.0.0.7 worker\n"))
	if dest, err := os.Readlink("etc_hosts"); err != nil || dest != "run/hosts" {
		t.Errorf("etc_hosts: readlink = %q, %v; want the link to run/hosts kept", dest, err)
	}
	h.Stop()
}
