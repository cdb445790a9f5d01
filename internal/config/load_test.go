package config_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/config"
)

// TestLoadRefusesNonRegularFiles checks that Load names the file and what
// it is instead of reading it, and above all that it never blocks: a named
// pipe with no writer used to hang the listener at start for ever.
func TestLoadRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock.yaml")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
	}{
		{fifo, "is a named pipe"},
		{link, "is a named pipe"},
		{sock, "is a socket"},
		{sub, "is a directory"},
		{"/dev/null", "is a character device"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := config.Load(tt.path)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				// Unblock the reader so the test binary can finish.
				if w, oerr := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); oerr == nil {
					_ = w.Close() // the test fails anyway; this only lets Load return
				}
				t.Fatalf("Load(%s) still blocked after 5s", tt.path)
			}
			if err == nil {
				t.Fatalf("Load(%s) succeeded", tt.path)
			}
			if !errors.Is(err, config.ErrNotRegularFile) {
				t.Errorf("errors.Is(err, ErrNotRegularFile) = false for %v", err)
			}
			want := tt.path + ": " + tt.want + ", not a regular file"
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

// TestLoadFollowsSymlinkToRegularFile keeps the usual deployment working:
// /etc/rgap.yaml may be a link to the real file.
func TestLoadFollowsSymlinkToRegularFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.yaml")
	if err := os.WriteFile(real, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "rgap.yaml")
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(link)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != link || !strings.HasSuffix(cfg.Path, "rgap.yaml") {
		t.Errorf("Path = %q, want %q", cfg.Path, link)
	}
}
