package hostsfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/background"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// startRun runs the output against g until the test ends.
func startRun(t *testing.T, specYAML string, g *sdktest.FakeGroups) *sdktest.LogSink {
	t.Helper()
	s, err := parseSpec(t, specYAML)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	sink := sdktest.NewLogSink(t, hclog.Trace)
	background.Start(t, "run", 5*time.Second, func(ctx context.Context) error {
		return (&output{settings: s}).run(ctx, g, sink.Logger())
	})
	return sink
}

// startWeb runs the output writing filename every interval, with group 1
// (ready, member 10.0.0.1) mapped to the hostname web, and extra keys.
func startWeb(t *testing.T, interval, filename, extra string) (*sdktest.FakeGroups, *sdktest.LogSink) {
	t.Helper()
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	return g, startRun(t, "interval: "+interval+"\nfilename: "+filename+"\nmappings: [{group: 1, hostname: web}]\n"+extra, g)
}

func fileIs(path, want string) func() bool {
	return func() bool {
		got, err := os.ReadFile(path)
		return err == nil && string(got) == want
	}
}

func TestRunWritesAfterChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(7, true, "10.0.0.1")
	// An interval of an hour: only the change notification can cause the
	// second write within the test.
	startRun(t, "interval: 1h\nfilename: "+path+"\nmappings: [{group: 7, hostname: web, fallback_addresses: [192.0.2.1]}]\n", g)
	sdktest.Eventually(t, "initial file", fileIs(path, "10.0.0.1 web\n"))
	g.SetAddrs(7, true, "10.0.0.2", "10.0.0.1")
	sdktest.Eventually(t, "file after join", fileIs(path, "10.0.0.1 web\n10.0.0.2 web\n"))
	g.SetAddrs(7, true)
	sdktest.Eventually(t, "fallback after everyone left", fileIs(path, "192.0.2.1 web\n"))
}

func TestRunWaitsForEveryGroupReady(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	g.SetAddrs(2, false)
	sink := startRun(t, "interval: 5ms\nfilename: "+path+`
mappings:
  - {group: 1, hostname: a}
  - {group: 2, hostname: b, fallback_addresses: [192.0.2.1]}
`, g)
	sdktest.Eventually(t, "waiting log", func() bool {
		return len(sink.Find(hclog.Info, "waiting for group to become ready before writing")) == 1
	})
	// Several intervals pass; the file must not appear.
	time.Sleep(50 * time.Millisecond)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file written while group 2 was not ready (stat error %v)", err)
	}
	if e := sink.Find(hclog.Info, "waiting for group to become ready before writing"); len(e) != 1 || e[0].Arg("group") != "2" {
		t.Errorf("waiting log entries = %v, want one naming group 2", e)
	}
	g.SetAddrs(2, true)
	sdktest.Eventually(t, "file after ready", fileIs(path, "10.0.0.1 a\n192.0.2.1 b\n"))
}

func TestRunKeepsExistingIdenticalFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	want := "# head\n10.0.0.1 web\n"
	if err := os.WriteFile(path, []byte(want), 0o640); err != nil { //nolint:gosec // a hosts file, readable by its group as an operator may choose
		t.Fatal(err)
	}
	ino, mtime := inode(t, path)
	g, sink := startWeb(t, "5ms", path, "prepend_lines: ['# head']\n")
	time.Sleep(60 * time.Millisecond) // a dozen intervals
	g.SetAddrs(1, true, "10.0.0.1")   // a change notification, same content
	time.Sleep(20 * time.Millisecond)
	if ino2, mtime2 := inode(t, path); ino2 != ino || mtime2 != mtime {
		t.Errorf("identical file rewritten: inode %d->%d, mtime %d->%d", ino, ino2, mtime, mtime2)
	}
	if n := len(sink.Find(hclog.Info, "hosts file written")); n != 0 {
		t.Errorf("%d writes logged, want 0", n)
	}
}

func TestRunRestoresEditedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	startWeb(t, "5ms", path, "")
	sdktest.Eventually(t, "initial file", fileIs(path, "10.0.0.1 web\n"))
	if err := os.WriteFile(path, []byte("edited by hand\n"), 0o644); err != nil { //nolint:gosec // a hosts file, readable by all like /etc/hosts
		t.Fatal(err)
	}
	sdktest.Eventually(t, "file restored by the periodic check", fileIs(path, "10.0.0.1 web\n"))
}

func TestRunUnwritableThenFixed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	path := filepath.Join(dir, "hosts")
	_, sink := startWeb(t, "5ms", path, "")
	// The error is logged at every interval, naming the file.
	sdktest.Eventually(t, "three error logs", func() bool {
		return len(sink.Find(hclog.Error, "cannot write hosts file, will retry")) >= 3
	})
	for _, e := range sink.Find(hclog.Error, "cannot write hosts file, will retry") {
		if e.Arg("file") != path || !strings.Contains(e.Arg("error"), "no such file or directory") {
			t.Fatalf("error log = %v, want file %s and the cause", e, path)
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil { //nolint:gosec // the directory of a hosts file, like /etc
		t.Fatal(err)
	}
	sdktest.Eventually(t, "file written once the directory exists", fileIs(path, "10.0.0.1 web\n"))
}

func TestRunRelativeFilename(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	_, sink := startWeb(t, "1h", "hosts", "")
	sdktest.Eventually(t, "file in working directory", fileIs(filepath.Join(dir, "hosts"), "10.0.0.1 web\n"))
	// The line is logged just after the rename that makes the file appear.
	sdktest.Eventually(t, "write logged", func() bool { return len(sink.Find(hclog.Info, "hosts file written")) > 0 })
	if e := sink.Find(hclog.Info, "hosts file written"); len(e) != 1 || e[0].Arg("file") != filepath.Join(dir, "hosts") {
		t.Errorf("write log = %v, want the absolute file name", e)
	}
}
