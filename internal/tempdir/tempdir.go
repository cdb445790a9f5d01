// Package tempdir gives tests a directory with a short path, and lists what
// a directory holds.
//
// t.TempDir puts the test's name into the path, and a Unix socket path has
// at most 107 bytes: tests whose processes make sockets below a directory
// (the plugins' runtime directories, the sd_notify socket) need one of their
// own directly below the system's temporary directory.
package tempdir

import (
	"os"
	"testing"
)

// Short returns a new directory directly below os.TempDir whose name is
// prefix plus a random suffix. It is removed with everything in it when the
// test ends.
func Short(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // a leftover temporary directory does not change a test's outcome
	return dir
}

// Names lists the names in dir, sorted; the test fails if dir cannot be read.
func Names(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
