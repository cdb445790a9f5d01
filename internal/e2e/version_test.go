package e2e

import (
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestVersionNamesCommit: a binary built from a checkout says which commit
// it is, with "+dirty" when the checkout had changes, and the Go version;
// it never prints a bare "(devel)".
func TestVersionNamesCommit(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout (or no git): %v", err)
	}
	rev := strings.TrimSpace(string(head))[:12]
	out, err := exec.Command(rgapBin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("rgap version: %v\n%s", err, out)
	}
	got := strings.TrimSpace(string(out))
	want := regexp.MustCompile(`^rgap devel \(` + rev + `(\+dirty)?, \d{4}-\d\d-\d\dT[0-9:]+Z\) ` + regexp.QuoteMeta(runtime.Version()) + `$`)
	if !want.MatchString(got) {
		t.Errorf("rgap version = %q, want it to match %s", got, want)
	}
}
