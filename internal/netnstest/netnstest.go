// Package netnstest runs a test inside a private network namespace, for
// tests that join multicast groups, add interfaces or routes, or bind to
// an interface: things that must never touch the machine's real network.
//
// Run re-executes the test binary, limited to the calling test, under
// `unshare -n`. The new namespace starts with nothing but a downed lo, so a
// shell script of the caller's sets it up first (lo up, `multicast on`,
// routes, veth pairs); each package thus keeps its own topology next to the
// tests that rely on it, while the re-exec, the skip rules and the check of
// the child's result live here once. The parent passes or fails with the
// child, whose output it logs.
//
// Tests that stay outside a namespace may use loopback only; Loopback
// names its interface for them.
//
// Creating a namespace needs root. The tests are skipped (saying why) when
// not root or when unshare (util-linux) is missing, and nowhere else: CI
// runs them as root, so they really run there.
//
// Use:
//
//	func TestMulticastNetns(t *testing.T) {
//		if !netnstest.Run(t, "ip link set lo up\nip link set lo multicast on") {
//			return // the parent: the test ran in the child
//		}
//		// the test body, inside the namespace
//	}
package netnstest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// childEnv marks a test process that runs inside the namespace.
const childEnv = "RGAP_NETNSTEST_CHILD"

// InChild reports whether this process is a test binary that Run started
// inside a network namespace. A TestMain that prepares things once per
// process (such as building a binary) can skip that work in the child and
// take the result from the environment Run was given instead.
func InChild() bool { return os.Getenv(childEnv) == "1" }

// Run runs the calling test inside a new network namespace and reports
// whether the caller is that child, which then runs the test body; the
// parent returns false once the child passed, and fails the test with the
// child's output otherwise.
//
// setup is a sh script run in the namespace before the test binary (with
// set -e and set -x, so a failing command stops it and is named in the
// output). env holds extra KEY=value pairs for the child's environment, for
// what the child cannot compute itself.
//
// Call Run first thing in a test. It works in a subtest too: the child
// runs the enclosing tests down to it, skipping their other subtests.
func Run(t *testing.T, setup string, env ...string) (child bool) {
	t.Helper()
	if InChild() {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a private network namespace (unshare -n)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) to create a private network namespace")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("netnstest: finding the test binary: %v", err)
	}
	script := "set -ex\n" + setup + "\nexec \"$0\" \"$@\""
	cmd := exec.Command("unshare", "-n", "sh", "-c", script, //nolint:gosec // the calling test's own setup script, re-running its own test binary
		exe, "-test.run", runPattern(t.Name()), "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("netnstest: %s inside a private network namespace did not pass (%v):\n%s", t.Name(), err, out)
	}
	t.Logf("ran inside a private network namespace:\n%s", out)
	return false
}

// runPattern is a -test.run pattern matching exactly the test named name
// (subtests included, level by level).
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
