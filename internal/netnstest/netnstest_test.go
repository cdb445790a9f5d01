package netnstest

import (
	"net"
	"os"
	"testing"
)

// TestRun checks, in the child, that the setup script ran in a namespace of
// its own with the extra environment, and, in the parent, that none of it
// leaked into the machine's network.
func TestRun(t *testing.T) {
	const setup = `ip link set lo up
ip link add rgapnt0 type veth peer name rgapnt1`
	if !Run(t, setup, "NETNSTEST_PROBE=from the parent") {
		if _, err := net.InterfaceByName("rgapnt0"); err == nil {
			t.Fatal("the child's interface rgapnt0 exists outside its namespace")
		}
		return
	}
	if !InChild() {
		t.Fatal("Run returned true, but InChild is false")
	}
	if got := os.Getenv("NETNSTEST_PROBE"); got != "from the parent" {
		t.Errorf("NETNSTEST_PROBE = %q in the child, want the value passed to Run", got)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil || lo.Flags&net.FlagUp == 0 {
		t.Errorf("lo in the child: %+v, %v; want it up (setup ran)", lo, err)
	}
	if _, err := net.InterfaceByName("rgapnt0"); err != nil {
		t.Errorf("setup's veth rgapnt0 missing in the child: %v", err)
	}
}

// TestRunInSubtest: the child runs just the subtest (whose name the testing
// package rewrites to "a_b.c"); a sibling running there would fail it.
func TestRunInSubtest(t *testing.T) {
	t.Run("a b.c", func(t *testing.T) {
		if !Run(t, "ip link set lo up") {
			return
		}
		if !InChild() {
			t.Fatal("not in the child")
		}
	})
	t.Run("other", func(t *testing.T) {
		if InChild() {
			t.Fatal("a sibling subtest ran in the child")
		}
	})
}
